import type { Rcu } from '../sync/rcu.js';
import type { Srcu } from '../sync/srcu.js';
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

/**
 * How a design's faults went, as /proc/vmstat's vma_lock_* events show it (docs/results-format.md):
 * every fault ends either on the fast path or on the slower path, so fastPath + fallback = faults.
 */
export class DesignStats<Extra extends Record<string, number> = Record<string, number>> {
  /** vma_lock_success: faults completed without the mmap_lock. */
  fastPath = 0;
  /** vma_lock_retry: fast-path attempts given up part-way (VM_FAULT_RETRY, a failed validation). */
  retry = 0;
  /** vma_lock_abort + vma_lock_miss: faults completed on the design's slower path. */
  fallback = 0;
  constructor(
    /** The design's own counters (abort, miss, gfpNowaitFail …), all present from the start. */
    readonly extra: Extra = {} as Extra,
  ) {}
}

/** What a design works on, on the thread it runs on (attached views of the shared address space). */
export interface DesignContext {
  readonly mm: MmStruct;
  readonly pages: MmPages;
  /** The RCU domain user accesses and lockless walkers read under; this thread is registered. */
  readonly rcu: Rcu;
  /** The mm's SRCU domain (vma_srcu), for the designs whose faults may sleep inside a read section. */
  readonly srcu: Srcu;
}
