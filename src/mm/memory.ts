import type { Rcu } from '../sync/rcu.js';
import { rwsemHeld } from '../sync/rwsem.js';
import { DeferredFree } from './deferred-free.js';
import { hex } from '../util/hex.js';
import { LockAssertionError } from './lockdep.js';
import { FaultUseAfterFreeError, FaultVma, handleMmFault, FAULT_FLAG_VMA_LOCK, FAULT_FLAG_WRITE, VM_FAULT_ERROR, VM_FAULT_OOM, VM_FAULT_RETRY, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV, type FaultContext } from './fault.js';
import { FrameTable, PAGE_SIZE, ZERO_PFN } from './frames.js';
import type { MmStruct } from './mm.js';
import { PageCache } from './pagecache.js';
import { _PAGE_RW, PageTables, pteMapped, ptePfn, ptePresent, TASK_SIZE } from './pagetable.js';
import { changePteRange, MmuGather, movePtes, zapPteRange } from './pte-range.js';
import { VM_ACCESS_FLAGS, VM_WRITE } from './vm-flags.js';

/** Everything a worker needs to reach an address space's memory. */
export interface MmPagesHandle {
  readonly kind: 'mmsplit.mmpages';
  readonly frames: ReturnType<FrameTable['handle']>;
  readonly pt: ReturnType<PageTables['handle']>;
  readonly pagecache: ReturnType<PageCache['handle']>;
  readonly deferred: ReturnType<DeferredFree['handle']>;
}

/**
 * The memory behind an address space — frames, page tables, page cache — and what the mapping calls do to
 * it (mm/memory.c's part of munmap, mprotect, mremap, madvise and populate). An MmStruct created with
 * `pages` calls in here at the points where the kernel touches pages; without it (replay) VMAs alone change.
 *
 * Pages and page tables leave through an mmu_gather whose "TLB flush" is an RCU grace period of `rcu` —
 * the domain user accesses walk the page tables under — so nothing is freed under a reader. They wait on a
 * list every thread shares (DeferredFree), which an allocator short of frames drains itself.
 */
export class MmPages implements FaultContext {
  readonly frames: FrameTable;
  readonly pt: PageTables;
  readonly pagecache: PageCache;
  readonly deferred: DeferredFree;
  private readonly tlb: MmuGather;
  private readonly snap = new FaultVma();
  private mm: MmStruct | undefined;

  /** `populate`: back the frames and page tables with host memory now (Arena's MAP_POPULATE). */
  static create(opts: { frames: number; tables?: number; cachePages?: number; files?: number; debug?: boolean; populate?: boolean }, rcu: Rcu | null): MmPages {
    const frames = FrameTable.create({ frames: opts.frames, debug: opts.debug ?? false, populate: opts.populate ?? false });
    const pt = PageTables.create({ tables: opts.tables ?? Math.max(64, (opts.frames >> 9) * 4 + 64), debug: opts.debug ?? false, populate: opts.populate ?? false });
    const pagecache = PageCache.create(frames, { pages: opts.cachePages ?? opts.frames, files: opts.files, debug: opts.debug ?? false });
    // Room for every frame and table at once: each can wait for a grace period only once at a time.
    const deferred = DeferredFree.create(frames.nframes + pt.arena.capacity + 1);
    return new MmPages(frames, pt, pagecache, deferred, rcu);
  }

  static attach(h: MmPagesHandle, rcu: Rcu | null): MmPages {
    if (h?.kind !== 'mmsplit.mmpages') throw new TypeError('not an mm pages handle');
    const frames = FrameTable.attach(h.frames);
    return new MmPages(frames, PageTables.attach(h.pt), PageCache.attach(h.pagecache, frames), DeferredFree.attach(h.deferred), rcu);
  }

