import { sharedBuffer } from '../shm/buffers.js';
import { CallbackQueue, seqGE } from './callbacks.js';
import { cpuRelax } from './relax.js';
import { addSleepObserver, futexWait, removeSleepObserver, SleepInAtomicError, type SleepObserver } from './sleep.js';

/** Everything a worker needs to join an RCU domain. */
export interface RcuHandle {
  readonly kind: 'mmsplit.rcu';
  readonly state: SharedArrayBuffer;
}

// Layout of the shared state (Int32 words).
const GP = 0; // grace-period counter: advances by 2, never 0 (0 marks an offline reader)
const FUTEX = 1; // bumped by readers to wake a waiting synchronizer
const WAITERS = 2; // synchronizers sleeping on FUTEX
const SLOTS_HIGH = 3; // 1 + the highest reader slot ever claimed
const MAX_THREADS = 4;
const SLOT_BASE = 8; // per reader slot: [owner, ctr]
const SLOT_WORDS = 2;

/**
 * Read-copy update, in the quiescent-state-based flavour of liburcu (QSBR).
 *
 * Guarantee: a grace period that starts after a writer unpublished a pointer ends only when every
 * registered thread that was online at its start has passed a quiescent state or gone offline; a reader
 * that got the pointer inside rcu_read_lock() … rcu_read_unlock() may use it until its next quiescent
 * state. So synchronize() returns, and a callRcu() callback runs, only when no reader can still hold what
 * was unpublished before the call.
 *
 * Read side: readLock()/readUnlock() cost no atomic operation (they only count nesting, to catch bugs);
 * instead each reader thread reports a quiescent state between operations (quiescentState(), e.g. once
 * per page fault) and goes offline whenever it sleeps — futexWait() does that for it — so a thread that is
 * asleep outside a read section never holds up a grace period. Sleeping inside a read section throws
 * SleepInAtomicError.
 *
 * One Rcu object per thread and domain: create() on one thread, attach(handle) on the others; a thread
 * that reads registers with registerThread(). Callbacks given to callRcu() run on the thread that queued
 * them, from quiescentState(), processCallbacks(), synchronize() or barrier().
 */
export class Rcu implements SleepObserver {
  private readonly s: Int32Array;
  private readonly callbacks = new CallbackQueue();
  private slot = -1;
  private ctrIndex = -1;
  private nesting = 0;
  private isOnline = false;
  private offlineForSleep = false;
  private qsTick = 0;
  /** Latest grace-period counter value known to be complete (a cache of completedNow()). */
  private completed = 0;

  static create(opts: { maxThreads?: number } = {}): Rcu {
    const maxThreads = opts.maxThreads ?? 64;
    const state = sharedBuffer(4 * (SLOT_BASE + SLOT_WORDS * maxThreads));
    const s = new Int32Array(state);
    s[GP] = 2;
    s[MAX_THREADS] = maxThreads;
    return new Rcu({ kind: 'mmsplit.rcu', state });
  }

  static attach(handle: RcuHandle): Rcu {
    if (handle?.kind !== 'mmsplit.rcu') throw new TypeError('not an RCU handle');
    return new Rcu(handle);
  }

  private constructor(private readonly h: RcuHandle) {
    this.s = new Int32Array(h.state);
    this.completed = Atomics.load(this.s, GP);
  }

  handle(): RcuHandle {
    return this.h;
  }

  /** rcu_register_thread(): this thread becomes a reader, online. */
  registerThread(): void {
    if (this.slot >= 0) throw new Error('rcu_register_thread: thread already registered');
    const s = this.s;
    const max = s[MAX_THREADS]!;
    for (let i = 0; i < max; i++) {
      if (Atomics.compareExchange(s, SLOT_BASE + SLOT_WORDS * i, 0, 1) === 0) {
        this.slot = i;
        this.ctrIndex = SLOT_BASE + SLOT_WORDS * i + 1;
        let high = Atomics.load(s, SLOTS_HIGH);
        while (high < i + 1) high = Atomics.compareExchange(s, SLOTS_HIGH, high, i + 1) === high ? i + 1 : Atomics.load(s, SLOTS_HIGH);
        addSleepObserver(this);
        this.threadOnline();
        return;
      }
    }
    throw new Error(`rcu_register_thread: all ${max} reader slots are taken`);
  }

