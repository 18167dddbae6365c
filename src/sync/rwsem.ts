import { RWSEM_SPIN_MS, SPIN_DONE, spinTurn } from './relax.js';
import { futexWait, futexWake, mightSleep } from './sleep.js';

/**
 * struct rw_semaphore over one Int32 word, with the kernel's semantics (kernel/locking/rwsem.c):
 * any number of readers or one writer; down_read/down_write sleep when they must; a writer can downgrade
 * to a reader without letting another writer in.
 *
 * Guarantee: readers and a writer, or two writers, never hold it at once; every acquire and release is a
 * full barrier. Fairness, as the kernel's wait queue gives it: a writer that waits holds off new readers
 * (they queue behind it, and down_read_trylock fails), so readers cannot starve writers; and readers that
 * wait are handed the lock by the writer that lets it go — up_write() counts them in as holders before it
 * wakes them (rwsem_mark_wake()), so the next writer, however quick, finds the lock taken and cannot starve
 * them. Unlike the kernel's FIFO queue, waiters are not ordered: when a writer lets go, every waiting reader
 * goes first, then the writers. As in the kernel, a reader must not take the lock for read again while
 * holding it (a queued writer would deadlock it), and all acquisitions may sleep, so none may happen inside
 * rcu_read_lock().
 *
 * The word: bits 0-11 count active readers, bits 12-19 readers waiting, bits 20-27 writers waiting, bit 28
 * is the writer, bit 29 says that someone sleeps on the word and the next release must wake it, bit 31
 * flips each time waiting readers are handed the lock: a waiting reader that sees it flip knows it holds
 * the lock. It can flip at most once while a reader waits (after that the reader holds the lock, and no
 * writer can get in to hand it over again until it lets go), so one bit is enough.
 *
 * Spinning: a writer spins for a while before it sleeps (the kernel's optimistic spinning), and so does a
 * reader — where the kernel's reader spinning left in 5.11. The kernel could drop it because its sleep and
 * wake-up cost a few µs; ours cost tens of µs on an idle machine and, beside busy processes, a whole time
 * slice of the host's scheduler before the woken thread runs. A reader that slept behind every short
 * writer section (an mmap of 16 KiB, an mprotect) made each fault pay that: the mmap_lock baseline under
 * churn kept 45% of its quiet rate beside two busy processes, 57% with a 20 µs spin; on a quiet machine its
 * 2-worker trace replay went from 72–84 to 122–136 K calls/s.
 * Both spin up to 200 µs (relax.ts's RWSEM_SPIN_MS), not the 10–25 µs after which the kernel's writer
 * stops spinning on readers: a /proc/PID/maps reader holds the lock for a page of text, about 50 µs, and
 * an updater that slept behind it, then a reader queued behind that updater, paid two wake-ups a page.
 * maps-read at 2 workers kept 23–74% of its quiet rate beside two busy processes with 20 µs, 41–51% with
 * 200 µs, and quiet it ran with 96–99% of the CPUs instead of 70–78%. We cannot see whether the holder is
 * on a CPU, so the spin is bounded by time; then the waiter queues and sleeps as before.
 */
export const RWSEM_READER = 1;
const READER_MASK = 0xfff;
const READER_WAITING = 1 << 12;
const READERS_WAITING_MASK = 0xff << 12;
const WRITER_WAITING = 1 << 20;
const WAITING_MASK = 0xff << 20;
export const RWSEM_WRITER_LOCKED = 1 << 28;
const SLEEPERS = 1 << 29;
const HANDED_OVER = 1 << 31; // the generation bit
/** Why a reader cannot take the lock now (RWSEM_READ_FAILED_MASK): a writer holds or waits, or readers wait. */
const READ_BLOCKED = RWSEM_WRITER_LOCKED | WAITING_MASK | READERS_WAITING_MASK;

export function downRead(i32: Int32Array, index: number): void {
  mightSleep('down_read');
  // Optimistic: count ourselves in, then back out if a writer holds or waits (rwsem_down_read_slowpath).
  const prev = Atomics.add(i32, index, RWSEM_READER);
  if ((prev & READ_BLOCKED) === 0) return;
  upRead(i32, index);
  downReadSlow(i32, index);
}

function downReadSlow(i32: Int32Array, index: number): void {
  let s: number;
  let spun = -1;
  for (let n = 0; ; n++) {
    s = Atomics.load(i32, index);
    if ((s & READ_BLOCKED) === 0) {
      if (Atomics.compareExchange(i32, index, s, s + RWSEM_READER) === s) return;
      continue;
    }
    if (spun !== SPIN_DONE) {
      spun = spinTurn(n, spun, RWSEM_SPIN_MS);
      continue;
    }
    // Queue: count ourselves among the waiting readers; the writer that lets go hands us the lock.
    if (Atomics.compareExchange(i32, index, s, s + READER_WAITING) === s) break;
  }
  const generation = s & HANDED_OVER; // as it was when we queued
  const startedAt = performance.now();
  for (;;) {
    s = Atomics.load(i32, index);
    if ((s & HANDED_OVER) !== generation) return; // handed over: we hold it
    if ((s & (RWSEM_WRITER_LOCKED | WAITING_MASK)) === 0) {
      // No writer holds or waits, so none will hand over (one gave up, or we queued as it left): take it.
      if (Atomics.compareExchange(i32, index, s, s - READER_WAITING + RWSEM_READER) === s) return;
    } else {
      sleepOn(i32, index, s, 'down_read', startedAt);
    }
  }
}

/** Marks the word (seen as `s`) as having a sleeper, then sleeps until it changes. */
function sleepOn(i32: Int32Array, index: number, s: number, what: string, startedAt: number): void {
  if ((s & SLEEPERS) === 0) {
    if (Atomics.compareExchange(i32, index, s, s | SLEEPERS) !== s) return; // it changed: look again
    s |= SLEEPERS;
  }
  futexWait(i32, index, s, what, Infinity, startedAt);
}

