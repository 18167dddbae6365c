/**
 * VMAs (struct vm_area_struct) as records in a shared-memory Arena, so that page-fault workers can find and
 * read them through the maple tree, whose values are these record indices.
 *
 * Layout: Float64 words for vm_start, vm_end (bytes) and vm_pgoff (pages) — exact below 2^53; Int32 words
 * for vm_flags (every VM_* bit of x86-64 fits in 32 bits), the file identity, the anon_vma identity, the name
 * kind, and `detached` (1 once the VMA has left the tree: readers that raced with its removal must retry).
 * After them come the words the locking design declares (DesignDefinition.vmaWords: a per-VMA refcount, an
 * rwsem, vm_lock_seq, a seqcount …), each with the value a fresh VMA starts with. The mm lays them out and
 * initialises them; only the design gives them meaning (wordOffset() finds one).
 *
 * Fields are written only by the holder of the mm's write lock, and (following the kernel's 6.x approach)
 * only after the writer's vmaStartWrite() hook ran for that VMA; a VMA that leaves the tree is detached and
 * handed to the retire hook rather than reused in place.
 */
import { Arena } from '../shm/arena.js';
import { CACHE_LINE, defineLayout, type RecordLayout } from '../shm/layout.js';

/** The mm's own words of a VMA; a design's words follow them. */
const VMA_F64 = ['start', 'end', 'pgoff'] as const;
const VMA_I32 = ['flags', 'file', 'anonVma', 'nameKind', 'nameId', 'detached'] as const;
type VmaF64 = (typeof VMA_F64)[number];

/** A design's per-VMA (or per-mm) Int32 words: name → the value a fresh record starts with. */
export type DesignWords = Readonly<Record<string, number>>;

const WORD_NAME = /^[A-Za-z_$][\w$]*$/;

/** Checks a design's word declarations (names that are identifiers, not the mm's own, integer values). */
export function checkDesignWords(words: DesignWords, own: readonly string[], what: string): void {
  for (const [name, init] of Object.entries(words)) {
    if (!WORD_NAME.test(name)) throw new Error(`${what} '${name}': not an identifier`);
    if (own.includes(name)) throw new Error(`${what} '${name}': the mm's own word has that name`);
    if (!Number.isInteger(init) || init < -(2 ** 31) || init >= 2 ** 31) throw new Error(`${what} '${name}': initial value ${init} is not an Int32`);
  }
}

/**
 * The record layout of a VMA under a design that declares `words`: one per cache line at least, as the
 * kernel's vm_area_struct cache is SLAB_HWCACHE_ALIGN (mm/vma_init.c) — a fault that takes its VMA's lock
 * or refcount does not take another thread's VMA's line with it.
 */
export function vmaLayout(words: DesignWords = {}): RecordLayout<VmaF64, string> {
  checkDesignWords(words, VMA_I32, 'VMA word');
  return defineLayout({ f64: VMA_F64, i32: [...VMA_I32, ...Object.keys(words)], align: CACHE_LINE });
}
/** What /proc/PID/maps shows after the header when the VMA has no file (show_map_vma). */
export const NAME_NONE = 0; // anonymous: [heap] / [stack] are decided at print time, as the kernel does
export const NAME_SPECIAL = 1; // a special mapping's own name ([vdso], [vvar], …): nameId indexes the mm's names
export const NAME_ANON = 2; // an anon_vma_name ([anon:…]): nameId indexes the mm's names

import { PAGE_SIZE } from './frames.js';

// The mm's own words sit at the same offsets whatever words a design adds after them.
const OWN = defineLayout({ f64: VMA_F64, i32: VMA_I32 });
const F_START = OWN.f64.start, F_END = OWN.f64.end, F_PGOFF = OWN.f64.pgoff;
const I_FLAGS = OWN.i32.flags, I_FILE = OWN.i32.file, I_ANON = OWN.i32.anonVma;
const I_NAME_KIND = OWN.i32.nameKind, I_NAME_ID = OWN.i32.nameId, I_DETACHED = OWN.i32.detached;

/** Typed accessors over one VMA arena; every method takes a record index. */
export class VmaTable {
  readonly arena: Arena;
  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly f64Stride: number;
  readonly i32Stride: number;
  /** The design's words and their initial values, in layout order (what attach() needs to lay them out again). */
  readonly words: DesignWords;
  private readonly wordOffsets: Int32Array;
  private readonly wordInits: Int32Array;
  private readonly wordNames: string[];

