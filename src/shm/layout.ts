/**
 * Fixed-size record layouts over shared memory.
 *
 * A record is a run of bytes in an arena, seen through two typed views: Float64 words first (addresses,
 * pivots — exact up to 2^53 but unusable with Atomics), then Int32 words (locks, counts, sequence numbers,
 * indices — the fields Atomics work on). Records are 8-byte aligned so both views line up.
 *
 *   const VMA = defineLayout({ f64: ['start', 'end'], i32: ['refcount', 'flags'] });
 *   arena.f64[VMA.f64Base(rec) + VMA.f64.start]
 *   Atomics.add(arena.i32, VMA.i32Base(rec) + VMA.i32.refcount, 1)
 *
 * Arrays are allowed: give a field name as `name[count]` to reserve `count` consecutive words.
 */
export interface RecordLayout<F extends string, I extends string> {
  /** Byte size of one record (a multiple of 8). */
  readonly stride: number;
  /** Float64 words per record, and the offset of each named f64 field. */
  readonly f64Stride: number;
  readonly f64: Readonly<Record<F, number>>;
  /** Int32 words per record, and the offset of each named i32 field (already past the f64 part). */
  readonly i32Stride: number;
  readonly i32: Readonly<Record<I, number>>;
  /** Index in a Float64Array of record `rec`'s first word. */
  f64Base(rec: number): number;
  /** Index in an Int32Array of record `rec`'s first word. */
  i32Base(rec: number): number;
}

/** Bytes in a cache line (x86-64's). */
export const CACHE_LINE = 64;

type FieldName<S extends string> = S extends `${infer N}[${string}]` ? N : S;

function place(fields: readonly string[], start: number): { offsets: Record<string, number>; end: number } {
  const offsets: Record<string, number> = {};
  let at = start;
  for (const spec of fields) {
    const m = /^([A-Za-z_$][\w$]*)(?:\[(\d+)\])?$/.exec(spec);
    if (!m) throw new Error(`bad record field '${spec}'`);
    const name = m[1]!;
    if (name in offsets) throw new Error(`duplicate record field '${name}'`);
    offsets[name] = at;
    at += m[2] === undefined ? 1 : Number(m[2]);
  }
  return { offsets, end: at };
}

export function defineLayout<const F extends string = never, const I extends string = never>(spec: {
  f64?: readonly F[];
  i32?: readonly I[];
  /**
   * Bytes each record's start is aligned to (a power of two ≥ 8): CACHE_LINE for records the kernel keeps
   * one per cache line, so that two of them never share one (a cache of SLAB_HWCACHE_ALIGN, struct page).
   */
  align?: number;
}): RecordLayout<FieldName<F>, FieldName<I>> {
  const f = place(spec.f64 ?? [], 0);
  const i = place(spec.i32 ?? [], f.end * 2);
  let i32Stride = i.end;
  if (i32Stride % 2) i32Stride += 1; // keep every record 8-byte aligned
  if (i32Stride === 0) i32Stride = 2;
  const align = (spec.align ?? 8) / 4;
  if (!Number.isInteger(align) || align < 2 || (align & (align - 1)) !== 0) throw new Error(`record alignment ${spec.align}: a power of two ≥ 8 bytes`);
  i32Stride = Math.ceil(i32Stride / align) * align;
  const f64Stride = i32Stride / 2;
  return {
    stride: i32Stride * 4,
    f64Stride,
    f64: f.offsets as Record<FieldName<F>, number>,
    i32Stride,
    i32: i.offsets as Record<FieldName<I>, number>,
    f64Base: (rec: number) => rec * f64Stride,
    i32Base: (rec: number) => rec * i32Stride,
  };
}
