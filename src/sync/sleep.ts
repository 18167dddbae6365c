/**
 * Where a thread goes to sleep. Every blocking primitive of mmsplit sleeps through futexWait(), so that
 * three things hold everywhere:
 *  - might_sleep(): sleeping inside an RCU read-side critical section is a bug (the kernel's "BUG: sleeping
 *    function called from invalid context"); it throws SleepInAtomicError instead of blocking grace periods;
 *  - a QSBR RCU reader that sleeps outside a read section goes offline first, so it never holds up a grace
 *    period, and comes back online when it wakes;
 *  - no wait is unbounded when a limit is set (tests set one): a lost wake-up throws WaitTimeoutError naming
 *    the primitive instead of hanging.
 */

export class SleepInAtomicError extends Error {
  override name = 'SleepInAtomicError';
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/** Something in this thread that cares when the thread sleeps (an RCU reader). */
export interface SleepObserver {
  /** Throws SleepInAtomicError if sleeping is illegal now. */
  assertMaySleep(what: string): void;
  /** Called just before the thread blocks (after assertMaySleep passed for every observer). */
  beforeSleep(): void;
  afterSleep(): void;
}

const observers: SleepObserver[] = [];
let waitLimitMs = Infinity;

export function addSleepObserver(o: SleepObserver): void {
  if (!observers.includes(o)) observers.push(o);
}

export function removeSleepObserver(o: SleepObserver): void {
  const i = observers.indexOf(o);
  if (i >= 0) observers.splice(i, 1);
}

/**
 * Bounds every sleep of this thread to `ms` in all (Infinity: unbounded, the default). Tests set it so
 * that a lost wake-up fails with a WaitTimeoutError rather than hanging.
 */
export function setWaitLimit(ms: number): void {
  waitLimitMs = ms;
}

export function waitLimit(): number {
  return waitLimitMs;
}

/** The kernel's might_sleep(): throws if the caller is in a context that must not sleep. */
export function mightSleep(what: string): void {
  for (let i = 0; i < observers.length; i++) observers[i]!.assertMaySleep(what);
}

function enterSleep(what: string): void {
  mightSleep(what);
  for (let i = 0; i < observers.length; i++) observers[i]!.beforeSleep();
}

function leaveSleep(): void {
  for (let i = 0; i < observers.length; i++) observers[i]!.afterSleep();
}

/**
 * Sleeps while i32[index] === expected, at most `timeoutMs` (then returns 'timed-out'), like futex(FUTEX_WAIT).
 * `startedAt` (performance.now() of the first wait of this acquisition) lets repeated waits share one limit.
 */
export function futexWait(
  i32: Int32Array,
  index: number,
  expected: number,
  what: string,
  timeoutMs = Infinity,
  startedAt = -1,
): 'ok' | 'not-equal' | 'timed-out' {
  let slice = timeoutMs;
  if (waitLimitMs !== Infinity) {
    const spent = startedAt < 0 ? 0 : performance.now() - startedAt;
    const left = waitLimitMs - spent;
    if (left <= 0) throw new WaitTimeoutError(`${what}: still waiting after ${waitLimitMs} ms (lost wake-up?)`);
    if (left < slice) slice = left;
  }
  enterSleep(what);
  let r: 'ok' | 'not-equal' | 'timed-out';
  try {
    r = Atomics.wait(i32, index, expected, slice);
  } finally {
    leaveSleep();
  }
  if (r === 'timed-out' && slice < timeoutMs) {
    throw new WaitTimeoutError(`${what}: still waiting after ${waitLimitMs} ms (lost wake-up?)`);
  }
  return r;
}

/** Wakes up to `count` sleepers on i32[index] (futex(FUTEX_WAKE)). */
export function futexWake(i32: Int32Array, index: number, count = Infinity): number {
  return Atomics.notify(i32, index, count);
}

/** Sleeps `ms` milliseconds (a blocking sleep, as a fault waiting for I/O does). */
const napWord = new Int32Array(new SharedArrayBuffer(4));
export function sleepMs(ms: number, what = 'msleep'): void {
  if (ms <= 0) return;
  enterSleep(what);
  try {
    Atomics.wait(napWord, 0, 0, ms);
  } finally {
    leaveSleep();
  }
}