  /** `typesafeByRcu`: the design's words that survive free and reuse (a SLAB_TYPESAFE_BY_RCU cache, see Arena). */
  constructor(capacity: number, arena?: Arena, debug = false, words: DesignWords = {}, typesafeByRcu?: readonly string[]) {
    const layout = vmaLayout(words);
    const typesafeWords = typesafeByRcu?.map((n) => {
      if (layout.i32[n] === undefined) throw new Error(`typesafeByRcu: '${n}' is not one of the design's vmaWords`);
      return layout.i32[n]!;
    });
    this.arena = arena ?? Arena.create({ name: 'vm_area_struct', capacity, layout, debug, ...(typesafeWords ? { typesafeWords } : {}) });
    if (this.arena.stride !== layout.stride) throw new Error(`VMA arena: records of ${this.arena.stride} bytes, the layout needs ${layout.stride}`);
    this.f64 = this.arena.f64;
    this.i32 = this.arena.i32;
    this.f64Stride = layout.f64Stride;
    this.i32Stride = layout.i32Stride;
    this.words = { ...words };
    this.wordNames = Object.keys(words);
    this.wordOffsets = Int32Array.from(this.wordNames, (n) => layout.i32[n]!);
    this.wordInits = Int32Array.from(this.wordNames, (n) => words[n]!);
  }

  start(v: number): number { return this.f64[v * this.f64Stride + F_START]!; }
  end(v: number): number { return this.f64[v * this.f64Stride + F_END]!; }
  pgoff(v: number): number { return this.f64[v * this.f64Stride + F_PGOFF]!; }
  flags(v: number): number { return this.i32[v * this.i32Stride + I_FLAGS]!; }
  file(v: number): number { return this.i32[v * this.i32Stride + I_FILE]!; }
  anon(v: number): number { return Atomics.load(this.i32, v * this.i32Stride + I_ANON); }
  nameKind(v: number): number { return this.i32[v * this.i32Stride + I_NAME_KIND]!; }
  nameId(v: number): number { return this.i32[v * this.i32Stride + I_NAME_ID]!; }
  pages(v: number): number { return (this.end(v) - this.start(v)) / PAGE_SIZE; }

  setRange(v: number, start: number, end: number, pgoff: number): void {
    const b = v * this.f64Stride;
    this.f64[b + F_START] = start;
    this.f64[b + F_END] = end;
    this.f64[b + F_PGOFF] = pgoff;
  }
  setFlags(v: number, flags: number): void { this.i32[v * this.i32Stride + I_FLAGS] = flags; }
  setAnon(v: number, anon: number): void { this.i32[v * this.i32Stride + I_ANON] = anon; }
  /** Installs an anon_vma unless another thread's fault installed one first; returns the one in place. */
  setAnonIfNone(v: number, anon: number): number {
    const was = Atomics.compareExchange(this.i32, v * this.i32Stride + I_ANON, 0, anon);
    return was !== 0 ? was : anon;
  }

  /** A fresh record (vm_area_alloc), the design's words at their initial values; -1 when the arena is full. */
  alloc(start: number, end: number, pgoff: number, flags: number, file: number, anon: number, nameKind = 0, nameId = 0): number {
    const v = this.arena.alloc();
    if (v < 0) return -1;
    this.setRange(v, start, end, pgoff);
    const b = v * this.i32Stride;
    const i = this.i32;
    i[b + I_FLAGS] = flags;
    i[b + I_FILE] = file;
    i[b + I_ANON] = anon;
    i[b + I_NAME_KIND] = nameKind;
    i[b + I_NAME_ID] = nameId;
    i[b + I_DETACHED] = 0;
    for (let k = 0; k < this.wordOffsets.length; k++) i[b + this.wordOffsets[k]!] = this.wordInits[k]!;
    return v;
  }

  /** vm_area_dup(): a copy of every field but the design's words, which start afresh. */
  dup(v: number): number {
    return this.alloc(this.start(v), this.end(v), this.pgoff(v), this.flags(v), this.file(v), this.anon(v), this.nameKind(v), this.nameId(v));
  }

  markDetached(v: number): void { Atomics.store(this.i32, v * this.i32Stride + I_DETACHED, 1); }
  isDetached(v: number): boolean { return Atomics.load(this.i32, v * this.i32Stride + I_DETACHED) !== 0; }

  /**
   * Where the design's word `name` lives in each record: pass it to word(). A design resolves its words
   * once, in its constructor; asking for one it did not declare is an error naming the word.
   */
  wordOffset(name: string): number {
    const k = this.wordNames.indexOf(name);
    if (k < 0) throw new Error(`VMA word '${name}' is not declared by the design (its vmaWords: ${this.wordNames.join(', ') || 'none'})`);
    return this.wordOffsets[k]!;
  }

  /** The index in i32 of VMA v's design word at `offset` (from wordOffset), for Atomics and sync/. */
  word(v: number, offset: number): number { return v * this.i32Stride + offset; }
}