  private constructor(frames: FrameTable, pt: PageTables, pagecache: PageCache, deferred: DeferredFree, readonly rcu: Rcu | null) {
    this.frames = frames;
    this.pt = pt;
    this.pagecache = pagecache;
    this.deferred = deferred;
    deferred.bind(frames, pt);
    this.tlb = new MmuGather(frames, pt, rcu, deferred);
    if (rcu) {
      // Direct reclaim: a GFP_KERNEL allocation may sleep, so this thread is outside any RCU read
      // section and may report a quiescent state; then the frames its own unmaps queued can be freed.
      const reclaim = (): void => {
        if (rcu.online && rcu.readDepth === 0) rcu.quiescentState();
        rcu.processCallbacks();
        deferred.process(rcu);
      };
      frames.reclaim = () => (reclaim(), deferred.framesPending);
      pt.reclaim = () => (reclaim(), deferred.tablesPending);
    }
  }

  /**
   * The memory is done with for good (its address space exited, every thread that attached has ended): the
   * frames' and page tables' host memory backs the next MmPages created with `populate` on this thread.
   */
  release(): void {
    this.frames.arena.release();
    this.pt.arena.release();
    this.pagecache.files.release();
  }

  handle(): MmPagesHandle {
    return { kind: 'mmsplit.mmpages', frames: this.frames.handle(), pt: this.pt.handle(), pagecache: this.pagecache.handle(), deferred: this.deferred.handle() };
  }

  /** Called by the MmStruct that owns these pages. */
  bind(mm: MmStruct): void {
    this.mm = mm;
  }

  // FaultContext, for faults taken with the mmap_lock or the VMA's lock held: nothing can change under them.
  readonly speculative = false;

  revalidate(): boolean {
    return true;
  }

  assertFaultLocked(v: FaultVma): void {
    if (!this.frames.arena.debug) return;
    const mm = this.mm!;
    if (rwsemHeld(mm.words, mm.mmapLockWord)) return;
    const h = mm.hooks;
    if (h.vmaIsLocked?.(mm, v.vma)) return;
    const name = (h as { name?: string }).name;
    throw new LockAssertionError(
      `assert_fault_locked: a fault on VMA ${hex(v.start)}-${hex(v.end)} holds neither the mmap_lock nor the VMA's lock` +
        `${name ? ` (design '${name}')` : ''}: lock the VMA and say so in vmaIsLocked(), or fault through a SpeculativeFault, which revalidates`,
    );
  }

  /**
   * vmf_anon_prepare(): anon_vma_prepare() looks at the neighbouring VMAs, which a fault holding only its
   * own VMA's lock (FAULT_FLAG_VMA_LOCK) may not: since 6.10 such a fault takes the mmap_lock for read if
   * it can at once (mmap_read_trylock) and otherwise gives up (VM_FAULT_RETRY: done again under the
   * mmap_lock). Before 6.10 it always gave up.
   */
  anonVmaPrepare(v: FaultVma, flags: number): number {
    if (v.anonVma !== 0) return 0;
    const mm = this.mm!;
    if ((flags & FAULT_FLAG_VMA_LOCK) !== 0) {
      if (!mm.mmapReadTrylock()) return VM_FAULT_RETRY;
      mm.anonVmaPrepare(v.vma);
      mm.mmapReadUnlock();
    } else mm.anonVmaPrepare(v.vma);
    v.anonVma = mm.vmas.anon(v.vma);
    return 0;
  }

  /** Copies the fields the fault needs out of VMA record `vma` into `out`. */
  snapshot(vma: number, out: FaultVma): FaultVma {
    const t = this.mm!.vmas;
    out.vma = vma;
    out.start = t.start(vma);
    out.end = t.end(vma);
    out.pgoff = t.pgoff(vma);
    out.flags = t.flags(vma);
    out.file = t.file(vma);
    out.anonVma = t.anon(vma);
    if (t.arena.debug) {
      // KASAN's look (plain reads: no yield point of the checker): the record must be allocated now, and the
      // fault core checks it is still this allocation when the PTE goes in.
      out.arena = t.arena;
      out.gen = t.arena.peekGeneration(vma);
      if ((out.gen & 1) === 0) throw new FaultUseAfterFreeError(`fault: copied VMA record ${vma} after it was freed (a read of freed memory)`);
    }
    return out;
  }

