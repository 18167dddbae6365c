import { cpuRelax } from './relax.js';
import { futexWait, futexWake, mightSleep } from './sleep.js';

/**
 * struct rw_semaphore over one Int32 word, with the kernel's semantics (kernel/locking/rwsem.c):
 * any number of readers or one writer; down_read/down_write sleep when they must; a writer can downgrade
 * to a reader without letting another writer in.
 *
 * Guarantee: readers and a writer, or two writers, never hold it at once; every acquire and release is a
 * full barrier. Fairness: a writer that waits holds off new readers (down_read and down_read_trylock fail
 * or wait while one is queued), so a stream of overlapping readers cannot starve writers. Unlike the
 * kernel's FIFO wait queue, waiters are not ordered: readers can wait behind an unbroken stream of writers.
 * As in the kernel, a reader must not take the lock for read again while holding it (a queued writer would
 * deadlock it), and all acquisitions may sleep, so none may happen inside rcu_read_lock().
 *
 * The word: bits 0-19 count active readers, bits 20-27 count waiting writers, bit 28 is the writer, bit 29
 * says that someone sleeps on the word and the next release must wake it, bit 30 is the kernel's
 * RWSEM_FLAG_HANDOFF for readers: a reader that has waited RWSEM_WAIT_TIMEOUT (4 ms) sets it, and from then
 * on no writer may take the lock until a reader has — so, as in the kernel, writers can starve readers
 * for a few milliseconds but not for ever.
 *
 * Spinning, as in the kernel: a writer spins for a while before it sleeps (optimistic spinning), a reader
 * only looks a few times (reader spinning left the kernel in 5.11).
 */
export const RWSEM_READER = 1;
const READER_MASK = 0xfffff;
const WRITER_WAITING = 1 << 20;
const WAITING_MASK = 0xff << 20;
export const RWSEM_WRITER_LOCKED = 1 << 28;
const SLEEPERS = 1 << 29;
const HANDOFF = 1 << 30;
const READ_BLOCKED = RWSEM_WRITER_LOCKED | WAITING_MASK | HANDOFF; // the fast path's RWSEM_READ_FAILED_MASK
/** RWSEM_WAIT_TIMEOUT, ms: how long a reader waits before it asks for the hand-off. */
const WAIT_TIMEOUT_MS = 4;
const SPINS = 64;
/**
 * How long a writer keeps spinning, ms, before it sleeps (after SPINS quick looks). The kernel's writers
 * spin while the owner runs (rwsem_optimistic_spin); we cannot see whether it runs, so we bound the spin
 * by time instead. A futex sleep and wake-up costs tens of µs here (a few in the kernel): without the spin,
 * every contended down_write would pay that for holds of a microsecond or two.
 */
const SPIN_MS = 0.02;

export function downRead(i32: Int32Array, index: number): void {
  mightSleep('down_read');
  // Optimistic: count ourselves in, then back out if a writer holds or waits (rwsem_down_read_slowpath).
  const prev = Atomics.add(i32, index, RWSEM_READER);
  if ((prev & READ_BLOCKED) === 0) return;
  upRead(i32, index);
  downReadSlow(i32, index);
}

function downReadSlow(i32: Int32Array, index: number): void {
  let startedAt = -1;
  for (let n = 0; ; n++) {
    const s = Atomics.load(i32, index);
    // Free for readers: no writer, and none waiting unless a reader has asked for the hand-off.
    if ((s & RWSEM_WRITER_LOCKED) === 0 && ((s & WAITING_MASK) === 0 || (s & HANDOFF) !== 0)) {
      if (Atomics.compareExchange(i32, index, s, (s + RWSEM_READER) & ~HANDOFF) === s) return;
      continue;
    }
    if (n < SPINS) {
      cpuRelax();
      continue;
    }
    if (startedAt < 0) startedAt = performance.now();
    if ((s & HANDOFF) === 0 && performance.now() - startedAt >= WAIT_TIMEOUT_MS) {
      Atomics.compareExchange(i32, index, s, s | HANDOFF); // if it changed, look again
      continue;
    }
    sleepOn(i32, index, s, 'down_read', startedAt, (s & HANDOFF) === 0 ? WAIT_TIMEOUT_MS : Infinity);
  }
}

/** Marks the word (seen as `s`) as having a sleeper, then sleeps until it changes. */
function sleepOn(i32: Int32Array, index: number, s: number, what: string, startedAt: number, timeoutMs = Infinity): void {
  if ((s & SLEEPERS) === 0) {
    if (Atomics.compareExchange(i32, index, s, s | SLEEPERS) !== s) return; // it changed: look again
    s |= SLEEPERS;
  }
  futexWait(i32, index, s, what, timeoutMs, startedAt);
}

/** down_read_trylock(): fails if a writer holds the lock or waits for it. */
export function downReadTrylock(i32: Int32Array, index: number): boolean {
  for (;;) {
    const s = Atomics.load(i32, index);
    if ((s & READ_BLOCKED) !== 0) return false;
    if (Atomics.compareExchange(i32, index, s, s + RWSEM_READER) === s) return true;
  }
}