  /** rcu_unregister_thread(): this thread stops being a reader. */
  unregisterThread(): void {
    if (this.slot < 0) return;
    if (this.nesting !== 0) throw new SleepInAtomicError('rcu_unregister_thread inside rcu_read_lock()');
    this.threadOffline();
    removeSleepObserver(this);
    Atomics.store(this.s, SLOT_BASE + SLOT_WORDS * this.slot, 0);
    this.slot = -1;
    this.ctrIndex = -1;
  }

  /** rcu_read_lock(): nestable, no atomic operation. */
  readLock(): void {
    if (!this.isOnline) throw new Error('rcu_read_lock() on a thread that is not an online RCU reader');
    this.nesting++;
  }

  /** rcu_read_unlock(). */
  readUnlock(): void {
    this.nesting--;
  }

  /** Depth of rcu_read_lock() nesting on this thread (0 outside any read section). */
  get readDepth(): number {
    return this.nesting;
  }

  get online(): boolean {
    return this.isOnline;
  }

  /** rcu_quiescent_state(): this thread holds no RCU-protected pointer now. Call between operations. */
  quiescentState(): void {
    if (this.nesting !== 0) throw new SleepInAtomicError('rcu_quiescent_state() inside rcu_read_lock()');
    if (!this.isOnline) throw new Error('rcu_quiescent_state() on an offline thread');
    const s = this.s;
    Atomics.store(s, this.ctrIndex, Atomics.load(s, GP)); // a full barrier: earlier reads are done
    if (Atomics.load(s, WAITERS) !== 0) this.wakeSynchronizers();
    if (this.callbacks.pending !== 0 && (++this.qsTick & 15) === 0) this.processCallbacks();
  }

  /** rcu_thread_offline(): this thread will not read for a while (it is about to sleep or idle). */
  threadOffline(): void {
    if (this.nesting !== 0) throw new SleepInAtomicError('rcu_thread_offline() inside rcu_read_lock()');
    if (!this.isOnline) return;
    this.isOnline = false;
    Atomics.store(this.s, this.ctrIndex, 0);
    if (Atomics.load(this.s, WAITERS) !== 0) this.wakeSynchronizers();
  }

  /** rcu_thread_online(). */
  threadOnline(): void {
    if (this.slot < 0) throw new Error('rcu_thread_online() on an unregistered thread');
    if (this.isOnline) return;
    Atomics.store(this.s, this.ctrIndex, Atomics.load(this.s, GP));
    this.isOnline = true;
  }

  /** get_state/start_poll_synchronize_rcu(): starts a grace period and returns its cookie. */
  startPoll(): number {
    // The counter would need 2^30 grace periods to wrap onto 0, the offline mark; skip it if it ever does.
    let gp = Atomics.add(this.s, GP, 2) + 2;
    if (gp === 0) gp = Atomics.add(this.s, GP, 2) + 2;
    return gp;
  }

  /** poll_state_synchronize_rcu(): has the grace period of `cookie` ended? */
  pollState(cookie: number): boolean {
    if (seqGE(this.completed, cookie)) return true;
    this.completed = this.completedNow();
    return seqGE(this.completed, cookie);
  }

  /** The oldest counter value still held by an online reader, or the current one if none lags. */
  private completedNow(): number {
    const s = this.s;
    let min = Atomics.load(s, GP);
    const high = Atomics.load(s, SLOTS_HIGH);
    for (let i = 0, at = SLOT_BASE + 1; i < high; i++, at += SLOT_WORDS) {
      const c = Atomics.load(s, at);
      if (c !== 0 && ((c - min) | 0) < 0) min = c;
    }
    return min;
  }

