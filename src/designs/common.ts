/**
 * What several designs share: the mmap_lock fault they all fall back to, and the two halves of the VMA
 * validation the thread calls "the tricky bit" — a seqcount per VMA that every writer bumps before it
 * changes the VMA (the writer's half), and the check, under the PTE lock, that the count is still the one
 * the fault copied the VMA under and the VMA still in the tree (the fault's half). Every design that faults
 * without holding the mmap_lock or a VMA lock needs it: a reference or an (S)RCU read section keeps the
 * VMA's memory alive, but not its fields — mprotect, merges and splits change VMAs in place.
 */
import { DesignStats, type DesignContext, type LockingDesign, type VmaLookup } from '../mm/design.js';
import { FaultVma, handleMmFault, VM_FAULT_RETRY, type FaultContext } from '../mm/fault.js';
import { PAGE_SIZE, type FrameTable } from '../mm/frames.js';
import type { MmPages } from '../mm/memory.js';
import type { MmStruct } from '../mm/mm.js';
import type { PageCache } from '../mm/pagecache.js';
import type { PageTables } from '../mm/pagetable.js';
import type { VmaTable } from '../mm/vma.js';
import { readSeqcountRetry, writeSeqcountBegin, writeSeqcountEnd } from '../sync/seqcount.js';
import { unwinding } from '../util/unwind.js';
import { IntList } from '../util/int-list.js';

/** A fast path's "do it under the mmap_lock instead" (never a vm_fault_t: those are ≥ 0). */
export const LOCK_MMAP = -1;

/** lock_mmap_and_find_vma() + handle_mm_fault() + mmap_read_unlock(): the baseline, and every fallback. */
export function faultUnderMmapLock(ctx: DesignContext, addr: number, flags: number): number {
  ctx.mm.mmapReadLock();
  let r: number;
  try {
    r = ctx.pages.faultLocked(addr, flags);
  } catch (e) {
    throw unwinding(e, () => ctx.mm.mmapReadUnlock());
  }
  ctx.mm.mmapReadUnlock();
  return r;
}

/** A design whose faults read-lock their VMA (the per-VMA locks). */
export interface VmaReadLocking {
  /** lock_vma_under_rcu(): the VMA containing addr, read-locked; 0 if none could be locked. */
  lockVmaUnderRcu(addr: number): number;
  vmaEndRead(vma: number): void;
}

/**
 * The fault of the per-VMA-lock designs: lock_vma_under_rcu(), handle_mm_fault() under the VMA's read lock
 * (with `lockedFlags`, e.g. FAULT_FLAG_VMA_LOCK), vma_end_read(); no VMA locked, or VM_FAULT_RETRY → the
 * mmap_lock fault, counted as vma_lock_abort or vma_lock_retry.
 */
export function faultUnderVmaLock(ctx: DesignContext, design: VmaReadLocking, stats: DesignStats<{ abort: number }>, v: FaultVma, addr: number, flags: number, lockedFlags = flags): number {
  const vma = design.lockVmaUnderRcu(addr);
  if (vma !== 0) {
    const pages = ctx.pages;
    const r = handleMmFault(pages, pages.snapshot(vma, v), addr, lockedFlags, false);
    design.vmaEndRead(vma);
    if ((r & VM_FAULT_RETRY) === 0) {
      stats.fastPath++;
      return r;
    }
    stats.retry++;
  } else stats.extra.abort++;
  stats.fallback++;
  return faultUnderMmapLock(ctx, addr, flags);
}

/**
 * find_active_uprobe_rcu() before 6.14, and the fallback of every speculative lookup since:
 * mmap_read_lock(); vma_lookup(); the file and offset; mmap_read_unlock().
 */
export function lookupVmaUnderMmapLock(mm: MmStruct, addr: number, out: VmaLookup): boolean {
  mm.mmapReadLock();
  const vma = mm.vmaLookup(addr);
  if (vma !== 0) readVmaLookup(mm.vmas, vma, addr, out);
  mm.mmapReadUnlock();
  return vma !== 0;
}

/**
 * The file VMA `vma` maps and the offset of addr's page in it, as the uprobe lookup computes them:
 * vm_pgoff + (addr - vm_start) / PAGE_SIZE. Nothing is checked — a lookup that does not hold the VMA still
 * must make sure afterwards that it did not read a VMA that changed (mmap_lock_speculate_retry).
 */