export function upRead(i32: Int32Array, index: number): void {
  const prev = Atomics.sub(i32, index, RWSEM_READER);
  if ((prev & READER_MASK) === 0) {
    Atomics.add(i32, index, RWSEM_READER); // undo, so the misuse does not corrupt the word
    throw new Error('up_read of an rwsem not held for read');
  }
  // Only the last reader out can let a writer in.
  if ((prev & SLEEPERS) !== 0 && (prev & READER_MASK) === 1) wakeAll(i32, index);
}

export function downWrite(i32: Int32Array, index: number): void {
  mightSleep('down_write');
  if (Atomics.compareExchange(i32, index, 0, RWSEM_WRITER_LOCKED) === 0) return; // the HANDOFF bit makes it fail
  downWriteSlow(i32, index);
}

function downWriteSlow(i32: Int32Array, index: number): void {
  Atomics.add(i32, index, WRITER_WAITING); // from now on new readers wait behind us
  let startedAt = -1;
  for (let n = 0; ; n++) {
    const s = Atomics.load(i32, index);
    if ((s & (READER_MASK | RWSEM_WRITER_LOCKED | HANDOFF)) === 0) {
      if (Atomics.compareExchange(i32, index, s, s - WRITER_WAITING + RWSEM_WRITER_LOCKED) === s) return;
      continue;
    }
    if (n < SPINS) {
      cpuRelax();
      continue;
    }
    if (startedAt < 0) startedAt = performance.now();
    if (performance.now() - startedAt < SPIN_MS) {
      cpuRelax();
      continue;
    }
    sleepOn(i32, index, s, 'down_write', startedAt);
  }
}

/** down_write_trylock(): takes the lock if nobody holds it. */
export function downWriteTrylock(i32: Int32Array, index: number): boolean {
  for (;;) {
    const s = Atomics.load(i32, index);
    if ((s & (READER_MASK | RWSEM_WRITER_LOCKED | HANDOFF)) !== 0) return false;
    if (Atomics.compareExchange(i32, index, s, s | RWSEM_WRITER_LOCKED) === s) return true;
  }
}

export function upWrite(i32: Int32Array, index: number): void {
  const prev = Atomics.sub(i32, index, RWSEM_WRITER_LOCKED);
  if ((prev & RWSEM_WRITER_LOCKED) === 0) {
    Atomics.add(i32, index, RWSEM_WRITER_LOCKED);
    throw new Error('up_write of an rwsem not held for write');
  }
  if ((prev & SLEEPERS) !== 0) wakeAll(i32, index);
}

/** downgrade_write(): the writer becomes a reader, atomically; no other writer can get in between. */
export function downgradeWrite(i32: Int32Array, index: number): void {
  const prev = Atomics.add(i32, index, RWSEM_READER - RWSEM_WRITER_LOCKED);
  if ((prev & RWSEM_WRITER_LOCKED) === 0) {
    Atomics.sub(i32, index, RWSEM_READER - RWSEM_WRITER_LOCKED);
    throw new Error('downgrade_write of an rwsem not held for write');
  }
  if ((prev & SLEEPERS) !== 0) wakeAll(i32, index);
}

function wakeAll(i32: Int32Array, index: number): void {
  // Sleepers re-announce themselves if they must sleep again; clearing the bit changes the word, so one
  // that was about to sleep on the old value returns at once instead (no lost wake-up).
  Atomics.and(i32, index, ~SLEEPERS);
  futexWake(i32, index);
}

/** rwsem_is_locked(). */
export function rwsemIsLocked(i32: Int32Array, index: number): boolean {
  return (Atomics.load(i32, index) & (READER_MASK | RWSEM_WRITER_LOCKED)) !== 0;
}

export function rwsemIsWriteLocked(i32: Int32Array, index: number): boolean {
  return (Atomics.load(i32, index) & RWSEM_WRITER_LOCKED) !== 0;
}

/** Writers queued behind the current holders (the kernel's rwsem_has_waiters() for writers). */
export function rwsemWritersWaiting(i32: Int32Array, index: number): number {
  return (Atomics.load(i32, index) & WAITING_MASK) >>> 20;
}

/** Readers holding the lock now. */
export function rwsemReaders(i32: Int32Array, index: number): number {
  return Atomics.load(i32, index) & READER_MASK;
}

/** Throws unless the rwsem is free with nobody waiting (call at quiescence). */
export function rwsemValidateIdle(i32: Int32Array, index: number, what = 'rwsem'): void {
  const s = Atomics.load(i32, index);
  if ((s & ~SLEEPERS) !== 0) {
    throw new Error(
      `${what}: not idle at quiescence (readers ${s & READER_MASK}, writer ${(s & RWSEM_WRITER_LOCKED) !== 0}, waiting writers ${(s & WAITING_MASK) >>> 20})`,
    );
  }
}
