import { cpuRelax } from './relax.js';

/**
 * spinlock_t over one Int32 word (0 unlocked, 1 locked), so it can live inside any shared record.
 *
 * Guarantee: mutual exclusion between all threads; acquire and release are full barriers (every Atomics
 * operation is sequentially consistent), so writes made under the lock are seen by the next holder.
 * A holder must not sleep. Waiters spin; because a JavaScript thread can be preempted while it holds the
 * lock (the kernel would have disabled preemption), a waiter that has spun long yields its core with short
 * timed waits. That yield is not a sleep in the RCU sense: taking a spinlock inside rcu_read_lock() is fine.
 */
const SPINS_BEFORE_YIELD = 256;
const YIELD_MS = 0.02;

export function spinLock(i32: Int32Array, index: number): void {
  if (Atomics.compareExchange(i32, index, 0, 1) === 0) return;
  spinLockSlow(i32, index);
}

function spinLockSlow(i32: Int32Array, index: number): void {
  for (let n = 1; ; n++) {
    // Test before test-and-set: spin on a load so waiters do not bounce the cache line.
    if (Atomics.load(i32, index) === 0 && Atomics.compareExchange(i32, index, 0, 1) === 0) return;
    if (n % SPINS_BEFORE_YIELD === 0) Atomics.wait(i32, index, 1, YIELD_MS);
    else cpuRelax();
  }
}

/** spin_trylock(): true if the lock was taken. */
export function spinTrylock(i32: Int32Array, index: number): boolean {
  return Atomics.compareExchange(i32, index, 0, 1) === 0;
}

export function spinUnlock(i32: Int32Array, index: number): void {
  if (Atomics.exchange(i32, index, 0) !== 1) throw new Error('spin_unlock of an unlocked spinlock');
}

export function spinIsLocked(i32: Int32Array, index: number): boolean {
  return Atomics.load(i32, index) !== 0;
}