export function readVmaLookup(t: VmaTable, vma: number, addr: number, out: VmaLookup): void {
  out.file = t.file(vma);
  out.pgoff = t.pgoff(vma) + Math.floor((addr - t.start(vma)) / PAGE_SIZE);
}

/** The end of every design's fault: counted as done on the fast path, or done again under the mmap_lock. */
export function fastPathOrMmapLock(ctx: DesignContext, stats: DesignStats, r: number, addr: number, flags: number): number {
  if (r !== LOCK_MMAP) {
    stats.fastPath++;
    return r;
  }
  stats.fallback++;
  return faultUnderMmapLock(ctx, addr, flags);
}

/** The counters SpeculativeFault.attempt() keeps: no VMA found, or the VMA was changing (vma_lock_miss/abort). */
export type SpeculativeStats = DesignStats<{ miss: number; abort: number }>;

/** What SpeculativeStats' own counters mean (DesignDefinition.counters). */
export const SPECULATIVE_COUNTERS = {
  miss: 'vma_lock_miss: no VMA at the address on the lockless walk (or it was dying): done under the mmap_lock',
  abort: 'vma_lock_abort: the VMA was being changed (odd or moved seqcount, detached): done under the mmap_lock',
} as const;

/** The per-VMA word of the seqcount designs: vm_sequence, even when no writer is changing the VMA. */
export const SEQCOUNT_WORDS = { vmSequence: 0 } as const;

/** DesignDefinition.quiescentVma for the seqcount designs: no writer has left a count open. */
export function seqcountClosed(mm: MmStruct, vma: number): string | undefined {
  const t = mm.vmas;
  return (Atomics.load(t.i32, t.word(vma, t.wordOffset('vmSequence'))) & 1) !== 0 ? 'its vm_sequence is still odd (a write left open)' : undefined;
}

/**
 * The writer's half (vm_write_begin / vm_write_end of the speculative-fault patches): the first change to a
 * VMA in an mmap_write_lock section makes its count odd; mmap_write_unlock makes every count it opened even
 * again; a VMA that leaves the tree has its count closed when it is retired (it stays detached, and the
 * count has moved on, so no fault that copied it can validate). One object per writer thread; writers are
 * serialised by the mmap_lock, so an odd count can only be this writer's own.
 */
export class VmaSeqWriter {
  private readonly open = new IntList();
  private readonly seq: number;

  constructor(mm: MmStruct) {
    this.seq = mm.vmas.wordOffset('vmSequence');
  }

  begin(mm: MmStruct, vma: number): void {
    const t = mm.vmas;
    const w = t.word(vma, this.seq);
    if ((Atomics.load(t.i32, w) & 1) !== 0) return; // already opened in this section
    writeSeqcountBegin(t.i32, w);
    this.open.push(vma);
  }

  endAll(mm: MmStruct): void {
    const t = mm.vmas;
    for (let i = 0; i < this.open.length; i++) writeSeqcountEnd(t.i32, t.word(this.open.at(i), this.seq));
    this.open.clear();
  }

  /** Before a retired VMA is handed to whatever frees it: its count is closed now, not at unlock. */
  retire(mm: MmStruct, vma: number): void {
    const k = this.open.indexOf(vma);
    if (k < 0) return;
    writeSeqcountEnd(mm.vmas.i32, mm.vmas.word(vma, this.seq));
    this.open.removeAt(k);
  }
}

/**
 * The fault's half: a FaultContext for faults that hold neither the mmap_lock nor a VMA lock. snapshot()
 * copies the VMA under its seqcount; revalidate(), called by the fault core under the PTE lock just before
 * the PTE goes in, checks that the count has not moved and the VMA is still attached. The fault core also
 * walks the page tables a second time before it takes the PTE lock (speculative = true).
 */
export class SpeculativeFault implements FaultContext {
  readonly speculative = true;
  readonly frames: FrameTable;
  readonly pt: PageTables;
  readonly pagecache: PageCache;
  /** The copy of the VMA being faulted on (one per thread: no allocation per fault). */
  readonly v = new FaultVma();
  private readonly vmas: VmaTable;
  private readonly pages: MmPages;
  /** Where vm_sequence lives in a VMA record. */
  private readonly seq: number;

