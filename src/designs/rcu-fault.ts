import { DesignStats, type DesignDefinition } from '../mm/design.js';
import { faultUnderMmapLock, LOCK_MMAP, SPECULATIVE_COUNTERS } from './common.js';
import { REFCOUNT_WORDS, refcountQuiescent, VmaRefcountDesign } from './vma-refcount.js';

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

/** Mutant: the fault under rcu_read_lock() may sleep (GFP_KERNEL allocations, page-cache reads). */
class RcuFaultSleep extends RcuFaultDesign {
  protected override readonly gfpNowait = false;
}

export const rcuFault: DesignDefinition = {
  name: 'rcu-fault',
  summary: 'phase 3: the whole fault under RCU, GFP_NOWAIT',
  description: 'the whole fault under rcu_read_lock, GFP_NOWAIT; falls back to the refcount (phase 3)',
  color: '#59a14f',
  lockless: true,
  counters: {
    ...SPECULATIVE_COUNTERS,
    gfpNowaitFail: 'the RCU fault gave up because it would have slept (an allocation or a page-cache miss): done pinned',
    mmapLock: 'the pinned fault gave up too: done under the mmap_lock',
  },
  vmaWords: REFCOUNT_WORDS,
  quiescentVma: refcountQuiescent,
  mutants: {
    'rcu-fault-sleep': { summary: 'rcu-fault sleeping inside its RCU section', make: (ctx) => new RcuFaultSleep(ctx, 'rcu-fault-sleep') },
  },
  make: (ctx) => new RcuFaultDesign(ctx, 'rcu-fault'),
};