/** down_read_trylock(): fails if a writer holds the lock or waits for it, or readers wait for it. */
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
  // Free, nobody waiting: the word holds at most the generation bit. A plain read guesses which (the
  // compare-exchange checks the guess), so the fast path stays one atomic operation.
  const free = i32[index]! & HANDED_OVER;
  if (Atomics.compareExchange(i32, index, free, free | RWSEM_WRITER_LOCKED) === free) return;
  downWriteSlow(i32, index);
}

function downWriteSlow(i32: Int32Array, index: number): void {
  Atomics.add(i32, index, WRITER_WAITING); // from now on new readers wait behind us
  let spun = -1;
  let startedAt = -1;
  for (let n = 0; ; n++) {
    const s = Atomics.load(i32, index);
    if ((s & (READER_MASK | RWSEM_WRITER_LOCKED)) === 0) {
      if (Atomics.compareExchange(i32, index, s, s - WRITER_WAITING + RWSEM_WRITER_LOCKED) === s) return;
      continue;
    }
    // A futex sleep and wake-up costs tens of µs here (a few in the kernel): without the spin, every
    // contended down_write would pay that for holds of a microsecond or two.
    if (spun !== SPIN_DONE) {
      spun = spinTurn(n, spun, RWSEM_SPIN_MS);
      continue;
    }
    if (startedAt < 0) startedAt = performance.now();
    sleepOn(i32, index, s, 'down_write', startedAt);
  }
}

/** down_write_trylock(): takes the lock if nobody holds it and no reader waits for it. */
export function downWriteTrylock(i32: Int32Array, index: number): boolean {
  for (;;) {
    const s = Atomics.load(i32, index);
    if ((s & (READER_MASK | RWSEM_WRITER_LOCKED | READERS_WAITING_MASK)) !== 0) return false;
    if (Atomics.compareExchange(i32, index, s, s | RWSEM_WRITER_LOCKED) === s) return true;
  }
}

export function upWrite(i32: Int32Array, index: number): void {
  writerLetsGo(i32, index, 0, 'up_write of an rwsem not held for write');
}

/** downgrade_write(): the writer becomes a reader, atomically; no other writer can get in between. */
export function downgradeWrite(i32: Int32Array, index: number): void {
  writerLetsGo(i32, index, RWSEM_READER, 'downgrade_write of an rwsem not held for write');
}

/**
 * The writer lets go (keeping `keep` reader holds for itself): every waiting reader becomes a holder in
 * the same atomic step (rwsem_mark_wake() granting the read lock before the wake-up), then the sleepers
 * are woken.
 */
function writerLetsGo(i32: Int32Array, index: number, keep: number, misuse: string): void {
  // The first try works on a plain read (the compare-exchange checks it): one atomic operation when
  // nobody else touched the word.
  for (let s = i32[index]!; ; s = Atomics.load(i32, index)) {
    if ((s & RWSEM_WRITER_LOCKED) === 0) {
      if (Atomics.load(i32, index) !== s) continue; // a stale plain read, not a misuse
      throw new Error(misuse);
    }
    const waiting = (s & READERS_WAITING_MASK) >>> 12;
    let next = s - RWSEM_WRITER_LOCKED + keep;
    if (waiting > 0) next = (next - waiting * READER_WAITING + waiting * RWSEM_READER) ^ HANDED_OVER;
    if ((s & SLEEPERS) !== 0) next &= ~SLEEPERS;
    if (Atomics.compareExchange(i32, index, s, next) !== s) continue;
    if ((s & SLEEPERS) !== 0) futexWake(i32, index);
    return;
  }
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

/**
 * Lockdep's looks at an rwsem: plain reads, not Atomics operations, so that an assertion is no yield point
 * of the checker's scheduler and does not change the interleavings it explores. Held means held by someone.
 */
export function rwsemHeldForWrite(i32: Int32Array, index: number): boolean {
  return (i32[index]! & RWSEM_WRITER_LOCKED) !== 0;
}
export function rwsemHeld(i32: Int32Array, index: number): boolean {
  return (i32[index]! & (READER_MASK | RWSEM_WRITER_LOCKED)) !== 0;
}
export function rwsemHeldForRead(i32: Int32Array, index: number): boolean {
  return (i32[index]! & READER_MASK) !== 0;
}

/** Writers queued behind the current holders (the kernel's rwsem_has_waiters() for writers). */
export function rwsemWritersWaiting(i32: Int32Array, index: number): number {
  return (Atomics.load(i32, index) & WAITING_MASK) >>> 20;
}

/** Readers queued for the lock, to be handed it by the writer that lets go. */
export function rwsemReadersWaiting(i32: Int32Array, index: number): number {
  return (Atomics.load(i32, index) & READERS_WAITING_MASK) >>> 12;
}

/** Readers holding the lock now. */
export function rwsemReaders(i32: Int32Array, index: number): number {
  return Atomics.load(i32, index) & READER_MASK;
}

/** Throws unless the rwsem is free with nobody waiting (call at quiescence). */
export function rwsemValidateIdle(i32: Int32Array, index: number, what = 'rwsem'): void {
  const s = Atomics.load(i32, index);
  if ((s & ~(SLEEPERS | HANDED_OVER)) !== 0) {
    throw new Error(
      `${what}: not idle at quiescence (readers ${s & READER_MASK}, writer ${(s & RWSEM_WRITER_LOCKED) !== 0}, ` +
        `waiting readers ${(s & READERS_WAITING_MASK) >>> 12}, waiting writers ${(s & WAITING_MASK) >>> 20})`,
    );
  }
}
