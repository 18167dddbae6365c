import { DesignStats } from '../mm/design.js';
import { faultUnderMmapLock, LOCK_MMAP } from './common.js';
import { VmaRefcountDesign } from './vma-refcount.js';

/**
 * Phase 3 of the thread: the whole fault under rcu_read_lock(). Nothing in it may sleep, so page and
 * page-table allocations are GFP_NOWAIT and a page-cache miss does not wait for the read; when the fault
 * cannot finish that way it leaves the RCU section and is done again as phase 2 (a pinned VMA, sleeping
 * allowed), and failing that under the mmap_lock.
 *
 *   fault:   rcu_read_lock()
 *            vma = mas_walk(&mm->mm_mt, addr)
 *            ret = handle_mm_fault(vma, addr, FAULT_FLAG_RCU)   // validates the VMA before the PTE goes in
 *            rcu_read_unlock()
 *            if (ret & VM_FAULT_RETRY)  → the vma-refcount fault
 *   munmap:  detach; vma_put(vma)          // freed by call_rcu once the last reference is gone
 *
 * The RCU section is asserted: a sleep inside it throws SleepInAtomicError.
 */
export class RcuFaultDesign extends VmaRefcountDesign {
  /** gfpNowaitFail: the fault would have slept (an allocation or a page-cache miss); mmapLock: ended there. */
  override readonly stats = new DesignStats({ miss: 0, abort: 0, gfpNowaitFail: 0, mmapLock: 0 });

  /** Inside rcu_read_lock() nothing may sleep: allocations are GFP_NOWAIT and page-cache misses give up. */
  protected readonly gfpNowait: boolean = true;

  override fault(addr: number, flags: number): number {
    const { mm, rcu } = this.ctx;
    const spec = this.spec;
    const retries = this.stats.retry;
    rcu.readLock();
    let r = spec.attempt(mm.tree.findValue(addr), addr, flags, this.gfpNowait, this.stats);
    rcu.readUnlock();
    if (r !== LOCK_MMAP) {
      this.stats.fastPath++;
      return r;
    }
    // Given up with the VMA still valid: it stopped because it would have slept, not because of a change.
    if (this.stats.retry !== retries && spec.revalidate(spec.v)) this.stats.extra.gfpNowaitFail++;
    this.stats.fallback++;
    r = this.faultPinned(addr, flags);
    if (r !== LOCK_MMAP) return r;
    this.stats.extra.mmapLock++;
    return faultUnderMmapLock(this.ctx, addr, flags);
  }
}
