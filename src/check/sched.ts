/**
 * The deterministic scheduler of `mmsplit check`, in the manner of CHESS and shuttle: the code under test
 * runs unchanged on real worker threads, but only one of them runs at a time, and at every synchronization
 * point — each Atomics operation, each cpu_relax() of a spin loop, each point the code marks — the running
 * thread asks the schedule who runs next and hands over if it is someone else. Plain memory accesses happen
 * between points, as they would between two fences: the designs publish shared data with Atomics.
 *
 * The schedule lives in one shared control block, so whichever thread is running makes the next choice,
 * from shared state only; the whole run is therefore a function of the strategy and its seed:
 *  - random: a uniform choice among the enabled threads at every point;
 *  - pct:    probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): random distinct
 *            priorities, the highest enabled thread runs, and at d-1 random steps the running thread drops
 *            below all others;
 *  - dfs:    a depth-first walk of the choices with a bound on preemptions: a run never preempts except
 *            where its overrides say (decision k: run thread t); check.ts backtracks over the decisions a
 *            run logs to make the next run's overrides.
 * A blocked thread is not enabled: one in futex_wait until a notify of its word (or, for a timed wait, until
 * every other thread is blocked too and its timeout is the earliest), one in cpu_relax() until any thread
 * writes shared memory or nobody else can run. When every thread is blocked for good, the run ends in a deadlock report; after
 * `maxSteps` points, in a livelock report. Time is virtual (one µs per step) so that timeouts and spin limits
 * fall at the same step in every replay.
 */
import { setSchedHooks } from '../sync/relax.js';
import { Prng } from '../util/prng.js';

export type Strategy = 'random' | 'pct' | 'dfs';

// The control block (Int32 words).
/** The control block's word saying which thread may run. */
export const CURRENT = 0; // the thread allowed to run; NOBODY before the start and after the end; ABORT to stop all
const STEP = 1;
const WRITES = 2; // bumped by every write to shared memory: what wakes spinners
const THREADS = 3;
const STRATEGY = 4;
const CLOCK = 5; // virtual µs
const MAX_STEPS = 6;
const SWITCHES = 7;
const PREEMPTIONS = 8;
const DECISIONS = 9; // dfs: choices made with more than one thread enabled
const OVERRIDES = 10; // dfs: how many (decision, thread) overrides the schedule prescribes
const OVERRIDE_NEXT = 13; // dfs: the next override to apply
const CHANGE_NEXT = 11; // pct: index of the next change point
const CHANGES = 12;
const TRACE_SEQ = 14; // orders the trace lines of all threads
const RECORDING = 15; // explore: every yield point pauses for the controller to record the run (record())
const RNG = 16; // 4 words of xoshiro128** state
const PAUSED = 20; // explore: the thread that paused at the yield point being recorded
const T_BASE = 24; // per thread: [state, writes seen, futex key, deadline (virtual µs, -1 none), priority, woken]
const T_WORDS = 6;
export const MAX_THREADS = 8;
const CHANGE_BASE = T_BASE + T_WORDS * MAX_THREADS;
const MAX_CHANGES = 32;
const OVERRIDE_BASE = CHANGE_BASE + MAX_CHANGES; // pairs [decision, thread], by decision
const MAX_OVERRIDES = 1024;
/** dfs: how many decisions a run logs. */
export const MAX_DECISIONS = 1 << 15;
const LOG_BASE = OVERRIDE_BASE + 2 * MAX_OVERRIDES;
const WORDS = LOG_BASE + MAX_DECISIONS;

export const NOBODY = -1;
/** CURRENT once the run is being abandoned: every waiting thread throws ScheduleAborted. */
export const ABORT = -2;
/** CURRENT while the controller records the run at a yield point (explore): every worker waits. */
const RECORDER = -3;

// Thread states.
const RUNNABLE = 0;
const SPINNING = 1;
const FUTEX_WAIT = 2;
const DONE = 3;
const STATE_NAMES = ['runnable', 'spinning in cpu_relax()', 'sleeping in futex_wait', 'done'];

