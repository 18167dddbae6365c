/**
 * VMAs (struct vm_area_struct) as records in a shared-memory Arena, so that page-fault workers can find and
 * read them through the maple tree, whose values are these record indices.
 *
 * Layout: Float64 words for vm_start, vm_end (bytes) and vm_pgoff (pages) — exact below 2^53; Int32 words
 * for vm_flags (every VM_* bit of x86-64 fits in 32 bits), the file identity, the anon_vma identity, the name
 * kind, and the words the locking designs of a later issue need in every VMA (reserved now so that the
 * layout does not change under them):
 *   refcount   — the phase-2 per-VMA refcount (refcount_inc_not_zero under RCU)
 *   vmLock     — an rwsem word (per-VMA lock)
 *   vmLockSeq  — vm_lock_seq of Linux 6.4: equal to mm_lock_seq while the VMA is write-locked
 *   seq        — a seqcount for speculative faults (vm_sequence of the SPF patches)
 *   detached   — 1 once the VMA has left the tree (readers that raced with its removal must retry)
 *
 * Fields are written only by the holder of the mm's write lock, and (following the kernel's 6.x approach)
 * only after the writer's vmaStartWrite() hook ran for that VMA; a VMA that leaves the tree is detached and
 * handed to the retire hook rather than reused in place.
 */
import { Arena } from '../shm/arena.js';
import { defineLayout } from '../shm/layout.js';

export const VMA = defineLayout({
  f64: ['start', 'end', 'pgoff'],
  i32: ['flags', 'file', 'anonVma', 'nameKind', 'nameId', 'refcount', 'vmLock', 'vmLockSeq', 'seq', 'detached'],
});

/** What /proc/PID/maps shows after the header when the VMA has no file (show_map_vma). */
export const NAME_NONE = 0; // anonymous: [heap] / [stack] are decided at print time, as the kernel does
export const NAME_SPECIAL = 1; // a special mapping's own name ([vdso], [vvar], …): nameId indexes the mm's names
export const NAME_ANON = 2; // an anon_vma_name ([anon:…]): nameId indexes the mm's names

import { PAGE_SIZE } from './frames.js';

/** Typed accessors over one VMA arena; every method takes a record index. */
export class VmaTable {
  readonly arena: Arena;
  readonly f64: Float64Array;
  readonly i32: Int32Array;

  constructor(capacity: number, arena?: Arena, debug = false) {
    this.arena = arena ?? Arena.create({ name: 'vm_area_struct', capacity, layout: VMA, debug });
    this.f64 = this.arena.f64;
    this.i32 = this.arena.i32;
  }

  start(v: number): number { return this.f64[v * VMA.f64Stride + VMA.f64.start]!; }
  end(v: number): number { return this.f64[v * VMA.f64Stride + VMA.f64.end]!; }
  pgoff(v: number): number { return this.f64[v * VMA.f64Stride + VMA.f64.pgoff]!; }
  flags(v: number): number { return this.i32[v * VMA.i32Stride + VMA.i32.flags]!; }
  file(v: number): number { return this.i32[v * VMA.i32Stride + VMA.i32.file]!; }
  anon(v: number): number { return Atomics.load(this.i32, v * VMA.i32Stride + VMA.i32.anonVma); }
  nameKind(v: number): number { return this.i32[v * VMA.i32Stride + VMA.i32.nameKind]!; }
  nameId(v: number): number { return this.i32[v * VMA.i32Stride + VMA.i32.nameId]!; }
  pages(v: number): number { return (this.end(v) - this.start(v)) / PAGE_SIZE; }

  setRange(v: number, start: number, end: number, pgoff: number): void {
    const b = v * VMA.f64Stride;
    this.f64[b + VMA.f64.start] = start;
    this.f64[b + VMA.f64.end] = end;
    this.f64[b + VMA.f64.pgoff] = pgoff;
  }
  setFlags(v: number, flags: number): void { this.i32[v * VMA.i32Stride + VMA.i32.flags] = flags; }
  setAnon(v: number, anon: number): void { this.i32[v * VMA.i32Stride + VMA.i32.anonVma] = anon; }

  /** A fresh record (vm_area_alloc); -1 when the arena is full. */
  alloc(start: number, end: number, pgoff: number, flags: number, file: number, anon: number, nameKind = 0, nameId = 0): number {
    const v = this.arena.alloc();
    if (v < 0) return -1;
    this.setRange(v, start, end, pgoff);
    const b = v * VMA.i32Stride;
    const i = this.i32;
    i[b + VMA.i32.flags] = flags;
    i[b + VMA.i32.file] = file;
    i[b + VMA.i32.anonVma] = anon;
    i[b + VMA.i32.nameKind] = nameKind;
    i[b + VMA.i32.nameId] = nameId;
    i[b + VMA.i32.refcount] = 1;
    i[b + VMA.i32.vmLock] = 0;
    i[b + VMA.i32.vmLockSeq] = -1;
    i[b + VMA.i32.seq] = 0;
    i[b + VMA.i32.detached] = 0;
    return v;
  }

  /** vm_area_dup(): a copy of every field but the locking words. */
  dup(v: number): number {
    return this.alloc(this.start(v), this.end(v), this.pgoff(v), this.flags(v), this.file(v), this.anon(v), this.nameKind(v), this.nameId(v));
  }

  markDetached(v: number): void { Atomics.store(this.i32, v * VMA.i32Stride + VMA.i32.detached, 1); }
  isDetached(v: number): boolean { return Atomics.load(this.i32, v * VMA.i32Stride + VMA.i32.detached) !== 0; }

  // Where the locking words of VMA v live in i32 (for sync/'s refcount, rwsem and seqcount functions).
  refcountWord(v: number): number { return v * VMA.i32Stride + VMA.i32.refcount; }
  vmLockWord(v: number): number { return v * VMA.i32Stride + VMA.i32.vmLock; }
  vmLockSeqWord(v: number): number { return v * VMA.i32Stride + VMA.i32.vmLockSeq; }
  seqWord(v: number): number { return v * VMA.i32Stride + VMA.i32.seq; }
}