  constructor(ctx: DesignContext) {
    this.pages = ctx.pages;
    this.frames = ctx.pages.frames;
    this.pt = ctx.pages.pt;
    this.pagecache = ctx.pages.pagecache;
    this.vmas = ctx.mm.vmas;
    this.seq = this.vmas.wordOffset('vmSequence');
  }

  /**
   * Copies VMA `vma` into this.v; false if a writer is changing it, the copy may be torn, it has left the
   * tree, or it does not contain `addr` (a lookup that raced with a change: the caller falls back).
   */
  snapshot(vma: number, addr: number): boolean {
    const t = this.vmas;
    if (t.arena.debug && !t.arena.isLive(vma)) throw new Error(`fault: VMA ${vma} was freed while a fault could still reach it`);
    const w = t.word(vma, this.seq);
    const seq = Atomics.load(t.i32, w);
    if ((seq & 1) !== 0) return false;
    const v = this.pages.snapshot(vma, this.v);
    v.seq = seq;
    if (readSeqcountRetry(t.i32, w, seq) || t.isDetached(vma)) return false;
    return addr >= v.start && addr < v.end;
  }

  /**
   * One speculative fault on VMA `vma` (0 if the walk found none): copy it, fault on the copy. Returns the
   * fault's result, or LOCK_MMAP if it has to be done another way; counts miss, abort and retry.
   */
  attempt(vma: number, addr: number, flags: number, mayNotSleep: boolean, stats: SpeculativeStats): number {
    if (vma === 0) {
      stats.extra.miss++;
      return LOCK_MMAP;
    }
    if (!this.snapshot(vma, addr)) {
      stats.extra.abort++;
      return LOCK_MMAP;
    }
    const r = handleMmFault(this, this.v, addr, flags, mayNotSleep);
    if ((r & VM_FAULT_RETRY) === 0) return r;
    stats.retry++;
    return LOCK_MMAP;
  }

  /** Nothing is held: that is what revalidate() is for. */
  assertFaultLocked(): void {}

  revalidate(v: FaultVma): boolean {
    const t = this.vmas;
    return Atomics.load(t.i32, t.word(v.vma, this.seq)) === v.seq && !t.isDetached(v.vma);
  }

  anonVmaPrepare(v: FaultVma, flags: number): number {
    return this.pages.anonVmaPrepare(v, flags);
  }
}

/**
 * What the designs that fault without the mmap_lock or a VMA lock have in common: the speculative fault
 * context and the writer's half of the seqcount. Each says how it finds (and keeps) the VMA in fault(), and
 * how a removed VMA is freed in retireVma(), which must first hand the VMA to retireSeq().
 */
export abstract class SeqValidatedDesign implements LockingDesign {
  readonly stats: SpeculativeStats = new DesignStats({ miss: 0, abort: 0 });
  protected readonly spec: SpeculativeFault;
  private readonly writer: VmaSeqWriter;
  /** Where vm_sequence lives in a VMA record. */
  private readonly seq: number;

  constructor(
    protected readonly ctx: DesignContext,
    readonly name: string,
    spec = new SpeculativeFault(ctx),
  ) {
    this.spec = spec;
    this.writer = new VmaSeqWriter(ctx.mm);
    this.seq = ctx.mm.vmas.wordOffset('vmSequence');
  }

  abstract fault(addr: number, flags: number): number;
  abstract retireVma(mm: MmStruct, vma: number): void;

  vmaStartWrite(mm: MmStruct, vma: number): void {
    this.writer.begin(mm, vma);
  }

  vmaEndWriteAll(mm: MmStruct): void {
    this.writer.endAll(mm);
  }

  /** vma_assert_write_locked(): the writer has opened the VMA's seqcount (odd) in this section (a plain read: see per-vma-lock.ts). */
  vmaIsWriteLocked(mm: MmStruct, vma: number): boolean {
    return (mm.vmas.i32[mm.vmas.word(vma, this.seq)]! & 1) !== 0;
  }

  protected retireSeq(mm: MmStruct, vma: number): void {
    this.writer.retire(mm, vma);
  }
}