  /**
   * What another thread can see of the domain (mmsplit explore draws it): the grace-period counter, the
   * synchronizers asleep, and per reader slot 0 when offline, else the counter value of its last quiescent
   * state — an online slot behind `gp` holds up the grace period that counter started. Plain reads, no
   * Atomics: no yield point, for a thread that watches a stopped run.
   */
  peekReaders(): { gp: number; waiters: number; slots: number[] } {
    const s = this.s;
    const slots: number[] = [];
    for (let i = 0; i < s[SLOTS_HIGH]!; i++) slots.push(s[SLOT_BASE + SLOT_WORDS * i] === 0 ? 0 : s[SLOT_BASE + SLOT_WORDS * i + 1]!);
    return { gp: s[GP]!, waiters: s[WAITERS]!, slots };
  }

  /** synchronize_rcu(): waits for a full grace period. Must not be called inside a read section. */
  synchronize(): void {
    if (this.nesting !== 0) throw new SleepInAtomicError('synchronize_rcu() inside rcu_read_lock()');
    this.waitFor(this.startPoll(), 'synchronize_rcu');
    this.processCallbacks();
  }

  /** call_rcu(): `fn` runs on this thread after a grace period. */
  callRcu(fn: () => void): void {
    this.callbacks.push(this.startPoll(), fn);
  }

  /** Runs this thread's callbacks whose grace period has ended; returns how many ran. */
  processCallbacks(): number {
    if (this.callbacks.pending === 0) return 0;
    return this.callbacks.run((c) => this.pollState(c));
  }

  /** Callbacks queued by this thread and not yet run. */
  get pendingCallbacks(): number {
    return this.callbacks.pending;
  }

  /** rcu_barrier(): waits until every callback this thread queued has run. */
  barrier(): void {
    if (this.nesting !== 0) throw new SleepInAtomicError('rcu_barrier() inside rcu_read_lock()');
    const last = this.callbacks.newest();
    if (last !== undefined) this.waitFor(last, 'rcu_barrier');
    this.processCallbacks();
  }

  private waitFor(cookie: number, what: string): void {
    if (this.pollState(cookie)) return;
    const wasOnline = this.isOnline;
    if (wasOnline) this.threadOffline(); // our own counter must not hold us up
    const s = this.s;
    try {
      for (let spin = 0; spin < 64; spin++) {
        if (this.pollState(cookie)) return;
        cpuRelax();
      }
      const startedAt = performance.now();
      Atomics.add(s, WAITERS, 1);
      try {
        for (;;) {
          const v = Atomics.load(s, FUTEX);
          if (this.pollState(cookie)) return;
          futexWait(s, FUTEX, v, what, Infinity, startedAt);
        }
      } finally {
        Atomics.sub(s, WAITERS, 1);
      }
    } finally {
      if (wasOnline) this.threadOnline();
    }
  }

  private wakeSynchronizers(): void {
    Atomics.add(this.s, FUTEX, 1);
    Atomics.notify(this.s, FUTEX);
  }

  // SleepObserver: a reader goes offline while it sleeps, and must never sleep inside a read section.
  assertMaySleep(what: string): void {
    if (this.nesting !== 0) {
      throw new SleepInAtomicError(`BUG: sleeping function called from invalid context: ${what} inside rcu_read_lock()`);
    }
  }

  beforeSleep(): void {
    if (this.isOnline) {
      this.offlineForSleep = true;
      this.threadOffline();
    }
  }

  afterSleep(): void {
    if (this.offlineForSleep) {
      this.offlineForSleep = false;
      this.threadOnline();
    }
  }

  /** Checks the shared state; call at quiescence. */
  validate(): void {
    const s = this.s;
    const high = Atomics.load(s, SLOTS_HIGH);
    if (high > s[MAX_THREADS]!) throw new Error(`rcu: ${high} slots claimed of ${s[MAX_THREADS]}`);
    if (Atomics.load(s, WAITERS) !== 0) throw new Error('rcu: synchronizers still waiting at quiescence');
    const gp = Atomics.load(s, GP);
    for (let i = 0; i < high; i++) {
      const owner = Atomics.load(s, SLOT_BASE + SLOT_WORDS * i);
      const c = Atomics.load(s, SLOT_BASE + SLOT_WORDS * i + 1);
      if (owner === 0 && c !== 0) throw new Error(`rcu: free slot ${i} is online`);
      if (c !== 0 && ((gp - c) | 0) < 0) throw new Error(`rcu: slot ${i} is ahead of the grace-period counter`);
    }
  }
}
