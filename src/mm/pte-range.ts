import type { Rcu } from '../sync/rcu.js';
import type { DeferredFree } from './deferred-free.js';
import { FrameTable, PAGE_SIZE, ZERO_PFN } from './frames.js';
import { _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_RW, PageTables, pmdAddrEnd, pteMapped, ptePfn } from './pagetable.js';

/**
 * What the mapping calls do to the pages of a range: zap them (munmap, MADV_DONTNEED), change their
 * protection (mprotect), move them (mremap). The caller holds the mmap_lock for write; faults may run
 * concurrently under the designs that do not take it, so every PTE change happens under the PTE table's
 * split lock, and pages leave through an mmu_gather that frees them only after an RCU grace period —
 * until then a thread that read the old PTE without a lock may still be reading the page.
 */
/** Pages an mmu_gather holds before it hands them on (the kernel's batch: a page of pointers, 510 on x86-64). */
const GATHER_BATCH = 512;

export class MmuGather {
  // Page and table numbers wait in fixed buffers (a page of pointers each, as the kernel's batches):
  // a growing array reset by `length = 0` gave its storage back and was allocated anew at every zap.
  private readonly pfns = new Int32Array(GATHER_BATCH);
  private readonly tables = new Int32Array(GATHER_BATCH);
  private nPfns = 0;
  private nTables = 0;
  /** Pages were gathered since the last finish(): counted in the frame table's zaps under way. */
  private gathering = false;
  /** The RCU callback of every batch (one closure for them all: a long zap hands on dozens). */
  private readonly processDeferred = (): void => {
    if (this.rcu) this.deferred.process(this.rcu);
  };
  /** removeTable() bound once, for free_pgtables() (no closure per munmap). */
  readonly retireTable = (table: number): void => this.removeTable(table);

  constructor(
    private readonly frames: FrameTable,
    private readonly pt: PageTables,
    /** The RCU domain lockless walkers read under; null when nothing walks without a lock. */
    private readonly rcu: Rcu | null,
    /** Where pages and tables wait for the grace period, for whichever thread frees them first. */
    private readonly deferred: DeferredFree,
  ) {}

  /**
   * tlb_remove_page(): the page loses the reference its PTE held, once the grace period is over. A full
   * batch goes on its way at once (tlb_flush_mmu()), so that a long zap does not hold every page it took
   * until it ends; and from the first page on, allocators know frames are coming back.
   */
  removePage(pfn: number): void {
    if (pfn === ZERO_PFN) return;
    if (this.nPfns === 0 && !this.gathering) {
      this.gathering = true;
      this.frames.unmapping(1);
    }
    this.pfns[this.nPfns++] = pfn;
    if (this.nPfns === GATHER_BATCH) this.flush();
  }

  /** tlb_remove_table(): a page-table page unlinked by free_pgtables(). */
  removeTable(table: number): void {
    this.tables[this.nTables++] = table;
    if (this.nTables === GATHER_BATCH) this.flush();
  }

  /**
   * tlb_finish_mmu(): the "TLB flush" is a grace period; then pages and tables are freed — by this thread's
   * RCU callback, or sooner by any thread whose allocation needs them (DeferredFree).
   */
  finish(): void {
    this.flush();
    if (this.gathering) {
      this.gathering = false;
      this.frames.unmapping(-1);
    }
  }

  /** Hands what was gathered to the grace period (or, with nothing reading without a lock, frees it). */
  private flush(): void {
    if (this.nPfns === 0 && this.nTables === 0) return;
    const rcu = this.rcu;
    if (rcu) {
      this.deferred.push(rcu, this.pfns, this.nPfns, this.tables, this.nTables);
      rcu.callRcu(this.processDeferred);
    } else {
      for (let i = 0; i < this.nPfns; i++) this.frames.putPage(this.pfns[i]!);
      for (let i = 0; i < this.nTables; i++) this.pt.freeTable(this.tables[i]!);
    }
    this.nPfns = 0;
    this.nTables = 0;
  }
}

/** zap_pte_range(): clears every PTE in [start, end); returns the number of pages unmapped. */
export function zapPteRange(pt: PageTables, start: number, end: number, tlb: MmuGather): number {
  let zapped = 0;
  const i32 = pt.i32;
  for (let addr = start, next: number; addr < end; addr = next) {
    next = pmdAddrEnd(addr, end);
    const first = pt.pteSlot(addr);
    if (first < 0) continue;
    const last = first + (next - addr) / PAGE_SIZE;
    pt.ptLock(first);
    for (let s = first; s < last; s++) {
      const pte = Atomics.load(i32, s);
      if (pte === 0) continue;
      Atomics.store(i32, s, 0);
      if (pteMapped(pte)) {
        tlb.removePage(ptePfn(pte));
        zapped++;
      }
    }
    pt.ptUnlock(first);
  }
  return zapped;
}

/**
 * change_pte_range(): brings the PTEs of [start, end) in line with new permissions. Losing write makes
 * them read-only; losing all access makes them PROT_NONE (mapped, but every access faults); gaining access
 * makes them present again, read-only — a write then takes a write-protect fault, which grants it.
 */
export function changePteRange(pt: PageTables, start: number, end: number, accessible: boolean, writable: boolean): number {
  let changed = 0;
  const i32 = pt.i32;
  for (let addr = start, pmdEnd: number; addr < end; addr = pmdEnd) {
    pmdEnd = pmdAddrEnd(addr, end);
    const first = pt.pteSlot(addr);
    if (first < 0) continue;
    const last = first + (pmdEnd - addr) / PAGE_SIZE;
    pt.ptLock(first);
    for (let s = first; s < last; s++) {
      const pte = Atomics.load(i32, s);
      if (!pteMapped(pte)) continue;
      let next = pte;
      if (!accessible) next = (next & ~(_PAGE_PRESENT | _PAGE_RW)) | _PAGE_PROTNONE;
      else {
        next = (next & ~_PAGE_PROTNONE) | _PAGE_PRESENT;
        if (!writable) next &= ~_PAGE_RW;
      }
      if (next !== pte) {
        Atomics.store(i32, s, next);
        changed++;
      }
    }
    pt.ptUnlock(first);
  }
  return changed;
}

/**
 * move_ptes(): moves the PTEs of [oldStart, oldStart + len) to newStart, pages and all, so the data
 * survives mremap. Takes the old table's lock, then the new one's (the only writer holds the mmap_lock,
 * so this order cannot deadlock against another mover). Returns false if a page table could not be
 * allocated (-ENOMEM; the PTEs moved so far stay moved, as in the kernel, which moves them back).
 */
export function movePtes(pt: PageTables, oldStart: number, newStart: number, len: number): boolean {
  const i32 = pt.i32;
  const oldEnd = oldStart + len;
  for (let addr = oldStart, next: number; addr < oldEnd; addr = next) {
    next = pmdAddrEnd(addr, oldEnd);
    const first = pt.pteSlot(addr);
    if (first < 0) continue;
    const n = (next - addr) / PAGE_SIZE;
    for (let k = 0; k < n; k++) {
      const from = first + k;
      if (Atomics.load(i32, from) === 0) continue;
      const to = pt.pteAlloc(newStart + (addr - oldStart) + k * PAGE_SIZE);
      if (to < 0) return false;
      pt.ptLock(from);
      const sameTable = pt.ptlOf(to) === pt.ptlOf(from);
      if (!sameTable) pt.ptLock(to);
      Atomics.store(i32, to, Atomics.exchange(i32, from, 0));
      if (!sameTable) pt.ptUnlock(to);
      pt.ptUnlock(from);
    }
  }
  return true;
}
