import { SPIN_DONE, spinTurn } from './relax.js';

/**
 * spinlock_t over one Int32 word (0 unlocked, 1 locked, 2 locked and a waiter may be asleep), so it can
 * live inside any shared record.
 *
 * Guarantee: mutual exclusion between all threads; acquire and release are full barriers (every Atomics
 * operation is sequentially consistent), so writes made under the lock are seen by the next holder.
 * A holder must not sleep.
 *
 * Waiting, where user space differs from the kernel: the kernel's holder runs with preemption disabled, so
 * a waiter spins for at most a critical section. Ours can be preempted by the host while it holds the lock,
 * and then a waiter that went on spinning would burn its time slice for nothing, or keep waking to look
 * — what made the lab collapse on a busy machine. So a waiter spins for about as long as a critical section
 * lasts (relax.ts's SPIN_MS), then marks the word 2 and sleeps on it until the holder's unlock wakes it (Drepper's
 * futex mutex, as mutex.ts). That sleep is not a sleep in the RCU sense — it goes straight to Atomics.wait,
 * not through futexWait() — so taking a spinlock inside rcu_read_lock() stays legal, as in the kernel.
 */
/** A sleeping waiter looks again after this long even if no unlock woke it (it cannot miss one: robustness). */
const SLEEP_MS = 2;

export function spinLock(i32: Int32Array, index: number): void {
  if (Atomics.compareExchange(i32, index, 0, 1) === 0) return;
  spinLockSlow(i32, index);
}

function spinLockSlow(i32: Int32Array, index: number): void {
  for (let n = 0, spun = -1; spun !== SPIN_DONE; n++) {
    // Test before test-and-set: spin on a load so waiters do not bounce the cache line.
    if (Atomics.load(i32, index) === 0 && Atomics.compareExchange(i32, index, 0, 1) === 0) return;
    spun = spinTurn(n, spun);
  }
  // From here on we take the lock as "2", so that our unlock wakes whoever slept after us.
  while (Atomics.exchange(i32, index, 2) !== 0) Atomics.wait(i32, index, 2, SLEEP_MS);
}

/** spin_trylock(): true if the lock was taken. */
export function spinTrylock(i32: Int32Array, index: number): boolean {
  return Atomics.compareExchange(i32, index, 0, 1) === 0;
}

export function spinUnlock(i32: Int32Array, index: number): void {
  const prev = Atomics.exchange(i32, index, 0);
  if (prev === 2) Atomics.notify(i32, index, 1);
  else if (prev !== 1) {
    Atomics.store(i32, index, prev); // undo, so the misuse does not corrupt the word
    throw new Error('spin_unlock of an unlocked spinlock');
  }
}

export function spinIsLocked(i32: Int32Array, index: number): boolean {
  return Atomics.load(i32, index) !== 0;
}