const STRATEGIES: Strategy[] = ['random', 'pct', 'dfs'];

/** What the code under test did wrong, found while it ran under the scheduler. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** Thrown in every waiting thread once the run is being abandoned (another thread failed). */
export class ScheduleAborted extends Error {
  override name = 'ScheduleAborted';
}

export interface ScheduleOptions {
  threads: number;
  strategy: Strategy;
  seed: number;
  maxSteps: number;
  /** pct: the bug depth d (d - 1 priority change points). */
  depth?: number;
  /** pct: the run's expected length in steps, over which change points are spread. */
  expectedSteps?: number;
  /** dfs: [decision, thread] pairs, by decision: where the run departs from "never preempt". */
  overrides?: readonly (readonly [number, number])[];
}

/** One decision a dfs run logged: who could run, who did, and who was running before. */
export interface Decision {
  enabled: number; // bit mask
  chosen: number;
  previous: number; // NOBODY if it had blocked or finished
}

// The real operations, saved before the instrumented Atomics replace the global.
const real = Atomics;
const realNow = performance.now.bind(performance);

/** The shared control block: made by the controller, attached by every worker. */
export class SchedControl {
  readonly c: Int32Array;

  static create(): SchedControl {
    const ctl = new SchedControl(new SharedArrayBuffer(4 * WORDS));
    ctl.c[CURRENT] = NOBODY; // nobody runs before start()
    return ctl;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.c = new Int32Array(buffer);
  }

