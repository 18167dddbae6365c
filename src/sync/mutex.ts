import { cpuRelax } from './relax.js';
import { futexWait, futexWake, mightSleep } from './sleep.js';

/**
 * struct mutex over one Int32 word: 0 unlocked, 1 locked, 2 locked with sleepers (Drepper's futex mutex).
 *
 * Guarantee: mutual exclusion between all threads; lock and unlock are full barriers. A contended locker
 * spins briefly (the holder is usually about to release), then sleeps in futexWait() until an unlock wakes
 * it. Like the kernel's mutex_lock() it may sleep, so it must not be taken inside rcu_read_lock().
 */
const SPINS = 100;

export function mutexLock(i32: Int32Array, index: number): void {
  mightSleep('mutex_lock');
  if (Atomics.compareExchange(i32, index, 0, 1) === 0) return;
  mutexLockSlow(i32, index);
}

function mutexLockSlow(i32: Int32Array, index: number): void {
  for (let n = 0; n < SPINS; n++) {
    if (Atomics.load(i32, index) === 0 && Atomics.compareExchange(i32, index, 0, 1) === 0) return;
    cpuRelax();
  }
  const startedAt = performance.now();
  // From here on we take the lock as "2", so that our unlock wakes whoever slept after us.
  while (Atomics.exchange(i32, index, 2) !== 0) futexWait(i32, index, 2, 'mutex_lock', Infinity, startedAt);
}

/** mutex_trylock(): true if the lock was taken. */
export function mutexTrylock(i32: Int32Array, index: number): boolean {
  return Atomics.compareExchange(i32, index, 0, 1) === 0;
}

export function mutexUnlock(i32: Int32Array, index: number): void {
  const prev = Atomics.exchange(i32, index, 0);
  if (prev === 2) futexWake(i32, index, 1);
  else if (prev !== 1) throw new Error('mutex_unlock of an unlocked mutex');
}

export function mutexIsLocked(i32: Int32Array, index: number): boolean {
  return Atomics.load(i32, index) !== 0;
}
