import { sharedBuffer } from '../shm/buffers.js';
import { CallbackQueue, seqGE } from './callbacks.js';
import { mutexLock, mutexTrylock, mutexUnlock } from './mutex.js';
import { futexWait } from './sleep.js';

/** Everything a worker needs to use an SRCU domain. */
export interface SrcuHandle {
  readonly kind: 'mmsplit.srcu';
  readonly state: SharedArrayBuffer;
}

// Layout of a domain's shared state (Int32 words), after struct srcu_struct.
const IDX = 0; // srcu_idx: flipped once per grace period; its low bit selects the counters new readers use
const GP_SEQ = 1; // srcu_gp_seq: grace-period counter << 2 | state (the kernel's rcu_seq)
const GP_SEQ_NEEDED = 2; // srcu_gp_seq_needed: the furthest grace period anyone asked for
const GP_MUTEX = 3; // srcu_gp_mutex: one thread drives the grace-period state machine at a time
const FUTEX = 4; // bumped when a grace period ends while a synchronizer sleeps (its completion)
const WAITERS = 5;
const SLOTS_HIGH = 6;
const MAX_THREADS = 7;
const SLOT_BASE = 8; // per thread slot: [owner, lock[0], lock[1], unlock[0], unlock[1]] (srcu_data)
const SLOT_WORDS = 5;

// How often a waiting grace period looks at the readers again: first after 20 µs, then twice as long each
// time, at most 1 ms (one jiffy at HZ=1000; the kernel's srcu_get_delay() counts whole jiffies).
const SRCU_RETRY_DELAY_MS = 0.02;
const SRCU_MAX_DELAY_MS = 1;

// rcu_seq states.
const SEQ_STATE_MASK = 3;
const STATE_IDLE = 0;
const STATE_SCAN1 = 1; // waiting for readers of the inactive index, then flip
const STATE_SCAN2 = 2; // flipped; waiting for readers of the index that was active

/**
 * Sleepable RCU, after the kernel's two-index design (kernel/rcu/srcutree.c).
 *
 * Each domain is independent: readers of one never delay grace periods of another. srcu_read_lock()
 * increments a per-thread lock counter for the current index and returns the index; srcu_read_unlock(idx)
 * increments the matching unlock counter — two atomic operations per read section, and readers may block
 * (sleep for I/O) inside it. A grace period waits until the readers counted on the inactive index are gone,
 * flips the index so new readers count on the other, and waits again for the index that was active: after
 * both scans, every reader that began before the grace period has left.
 *
 * Guarantee: synchronize() returns, and a callSrcu() callback runs, only after every read section that
 * began before the call has ended. Callbacks run on the thread that queued them, from processCallbacks(),
 * synchronize() or barrier(); callSrcu() itself only queues, so it is as cheap as the kernel's.
 *
 * As in the kernel, srcu_read_unlock() wakes nobody: a waiting grace period polls the counters, the way
 * process_srcu() re-queues itself with a delay that grows while readers hold it up (srcu_get_delay()), and
 * only the end of a grace period wakes its synchronizers (their completion). A reader that woke the
 * synchronizer would also pay for it: on a 2-core machine the woken thread was placed on the reader's CPU
 * and kept it from running for ~0.5 ms per wake-up, so the reader spent its time outside its section and
 * synchronize_srcu() looked nearly free.
 */
export class Srcu {
  private readonly s: Int32Array;
  private readonly callbacks = new CallbackQueue();
  private base = -1;

  static create(opts: { maxThreads?: number } = {}): Srcu {
    const maxThreads = opts.maxThreads ?? 64;
    const state = sharedBuffer(4 * (SLOT_BASE + SLOT_WORDS * maxThreads));
    new Int32Array(state)[MAX_THREADS] = maxThreads;
    return new Srcu({ kind: 'mmsplit.srcu', state });
  }

  static attach(handle: SrcuHandle): Srcu {
    if (handle?.kind !== 'mmsplit.srcu') throw new TypeError('not an SRCU handle');
    return new Srcu(handle);
  }

  private constructor(private readonly h: SrcuHandle) {
    this.s = new Int32Array(h.state);
  }

  handle(): SrcuHandle {
    return this.h;
  }

  /** srcu_read_lock(): enters a read section; returns the index to give to readUnlock(). */
  readLock(): number {
    if (this.base < 0) this.claimSlot();
    const idx = Atomics.load(this.s, IDX) & 1;
    Atomics.add(this.s, this.base + 1 + idx, 1); // and a full barrier (the kernel's smp_mb() B)
    return idx;
  }