  /** Prepares a run (controller thread, while no worker runs). */
  reset(o: ScheduleOptions): void {
    const c = this.c;
    if (o.threads < 1 || o.threads > MAX_THREADS) throw new RangeError(`check: 1 to ${MAX_THREADS} threads`);
    c.fill(0, 0, OVERRIDE_BASE);
    c[CURRENT] = NOBODY;
    c[THREADS] = o.threads;
    c[STRATEGY] = STRATEGIES.indexOf(o.strategy);
    c[MAX_STEPS] = o.maxSteps;
    const rnd = new Prng(o.seed);
    for (let i = 0; i < 4; i++) c[RNG + i] = rnd.u32() | (i === 3 ? 1 : 0);
    for (let t = 0; t < o.threads; t++) c[T_BASE + T_WORDS * t + 3] = -1;
    if (o.strategy === 'pct') {
      const d = Math.max(1, Math.min(o.depth ?? 3, MAX_CHANGES + 1));
      // Priorities d .. d+n-1 in random order; change point i lowers the running thread to priority i.
      const order = Array.from({ length: o.threads }, (_, t) => t);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rnd.below(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      order.forEach((t, k) => (c[T_BASE + T_WORDS * t + 4] = d + k));
      const k = Math.max(1, o.expectedSteps ?? 1000);
      const points = Array.from({ length: d - 1 }, () => 1 + rnd.below(k)).sort((a, b) => a - b);
      points.forEach((p, i) => (c[CHANGE_BASE + i] = p));
      c[CHANGES] = points.length;
    }
    if (o.strategy === 'dfs') {
      const ov = o.overrides ?? [];
      if (ov.length > MAX_OVERRIDES) throw new RangeError(`check: at most ${MAX_OVERRIDES} dfs overrides`);
      ov.forEach(([k, t], i) => {
        if (t < 0 || t >= o.threads || (i > 0 && k <= ov[i - 1]![0])) throw new RangeError(`check: bad dfs override ${k}=${t}`);
        c[OVERRIDE_BASE + 2 * i] = k;
        c[OVERRIDE_BASE + 2 * i + 1] = t;
      });
      c[OVERRIDES] = ov.length;
    }
  }

  get steps(): number {
    return this.c[STEP]!;
  }

  /**
   * explore: from start() on, every yield point hands the turn to the controller before the schedule
   * picks who runs next, and follow() records it there (controller, after reset(), before start()). The
   * pause changes nothing the schedule reads — the step, the clock, the random state, who is enabled — so
   * the run takes the same turns as it does unrecorded.
   */
  record(): void {
    this.c[RECORDING] = 1;
  }

  /**
   * explore, on the controller right after start(): blocks while the run goes on, and at each yield point,
   * while the thread that reached it and every other worker waits, calls `onPoint(step, thread)`, which may
   * read the shared memory (and must write none of it), then gives the turn back to that thread. Ends when
   * every thread is done, when the run is abandoned, or at `deadline` (the real performance.now(), ms).
   */
  follow(onPoint: (step: number, thread: number) => void, deadline: number): 'done' | 'aborted' | 'timeout' {
    const c = this.c;
    for (;;) {
      const cur = real.load(c, CURRENT);
      if (cur === RECORDER) {
        const t = c[PAUSED]!;
        try {
          onPoint(c[STEP]!, t);
        } catch (e) {
          this.abort();
          throw e;
        }
        real.store(c, CURRENT, t);
        real.notify(c, CURRENT);
        continue;
      }
      if (cur === NOBODY) return 'done';
      if (cur === ABORT) return 'aborted';
      if (realNow() > deadline) return 'timeout';
      real.wait(c, CURRENT, cur, 20);
    }
  }

  /** Each thread's state as the schedule sees it: runnable, spinning in cpu_relax(), sleeping in futex_wait, done. */
  threadStates(): string[] {
    const c = this.c;
    return Array.from({ length: c[THREADS]! }, (_, t) => STATE_NAMES[c[T_BASE + T_WORDS * t]!]!);
  }

  /** The threads asleep in futex_wait on word `index` of `ta`: what the schedule knows of who waits there. */
  sleepersOn(ta: Int32Array, index: number): number[] {
    const c = this.c, key = futexKey(ta, index), out: number[] = [];
    for (let t = 0; t < c[THREADS]!; t++) if (c[T_BASE + T_WORDS * t] === FUTEX_WAIT && c[T_BASE + T_WORDS * t + 2] === key) out.push(t);
    return out;
  }

  get switches(): number {
    return this.c[SWITCHES]!;
  }

  get preemptions(): number {
    return this.c[PREEMPTIONS]!;
  }

  /** dfs: the decisions the last run made. */
  decisions(): Decision[] {
    const c = this.c;
    const n = Math.min(c[DECISIONS]!, MAX_DECISIONS);
    const out: Decision[] = [];
    for (let k = 0; k < n; k++) {
      const w = c[LOG_BASE + k]!;
      out.push({ enabled: w & 0xff, chosen: (w >> 8) & 0xff, previous: ((w >> 16) & 0xff) === 0xff ? NOBODY : (w >> 16) & 0xff });
    }
    return out;
  }

  /** Lets the first thread run (controller, once every worker waits for its turn). */
  start(): void {
    const first = this.choose(NOBODY);
    if (first < 0) throw new ScheduleError('check: no thread can start');
    this.handOver(first);
  }

  /** Lets thread `first` run, for a scheduler of its own (the simulated machine). */
  begin(first: number): void {
    this.handOver(first);
  }

  /** Stops a run: every thread waiting for its turn throws ScheduleAborted. */
  abort(): void {
    real.store(this.c, CURRENT, ABORT);
    real.notify(this.c, CURRENT);
  }

  private handOver(next: number): void {
    real.store(this.c, CURRENT, next);
    real.notify(this.c, CURRENT);
  }

  get finished(): boolean {
    const c = this.c;
    for (let t = 0; t < c[THREADS]!; t++) if (c[T_BASE + T_WORDS * t]! !== DONE) return false;
    return true;
  }

  private enabled(t: number): boolean {
    const c = this.c;
    const b = T_BASE + T_WORDS * t;
    switch (c[b]) {
      case RUNNABLE:
        return true;
      case SPINNING:
        return c[WRITES]! !== c[b + 1]!;
      case FUTEX_WAIT:
        return c[b + 5]! !== 0;
      default:
        return false;
    }
  }

  /**
   * Who runs next, `cur` being the thread asking (NOBODY if it has blocked or finished). Returns NOBODY
   * if nobody can run at all: a deadlock, unless every thread is done.
   */
  choose(cur: number): number {
    const c = this.c;
    const n = c[THREADS]!;
    let mask = 0;
    let count = 0;
    for (let t = 0; t < n; t++) {
      if (this.enabled(t)) {
        mask |= 1 << t;
        count++;
      }
    }
    if (count === 0) return this.spinOn();
    const running = cur !== NOBODY && (mask & (1 << cur)) !== 0 ? cur : NOBODY;
    let next: number;
    switch (c[STRATEGY]) {
      case 0: // random
        next = nth(mask, this.random(count));
        break;
      case 1: {
        // pct: the highest priority among the enabled.
        next = NOBODY;
        let best = -1;
        for (let t = 0; t < n; t++) {
          const p = c[T_BASE + T_WORDS * t + 4]!;
          if ((mask & (1 << t)) !== 0 && p > best) {
            best = p;
            next = t;
          }
        }
        break;
      }
      default: {
        // dfs: no preemption (the lowest enabled if the runner stopped), except where an override says.
        next = dfsDefault(mask, running);
        if (count > 1) {
          const k = c[DECISIONS]!++;
          const o = c[OVERRIDE_NEXT]!;
          if (o < c[OVERRIDES]! && c[OVERRIDE_BASE + 2 * o] === k) {
            next = c[OVERRIDE_BASE + 2 * o + 1]!;
            c[OVERRIDE_NEXT]!++;
            if ((mask & (1 << next)) === 0) throw new ScheduleError(`check: the schedule diverged at decision ${k} (thread ${next} cannot run): the code under test is not deterministic`);
          }
          if (k < MAX_DECISIONS) c[LOG_BASE + k] = mask | (next << 8) | ((running === NOBODY ? 0xff : running) << 16);
        }
      }
    }
    if (running !== NOBODY && next !== running) c[PREEMPTIONS]!++;
    return next;
  }

  /**
   * Nobody is enabled. A spinner runs on (its spin may be bounded: it goes to sleep after so many turns);
   * failing that, the timed waiter with the earliest deadline wakes, the clock advancing to it.
   */
  private spinOn(): number {
    const c = this.c;
    for (let t = 0; t < c[THREADS]!; t++) if (c[T_BASE + T_WORDS * t] === SPINNING) return t;
    let who = NOBODY;
    let at = 0;
    for (let t = 0; t < c[THREADS]!; t++) {
      const b = T_BASE + T_WORDS * t;
      if (c[b] === FUTEX_WAIT && c[b + 3]! >= 0 && (who === NOBODY || c[b + 3]! < at)) {
        who = t;
        at = c[b + 3]!;
      }
    }
    if (who === NOBODY) return NOBODY;
    if (at > c[CLOCK]!) c[CLOCK] = at;
    c[T_BASE + T_WORDS * who + 3] = -1; // the deadline passed: wakes as timed out
    c[T_BASE + T_WORDS * who] = RUNNABLE;
    return who;
  }

  /** xoshiro128** over the shared state: a uniform integer in [0, n). */
  private random(n: number): number {
    const c = this.c;
    const a = c[RNG]!, b = c[RNG + 1]!, cc = c[RNG + 2]!, d = c[RNG + 3]!;
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    const c2 = cc ^ a;
    const d2 = d ^ b;
    c[RNG + 1] = b ^ c2;
    c[RNG] = a ^ d2;
    c[RNG + 2] = c2 ^ t;
    c[RNG + 3] = rotl(d2, 11);
    return result % n;
  }

  /** One line per thread, for deadlock reports. */
  describeThreads(): string {
    const c = this.c;
    const out: string[] = [];
    for (let t = 0; t < c[THREADS]!; t++) out.push(`T${t} ${STATE_NAMES[c[T_BASE + T_WORDS * t]!]}`);
    return out.join(', ');
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** What dfs runs when no override says otherwise: the running thread, else the lowest enabled one. */
export function dfsDefault(mask: number, running: number): number {
  return running !== NOBODY && (mask & (1 << running)) !== 0 ? running : nth(mask, 0);
}

/** The index of the k-th set bit of mask. */
function nth(mask: number, k: number): number {
  for (let t = 0; ; t++) if ((mask & (1 << t)) !== 0 && k-- === 0) return t;
}

/** A futex key for (buffer, word): sizes and offsets stand in for the address, which JS does not show. */
export function futexKey(ta: Int32Array, index: number): number {
  return (Math.imul(ta.buffer.byteLength | 0, 0x9e3779b1) ^ (ta.byteOffset + 4 * index)) | 0;
}

/** One line of a replayed trace. */
export interface TraceEntry {
  /** Position in the whole run's trace. */
  seq: number;
  step: number;
  thread: number;
  what: string;
  /** A yield point (as opposed to a line the code under test wrote). */
  point: boolean;
}

/**
 * The scheduler as one worker thread sees it: it is thread `me`, its yield points go through here while
 * `active`, and (when tracing) it writes down what it did at each point.
 */
export class ScheduledThread implements SchedThread {
  protected readonly c: Int32Array;
  readonly log: TraceEntry[] = [];

  constructor(
    private readonly ctl: SchedControl,
    readonly me: number,
    private readonly tracing: boolean,
  ) {
    this.c = ctl.c;
  }

  /** Blocks until this thread may run (the first time, and after every hand-over). */
  awaitTurn(): void {
    const c = this.c;
    for (;;) {
      const cur = real.load(c, CURRENT);
      if (cur === this.me) return;
      if (cur === ABORT) throw new ScheduleAborted('check: run abandoned');
      real.wait(c, CURRENT, cur, 1000);
    }
  }

  /** A yield point: counts the step, lets the schedule pick who runs next, hands over if not us. */
  point(what: string, detail?: string): void {
    const c = this.c;
    // Once the run is abandoned, nothing more runs under it (not even the finally blocks of the unwinding).
    if (real.load(c, CURRENT) === ABORT) throw new ScheduleAborted('check: run abandoned');
    const step = ++c[STEP]!;
    c[CLOCK]!++;
    if (this.tracing) this.record(`${detail === undefined ? what : `${what} ${detail}`}  ${caller()}`, true);
    if (c[RECORDING] !== 0) this.pauseForRecorder();
    if (step > c[MAX_STEPS]!) throw new ScheduleError(`livelock: no end after ${c[MAX_STEPS]} steps (${this.ctl.describeThreads()})`);
    if (c[CHANGE_NEXT]! < c[CHANGES]! && step >= c[CHANGE_BASE + c[CHANGE_NEXT]!]!) {
      c[T_BASE + T_WORDS * this.me + 4] = ++c[CHANGE_NEXT]!; // pct: the runner drops below everyone
    }
    const next = this.ctl.choose(this.me);
    if (next !== this.me) this.switchTo(next);
  }

  atomic(op: number, _ta: ArrayBufferView, index: number): void {
    this.point(ATOMIC_OPS[op]!, this.tracing ? `[${index}]` : undefined);
  }

  /** Page-sized memory traffic costs the checker nothing: it is no yield point. */
  memoryStart(): number {
    return 0;
  }

  memory(_bytes: number, _startedAt: number): void {}

  /** Writes a line into the trace at the current step (tracing only). */
  note(what: string): void {
    if (this.tracing) this.record(what, false);
  }

  private record(what: string, point: boolean): void {
    this.log.push({ seq: this.c[TRACE_SEQ]!++, step: this.c[STEP]!, thread: this.me, what, point });
  }

  /** explore: lets the controller record the run as this thread reached the point; waits for the turn back. */
  private pauseForRecorder(): void {
    this.c[PAUSED] = this.me;
    this.passTurn(RECORDER); // not handOver(): a subclass's (the simulated CPU's) is for its own threads
    this.awaitTurn();
  }

  private switchTo(next: number): void {
    if (next === NOBODY) {
      throw new ScheduleError(`deadlock: every thread is blocked for good (${this.ctl.describeThreads()})`);
    }
    this.c[SWITCHES]!++;
    this.handOver(next);
    this.awaitTurn();
  }

  /** Hands the turn to `next`, unless the run was abandoned meanwhile (then ABORT must stay). */
  protected handOver(next: number): void {
    this.passTurn(next);
  }

  private passTurn(next: number): void {
    if (real.compareExchange(this.c, CURRENT, this.me, next) !== this.me) throw new ScheduleAborted('check: run abandoned');
    real.notify(this.c, CURRENT);
  }

  /** After an operation that may have written shared memory. */
  wrote(): void {
    this.c[WRITES]!++;
  }

  /** cpu_relax(): not enabled again until some thread writes. */
  relax(): void {
    const b = T_BASE + T_WORDS * this.me;
    this.c[b] = SPINNING;
    this.c[b + 1] = this.c[WRITES]!;
    this.point('cpu_relax');
    this.c[b] = RUNNABLE;
  }

  /** Atomics.wait(): sleeps until a notify on the same word, or the (virtual) timeout. */
  wait(ta: Int32Array, index: number, value: number, timeoutMs: number | undefined): 'ok' | 'not-equal' | 'timed-out' {
    this.point('futex_wait', this.tracing ? `[${index}]` : undefined);
    if (real.load(ta, index) !== value) return 'not-equal';
    const c = this.c;
    const b = T_BASE + T_WORDS * this.me;
    c[b] = FUTEX_WAIT;
    c[b + 2] = futexKey(ta, index);
    c[b + 3] = timeoutMs === undefined || timeoutMs === Infinity ? -1 : c[CLOCK]! + Math.max(1, Math.ceil(timeoutMs * 1000));
    c[b + 5] = 0;
    this.note('  sleeps');
    const next = this.ctl.choose(NOBODY);
    if (next !== this.me) this.switchTo(next);
    const woken = c[b + 5] !== 0;
    c[b] = RUNNABLE;
    c[b + 3] = -1;
    this.note(woken ? '  woken' : '  timed out');
    return woken ? 'ok' : 'timed-out';
  }

  /** Atomics.notify(): wakes up to `count` threads sleeping on the same word. */
  notify(ta: Int32Array, index: number, count: number | undefined): number {
    this.point('futex_wake', this.tracing ? `[${index}]` : undefined);
    const c = this.c;
    const key = futexKey(ta, index);
    let left = count === undefined ? Infinity : count;
    let n = 0;
    for (let t = 0; t < c[THREADS]! && left > 0; t++) {
      const b = T_BASE + T_WORDS * t;
      if (c[b] === FUTEX_WAIT && c[b + 2] === key && c[b + 5] === 0) {
        c[b + 5] = 1;
        left--;
        n++;
      }
    }
    this.wrote();
    return n;
  }

  /** The thread's code is over: it is done, and someone else runs (or the run ends). */
  finish(): void {
    const c = this.c;
    c[T_BASE + T_WORDS * this.me] = DONE;
    this.note('exits');
    if (this.ctl.finished) {
      this.handOver(NOBODY);
      return;
    }
    const next = this.ctl.choose(NOBODY);
    if (next === NOBODY) throw new ScheduleError(`deadlock: T${this.me} exited and every other thread is blocked for good (${this.ctl.describeThreads()})`);
    this.handOver(next);
  }

  /** Virtual time, ms. */
  now(): number {
    return this.c[CLOCK]! / 1000;
  }
}

/** Where the code stood at a yield point: the first frames outside the scheduler. */
function caller(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  const frames: string[] = [];
  for (const line of stack.slice(1)) {
    if (line.includes('/check/sched.') || line.includes('/sync/relax.')) continue;
    const m = /at (?:new )?([\w$.<>]+) \(/.exec(line);
    frames.push(m ? m[1]!.replace(/^\w+\./, (s) => (s === 'Object.' ? '' : s)) : '?');
    if (frames.length === 3) break;
  }
  return `(${frames.join(' ← ')})`;
}

/** The Atomics operations the scheduler sees, by the number its threads are told (load alone writes nothing). */
export const ATOMIC_OPS = ['load', 'store', 'add', 'sub', 'and', 'or', 'xor', 'exchange', 'compareExchange'] as const;
export const ATOMIC_LOAD = 0;

/**
 * A thread under a scheduler, as the instrumented Atomics, cpu_relax(), schedPoint() and memoryTraffic()
 * reach it: a ScheduledThread of the checker, or a simulated CPU (src/sim/) built on it.
 */
export interface SchedThread {
  /** Before Atomics operation `op` (ATOMIC_OPS) on ta[index]. */
  atomic(op: number, ta: ArrayBufferView, index: number): void;
  /** After an operation that may have written shared memory. */
  wrote(): void;
  wait(ta: Int32Array, index: number, value: number, timeoutMs: number | undefined): 'ok' | 'not-equal' | 'timed-out';
  notify(ta: Int32Array, index: number, count: number | undefined): number;
  relax(): void;
  point(what: string, detail?: string): void;
  memoryStart(): number;
  memory(bytes: number, startedAt: number): void;
  /** The clock, ms. */
  now(): number;
}

let current: SchedThread | null = null;

/**
 * Puts this worker thread under the scheduler from now on: the global Atomics becomes a copy whose
 * operations are yield points while a thread is active (setActive), performance.now() reads the virtual
 * clock, and cpu_relax()/schedPoint() yield. Call once per worker, before running code under test.
 */
export function installScheduler(): void {
  const A: Record<string, unknown> = {};
  for (const k of Object.getOwnPropertyNames(real)) A[k] = (real as unknown as Record<string, unknown>)[k];
  // One wrapper per arity, no rest parameters: these run at every Atomics operation of the code under test.
  const read = (op: number, f: (ta: never, i: number) => unknown) => (ta: ArrayBufferView, index: number) => {
    if (current !== null) current.atomic(op, ta, index);
    return f(ta as never, index);
  };
  const write = (op: number, f: (ta: never, i: number, v: never) => unknown) => (ta: ArrayBufferView, index: number, v: never) => {
    if (current === null) return f(ta as never, index, v);
    current.atomic(op, ta, index);
    const r = f(ta as never, index, v);
    current.wrote();
    return r;
  };
  const CAS = ATOMIC_OPS.indexOf('compareExchange');
  ATOMIC_OPS.forEach((name, op) => {
    const f = real[name].bind(real) as never;
    A[name] = op === ATOMIC_LOAD ? read(op, f) : op !== CAS ? write(op, f) : (ta: ArrayBufferView, index: number, expected: never, replacement: never) => {
      const cas = f as (ta: ArrayBufferView, i: number, e: never, r: never) => unknown;
      if (current === null) return cas(ta, index, expected, replacement);
      current.atomic(op, ta, index);
      const r = cas(ta, index, expected, replacement);
      current.wrote();
      return r;
    };
  });
  A.isLockFree = real.isLockFree;
  A.wait = (ta: Int32Array, index: number, value: number, timeout?: number) =>
    current !== null ? current.wait(ta, index, value, timeout) : real.wait(ta, index, value, timeout);
  A.notify = (ta: Int32Array, index: number, count?: number) => (current !== null ? current.notify(ta, index, count) : real.notify(ta, index, count));
  (globalThis as { Atomics: unknown }).Atomics = A;
  performance.now = () => (current !== null ? current.now() : realNow());
  setSchedHooks({
    relax: () => current?.relax(),
    point: (label) => current?.point('point', label),
    memoryStart: () => (current !== null ? current.memoryStart() : 0),
    memory: (bytes, startedAt) => current?.memory(bytes, startedAt),
  });
}

/** Makes `t` the thread whose yield points the scheduler sees (null: run free). */
export function setActive(t: SchedThread | null): void {
  current = t;
}
