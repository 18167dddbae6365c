import type { Rcu } from '../sync/rcu.js';
import type { MmPages } from './memory.js';
import type { MmHooks, MmStruct } from './mm.js';

/**
 * A locking design: how a page fault finds and pins its VMA while the address space may change, and what
 * the writers of the address space do for it — mark a VMA they are about to change (vmaStartWrite) and
 * retire one they removed (retireVma: free it now, or once no fault can still hold it). The mm calls the
 * hooks; the user-access path calls fault(). Everything else — the fault core, the calls' VMA and page
 * work — is shared, so designs differ only where the thread's proposals differ.
 *
 * One object per thread: designs keep thread-local state (RCU readers, scratch VMA snapshots).
 */
export interface LockingDesign extends MmHooks {
  readonly name: string;
  /** do_user_addr_fault(): 0 when the access may be tried again, else VM_FAULT_* bits (a signal). */
  fault(addr: number, flags: number): number;
  /** How its faults went, as /proc/vmstat's vma_lock_* counters show it. */
  readonly stats: DesignStats;
}

/** Fast-path successes, retries and fallbacks to the mmap_lock (vma_lock_success / retry / abort). */
export class DesignStats {
  fastPath = 0;
  retry = 0;
  fallback = 0;
  /** Counters of the design's own (e.g. miss, gracePeriods). */
  readonly extra: Record<string, number> = {};
}

/** What a design works on, on the thread it runs on (attached views of the shared address space). */
export interface DesignContext {
  readonly mm: MmStruct;
  readonly pages: MmPages;
  /** The RCU domain user accesses and lockless walkers read under; this thread is registered. */
  readonly rcu: Rcu;
}