  /** srcu_read_unlock(). */
  readUnlock(idx: number): void {
    if (this.base < 0) this.claimSlot();
    Atomics.add(this.s, this.base + 3 + (idx & 1), 1); // a full barrier first (smp_mb() C), then count out
  }

  /** Releases this thread's counter slot (its counts stay, so the sums stay balanced). */
  unregisterThread(): void {
    if (this.base < 0) return;
    Atomics.store(this.s, this.base, 0);
    this.base = -1;
  }

  private claimSlot(): void {
    const s = this.s;
    const max = s[MAX_THREADS]!;
    for (let i = 0; i < max; i++) {
      const at = SLOT_BASE + SLOT_WORDS * i;
      if (Atomics.compareExchange(s, at, 0, 1) === 0) {
        this.base = at;
        let high = Atomics.load(s, SLOTS_HIGH);
        while (high < i + 1) high = Atomics.compareExchange(s, SLOTS_HIGH, high, i + 1) === high ? i + 1 : Atomics.load(s, SLOTS_HIGH);
        return;
      }
    }
    throw new Error(`srcu: all ${max} per-thread counter slots are taken`);
  }

  /**
   * srcu_readers_active_idx_check(): true if no reader is counted on `idx`. Unlocks are summed before
   * locks, so a reader that slips in between is counted as still inside, never as gone.
   */
  private readersGone(idx: number): boolean {
    const s = this.s;
    const high = Atomics.load(s, SLOTS_HIGH);
    let unlocks = 0;
    for (let i = 0, at = SLOT_BASE + 3 + idx; i < high; i++, at += SLOT_WORDS) unlocks = (unlocks + Atomics.load(s, at)) | 0;
    let locks = 0;
    for (let i = 0, at = SLOT_BASE + 1 + idx; i < high; i++, at += SLOT_WORDS) locks = (locks + Atomics.load(s, at)) | 0;
    return locks === unlocks;
  }

  /**
   * What another thread can see of the domain (mmsplit explore draws it): srcu_idx, the grace period
   * (srcu_gp_seq: the count, and its state 0 idle, 1 waiting for the inactive index's readers, 2 flipped)
   * and the readers inside a section now. Plain reads: no yield point, for a thread that watches a stopped run.
   */
  peekState(): { idx: number; gp: number; gpState: number; readers: number } {
    const s = this.s;
    return { idx: s[IDX]! & 1, gp: s[GP_SEQ]! >> 2, gpState: s[GP_SEQ]! & SEQ_STATE_MASK, readers: this.readersActive() };
  }

  /**
   * Per counter slot (srcu_data, one per thread that ever read), the read sections it is inside now: its
   * locks minus its unlocks over both indexes. Plain reads, as peekState()'s; the sum is readersActive().
   */
  peekSlots(): number[] {
    const s = this.s;
    const out: number[] = [];
    for (let i = 0, at = SLOT_BASE; i < s[SLOTS_HIGH]!; i++, at += SLOT_WORDS) out.push(this.sectionsIn(at));
    return out;
  }

  /** The read sections the slot at `at` is inside: its locks minus its unlocks over both indexes. */
  private sectionsIn(at: number): number {
    const s = this.s;
    return (s[at + 1]! + s[at + 2]! - s[at + 3]! - s[at + 4]!) | 0;
  }

  /** Readers inside a read section now (for checks and statistics). */
  readersActive(): number {
    const s = this.s;
    const high = Atomics.load(s, SLOTS_HIGH);
    let n = 0;
    for (let i = 0, at = SLOT_BASE; i < high; i++, at += SLOT_WORDS) n += this.sectionsIn(at);
    return n | 0;
  }

  /** get_state_synchronize_srcu(): the cookie of the first grace period that starts after now. */
  private snap(): number {
    return (Atomics.load(this.s, GP_SEQ) + 2 * SEQ_STATE_MASK + 1) & ~SEQ_STATE_MASK;
  }

  /** start_poll_synchronize_srcu(): asks for a grace period; returns its cookie. */
  startPoll(): number {
    const cookie = this.snap();
    const s = this.s;
    let needed = Atomics.load(s, GP_SEQ_NEEDED);
    while (!seqGE(needed, cookie)) {
      const seen = Atomics.compareExchange(s, GP_SEQ_NEEDED, needed, cookie);
      if (seen === needed) break;
      needed = seen;
    }
    return cookie;
  }

  /** poll_state_synchronize_srcu(): has the grace period of `cookie` ended? */
  pollState(cookie: number): boolean {
    return seqGE(Atomics.load(this.s, GP_SEQ), cookie);
  }