  /**
   * The fault with the mmap_lock held (for read or write): find the VMA, fault. The baseline design is this
   * between down_read and up_read. Returns 0 or VM_FAULT_* bits.
   */
  faultLocked(addr: number, flags: number): number {
    const vma = this.mm!.vmaLookup(addr);
    if (vma === 0) return VM_FAULT_SIGSEGV;
    return handleMmFault(this, this.snapshot(vma, this.snap), addr, flags, false);
  }

  /** unmap_region(): zap [start, end), free the page tables only it used, free all after a grace period. */
  unmapRegion(start: number, end: number): void {
    const mm = this.mm!;
    zapPteRange(this.pt, start, end, this.tlb);
    // The neighbours that stay (the range has already left the tree) bound which tables may go.
    const prev = mm.vmaBefore(start);
    const floor = prev !== 0 ? mm.vmas.end(prev) : 0;
    const next = mm.findVma(end);
    const ceiling = next !== 0 ? mm.vmas.start(next) : TASK_SIZE + PAGE_SIZE;
    this.pt.freePgtables(start, end, floor, ceiling, this.tlb.retireTable);
    this.tlb.finish();
  }

  /** zap_page_range() for MADV_DONTNEED / MADV_FREE: the pages go, the tables stay. */
  zapRange(start: number, end: number): void {
    zapPteRange(this.pt, start, end, this.tlb);
    this.tlb.finish();
  }

  /** change_protection() after mprotect gave [start, end) the flags `vmFlags`. */
  changeProtection(start: number, end: number, vmFlags: number): void {
    changePteRange(this.pt, start, end, (vmFlags & VM_ACCESS_FLAGS) !== 0, (vmFlags & VM_WRITE) !== 0);
  }

  /** move_page_tables(): the pages of [oldStart, oldStart + len) now live at newStart. */
  moveRange(oldStart: number, newStart: number, len: number): boolean {
    return movePtes(this.pt, oldStart, newStart, len);
  }

  /**
   * populate_vma_page_range(): faults [start, end) of VMA `vma` in, for write if `write`. Returns 0, or the
   * VM_FAULT_* bits of the first fault that failed.
   */
  populate(vma: number, start: number, end: number, write: boolean): number {
    const v = this.snapshot(vma, this.snap);
    const flags = write ? FAULT_FLAG_WRITE : 0;
    for (let addr = start; addr < end; addr += PAGE_SIZE) {
      const r = handleMmFault(this, v, addr, flags, false);
      if (r & VM_FAULT_ERROR) return r & (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV);
    }
    return 0;
  }

  /**
   * Checks pages against VMAs at quiescence: every mapped PTE lies in a VMA, an accessible one in a VMA
   * that allows some access (a PROT_NONE VMA's pages are mapped PROT_NONE), a writable one in a VMA that
   * allows writing, and maps a live (not freed) frame. Returns the number of mapped PTEs.
   */
  validate(): number {
    const mm = this.mm!;
    let mapped = 0;
    this.pt.validate();
    this.pt.forEachPte((addr, pte) => {
      if (!pteMapped(pte)) return;
      mapped++;
      const v = mm.vmaLookup(addr);
      if (v === 0) throw new Error(`pages: PTE for 0x${addr.toString(16)} outside every VMA`);
      const flags = mm.vmas.flags(v);
      if (ptePresent(pte) && (flags & VM_ACCESS_FLAGS) === 0) throw new Error(`pages: accessible PTE for 0x${addr.toString(16)} in a PROT_NONE VMA`);
      if ((pte & _PAGE_RW) !== 0 && (flags & VM_WRITE) === 0) throw new Error(`pages: writable PTE for 0x${addr.toString(16)} in a read-only VMA`);
      const pfn = ptePfn(pte);
      if (pfn !== ZERO_PFN && !this.frames.arena.isLive(pfn)) throw new Error(`pages: PTE for 0x${addr.toString(16)} maps freed frame ${pfn}`);
    });
    this.frames.validate();
    return mapped;
  }
}
