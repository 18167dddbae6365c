import { sharedBuffer } from '../shm/buffers.js';
import type { Rcu } from '../sync/rcu.js';
import { spinLock, spinUnlock } from '../sync/spinlock.js';
import type { FrameTable } from './frames.js';
import type { PageTables } from './pagetable.js';

export interface DeferredFreeHandle {
  readonly kind: 'mmsplit.deferred-free';
  readonly state: SharedArrayBuffer;
}

// Shared words, then the ring of [grace-period cookie, item] pairs (item > 0 a frame, < 0 a page table).
const LOCK = 0;
const HEAD = 1; // the ring slot of the oldest entry
const COUNT = 2; // entries in the ring
const CAPACITY = 3;
const FRAMES_PENDING = 4; // frame entries in the ring
const RING = 8;
/** Entries taken off the ring per turn of the lock: the frees themselves run without it. */
const CHUNK = 512;

/**
 * Pages and page tables unmapped by any thread, waiting for an RCU grace period before they are freed
 * (the kernel's mmu_gather batches and tlb_remove_table_rcu): one list in shared memory that any thread
 * may drain.
 *
 * Why shared: call_rcu() callbacks are closures that only the thread that queued them can run, and the
 * kernel's run in softirq context whatever the queuing task is doing. A thread that unmapped 128 MiB and
 * then slept — waiting for the mmap_lock, say, behind a reader that is itself waiting for frames — would
 * otherwise hold every one of those frames until it woke: a deadlock that used to end in a false OOM.
 * Here an allocator short of frames frees whatever finished its grace period itself (direct reclaim).
 *
 * Guarantee: an item pushed after unpublishing it is freed exactly once, and only once the grace period
 * that began at push() has ended (cookies are taken under the lock, so they ascend along the ring).
 */
export class DeferredFree {
  private readonly s: Int32Array;
  private readonly taken = new Int32Array(CHUNK);

  static create(capacity: number): DeferredFree {
    const state = sharedBuffer(4 * (RING + 2 * capacity));
    new Int32Array(state)[CAPACITY] = capacity;
    return new DeferredFree({ kind: 'mmsplit.deferred-free', state });
  }

  static attach(h: DeferredFreeHandle): DeferredFree {
    if (h?.kind !== 'mmsplit.deferred-free') throw new TypeError('not a deferred-free handle');
    return new DeferredFree(h);
  }

  private constructor(
    private readonly h: DeferredFreeHandle,
    private frames?: FrameTable,
    private pt?: PageTables,
  ) {
    this.s = new Int32Array(h.state);
  }

  handle(): DeferredFreeHandle {
    return this.h;
  }

  /** What the frees act on, on this thread. */
  bind(frames: FrameTable, pt: PageTables): void {
    this.frames = frames;
    this.pt = pt;
  }

  /** Frames unmapped and not yet freed. */
  get framesPending(): number {
    return Atomics.load(this.s, FRAMES_PENDING);
  }

  /** Page-table pages unlinked and not yet freed. */
  get tablesPending(): number {
    return Atomics.load(this.s, COUNT) - Atomics.load(this.s, FRAMES_PENDING);
  }

  /**
   * The ring as it stands (mmsplit explore draws it): per entry its grace-period cookie and what it frees,
   * oldest first, with the two counters the allocators read and whether its lock is held (a push or a drain
   * under way, its counters not yet matching its entries). Plain reads: no yield point, for a thread that
   * watches a stopped run.
   */
  peek(): { locked: boolean; count: number; framesPending: number; entries: { cookie: number; frame?: number; table?: number }[] } {
    const s = this.s;
    const cap = s[CAPACITY]!;
    const count = s[COUNT]!;
    const entries: { cookie: number; frame?: number; table?: number }[] = [];
    for (let k = 0, at = s[HEAD]!; k < count; k++, at = (at + 1) % cap) {
      const item = s[RING + 2 * at + 1]!;
      entries.push({ cookie: s[RING + 2 * at]!, ...(item > 0 ? { frame: item } : { table: -item }) });
    }
    return { locked: s[LOCK] !== 0, count, framesPending: s[FRAMES_PENDING]!, entries };
  }

  /** Queues the first nPfns of `pfns` and nTables of `tables` behind a grace period that starts now. */
  push(rcu: Rcu, pfns: Int32Array, nPfns: number, tables: Int32Array, nTables: number): void {
    const s = this.s;
    const cap = s[CAPACITY]!;
    spinLock(s, LOCK);
    try {
      const cookie = rcu.startPoll();
      const count = s[COUNT]!;
      if (count + nPfns + nTables > cap) throw new Error(`deferred free: more than ${cap} items waiting for a grace period`);
      let at = s[HEAD]! + count;
      for (let i = 0; i < nPfns; i++, at++) this.put(at % cap, cookie, pfns[i]!);
      for (let i = 0; i < nTables; i++, at++) this.put(at % cap, cookie, -tables[i]!);
      s[FRAMES_PENDING] = s[FRAMES_PENDING]! + nPfns;
      Atomics.store(s, COUNT, count + nPfns + nTables); // process() may look without the lock
    } finally {
      spinUnlock(s, LOCK);
    }
  }

  private put(at: number, cookie: number, item: number): void {
    this.s[RING + 2 * at] = cookie;
    this.s[RING + 2 * at + 1] = item;
  }

  /** Frees every item whose grace period has ended; returns how many frames it freed. */
  process(rcu: Rcu): number {
    const s = this.s;
    if (Atomics.load(s, COUNT) === 0) return 0;
    const cap = s[CAPACITY]!;
    const taken = this.taken;
    let freed = 0;
    for (;;) {
      let n = 0;
      let frames = 0;
      spinLock(s, LOCK);
      try {
        let head = s[HEAD]!;
        const count = s[COUNT]!;
        while (n < count && n < CHUNK && rcu.pollState(s[RING + 2 * head]!)) {
          const item = s[RING + 2 * head + 1]!;
          taken[n++] = item;
          if (item > 0) frames++;
          if (++head === cap) head = 0;
        }
        s[HEAD] = head;
        s[FRAMES_PENDING] = s[FRAMES_PENDING]! - frames;
        Atomics.store(s, COUNT, count - n);
      } finally {
        spinUnlock(s, LOCK);
      }
      for (let i = 0; i < n; i++) {
        const item = taken[i]!;
        if (item > 0) this.frames!.putPage(item);
        else this.pt!.freeTable(-item);
      }
      freed += frames;
      if (n < CHUNK) return freed;
    }
  }

  /** Checks the bookkeeping of the list. */
  validate(): void {
    const s = this.s;
    const waiting = Atomics.load(s, COUNT);
    if (waiting < 0 || waiting > s[CAPACITY]! || s[HEAD]! < 0 || s[HEAD]! >= s[CAPACITY]!) throw new Error(`deferred free: ${waiting} items waiting, capacity ${s[CAPACITY]}`);
    if (s[FRAMES_PENDING]! < 0 || s[FRAMES_PENDING]! > waiting) throw new Error(`deferred free: ${s[FRAMES_PENDING]} frames pending of ${waiting} items`);
  }
}