  /**
   * srcu_advance_state(): drives the grace-period state machine as far as the readers allow, without
   * waiting. The caller holds GP_MUTEX.
   */
  private advance(): void {
    const s = this.s;
    for (;;) {
      const seq = Atomics.load(s, GP_SEQ);
      switch (seq & SEQ_STATE_MASK) {
        case STATE_IDLE:
          if (seqGE(seq, Atomics.load(s, GP_SEQ_NEEDED))) return;
          Atomics.store(s, GP_SEQ, seq + STATE_SCAN1); // srcu_gp_start()
          break;
        case STATE_SCAN1:
          // Readers still counted on the inactive index entered before the previous flip: wait them out.
          if (!this.readersGone((Atomics.load(s, IDX) & 1) ^ 1)) return;
          Atomics.add(s, IDX, 1); // srcu_flip(): new readers now count on the other index
          Atomics.store(s, GP_SEQ, seq + 1);
          break;
        case STATE_SCAN2:
          if (!this.readersGone((Atomics.load(s, IDX) & 1) ^ 1)) return;
          Atomics.store(s, GP_SEQ, (seq | SEQ_STATE_MASK) + 1); // srcu_gp_end(): complete() the waiters
          if (Atomics.load(s, WAITERS) !== 0) {
            Atomics.add(s, FUTEX, 1);
            Atomics.notify(s, FUTEX);
          }
          break;
        default:
          throw new Error(`srcu: corrupt grace-period state ${seq & SEQ_STATE_MASK}`);
      }
    }
  }

  /** synchronize_srcu(): waits until every read section that began before the call has ended. Sleeps. */
  synchronize(): void {
    this.waitFor(this.startPoll(), 'synchronize_srcu');
    this.processCallbacks();
  }

  /** call_srcu(): `fn` runs on this thread once every read section that began before now has ended. */
  callSrcu(fn: () => void): void {
    this.callbacks.push(this.startPoll(), fn);
  }

  /** Advances the grace period if no other thread is doing so, then runs this thread's ready callbacks. */
  processCallbacks(): number {
    if (this.callbacks.pending === 0) return 0;
    const s = this.s;
    if (!seqGE(Atomics.load(s, GP_SEQ), this.callbacks.oldest()!) && mutexTrylock(s, GP_MUTEX)) {
      try {
        this.advance();
      } finally {
        mutexUnlock(s, GP_MUTEX);
      }
    }
    return this.callbacks.run((c) => this.pollState(c));
  }

  get pendingCallbacks(): number {
    return this.callbacks.pending;
  }

  /** srcu_barrier(): waits until every callback this thread queued has run. */
  barrier(): void {
    const last = this.callbacks.newest();
    if (last !== undefined) this.waitFor(last, 'srcu_barrier');
    this.processCallbacks();
  }

  /**
   * Drives the grace period of `cookie` to its end: advance as far as the readers allow, then sleep until
   * another thread ends it or the retry delay passes, and look again. The delay starts at
   * SRCU_RETRY_DELAY_MS and doubles while readers hold the grace period up, up to SRCU_MAX_DELAY_MS.
   */
  private waitFor(cookie: number, what: string): void {
    const s = this.s;
    const startedAt = performance.now();
    let delayMs = SRCU_RETRY_DELAY_MS;
    Atomics.add(s, WAITERS, 1);
    try {
      for (;;) {
        const v = Atomics.load(s, FUTEX);
        mutexLock(s, GP_MUTEX);
        try {
          this.advance();
        } finally {
          mutexUnlock(s, GP_MUTEX);
        }
        if (this.pollState(cookie)) return;
        // A grace period that ends from now on bumps FUTEX, so this wait cannot miss it.
        futexWait(s, FUTEX, v, what, delayMs, startedAt);
        delayMs = Math.min(2 * delayMs, SRCU_MAX_DELAY_MS);
      }
    } finally {
      Atomics.sub(s, WAITERS, 1);
    }
  }

  /** Checks the domain at quiescence: no reader inside, no grace period half done, nobody waiting. */
  validate(): void {
    const s = this.s;
    const active = this.readersActive();
    if (active !== 0) throw new Error(`srcu: ${active} readers still inside at quiescence`);
    if (Atomics.load(s, WAITERS) !== 0) throw new Error('srcu: synchronizers still waiting at quiescence');
    if (Atomics.load(s, GP_MUTEX) !== 0) throw new Error('srcu: grace-period mutex held at quiescence');
    const seq = Atomics.load(s, GP_SEQ);
    if ((seq & SEQ_STATE_MASK) !== STATE_IDLE && seqGE(seq, Atomics.load(s, GP_SEQ_NEEDED))) {
      throw new Error(`srcu: grace period in state ${seq & SEQ_STATE_MASK} beyond what was needed`);
    }
  }
}
