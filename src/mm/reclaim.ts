import { futexWait, futexWake } from '../sync/sleep.js';

/**
 * How long a GFP_KERNEL allocation goes on waiting once nothing is left to reclaim — nothing of its pool
 * waits for a grace period or is on its way back — and nobody has freed anything meanwhile, before it
 * reports OOM: time for other threads to give back what their caches hold (they do at their next
 * allocation).
 */
export const OOM_WAIT_MS = 50;
/** How often a waiting allocation reclaims again (frees whose grace period ended meanwhile). */
const RECLAIM_POLL_MS = 1;

/**
 * The waiting half of a pool whose frees may wait for an RCU grace period — frames, page-table pages: the
 * kernel's __alloc_pages_slowpath() for both, since both come from the page allocator there. Two shared
 * words of the pool's control array: `freedAt` is bumped by every free while an allocator waits (the
 * futex it sleeps on), `waitersAt` counts the waiting allocators (so a free with none waiting costs one
 * load).
 */
export class ReclaimWait {
  constructor(
    private readonly control: Int32Array,
    private readonly freedAt: number,
    private readonly waitersAt: number,
  ) {}

  /** Something went back to the pool: wakes the allocators waiting for it. */
  freed(): void {
    const c = this.control;
    if (Atomics.load(c, this.waitersAt) !== 0) {
      Atomics.add(c, this.freedAt, 1);
      futexWake(c, this.freedAt);
    }
  }

  /**
   * A GFP_KERNEL allocation found the pool empty. Tries `tryAlloc` (> 0: what it got) after each
   * `reclaim` (frees what finished its grace period; returns how many of the pool's items still wait for
   * one), sleeping in between — offline for RCU, however long another thread takes to let the grace
   * period end (a reader preempted by the host, say). `underWay` says that frees are coming that reclaim
   * cannot see yet (a zap in progress). Returns -1 — OOM, memory really gone — only when nothing waited,
   * nothing was under way and nothing was freed for OOM_WAIT_MS; the thread's wait limit, if any, bounds
   * the whole wait (a grace period that never ends is a bug, not an OOM).
   */
  allocSlow(tryAlloc: () => number, reclaim: () => number, underWay: () => boolean, what: string): number {
    const c = this.control;
    const startedAt = performance.now();
    let progressAt = startedAt;
    Atomics.add(c, this.waitersAt, 1);
    try {
      for (let seen = Atomics.load(c, this.freedAt); ; ) {
        const pending = reclaim();
        const got = tryAlloc();
        if (got > 0) return got;
        const now = performance.now();
        const freed = Atomics.load(c, this.freedAt);
        if (pending > 0 || freed !== seen || underWay()) progressAt = now;
        else if (now - progressAt >= OOM_WAIT_MS) return -1;
        seen = freed;
        futexWait(c, this.freedAt, seen, what, RECLAIM_POLL_MS, startedAt);
      }
    } finally {
      Atomics.sub(c, this.waitersAt, 1);
    }
  }
}
