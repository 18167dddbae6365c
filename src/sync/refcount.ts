/**
 * refcount_t over one Int32 word, with the kernel's overflow protection (lib/refcount.c): a count that
 * would overflow, or go below zero, is pinned at REFCOUNT_SATURATED instead, so the object leaks rather
 * than being freed while in use, and the event is reported by throwing RefcountError (the kernel WARNs).
 *
 * Guarantee: refcountIncNotZero() never resurrects an object whose count reached zero;
 * refcountDecAndTest() returns true exactly once, to the caller that dropped the last reference.
 */
export const REFCOUNT_SATURATED = -0x40000000; // INT_MIN / 2, as the kernel's
const REFCOUNT_MAX = 0x7fffffff;

export class RefcountError extends Error {
  override name = 'RefcountError';
}

function saturate(i32: Int32Array, index: number, what: string): never {
  Atomics.store(i32, index, REFCOUNT_SATURATED);
  throw new RefcountError(`refcount_t: ${what}; saturated, object leaked`);
}

export function refcountSet(i32: Int32Array, index: number, n: number): void {
  Atomics.store(i32, index, n);
}

export function refcountRead(i32: Int32Array, index: number): number {
  return Atomics.load(i32, index);
}

/** refcount_inc(): the caller already holds a reference. Incrementing 0 is a use after free. */
export function refcountInc(i32: Int32Array, index: number): void {
  const prev = Atomics.add(i32, index, 1);
  if (prev > 0 && prev < REFCOUNT_MAX) return;
  if (prev === 0) saturate(i32, index, 'addition on 0; use-after-free');
  saturate(i32, index, 'saturated');
}

/** refcount_inc_not_zero(): takes a reference unless the object is already dying (count 0). */
export function refcountIncNotZero(i32: Int32Array, index: number): boolean {
  let v = Atomics.load(i32, index);
  for (;;) {
    if (v === 0) return false;
    if (v < 0 || v === REFCOUNT_MAX) saturate(i32, index, 'saturated');
    const seen = Atomics.compareExchange(i32, index, v, v + 1);
    if (seen === v) return true;
    v = seen;
  }
}

/** refcount_dec_and_test(): drops a reference; true if it was the last one. */
export function refcountDecAndTest(i32: Int32Array, index: number): boolean {
  const prev = Atomics.sub(i32, index, 1);
  if (prev === 1) return true;
  if (prev > 1) return false;
  saturate(i32, index, prev === 0 ? 'underflow; use-after-free' : 'decrement of a saturated count');
}

/** refcount_dec(): drops a reference that must not be the last one. */
export function refcountDec(i32: Int32Array, index: number): void {
  const prev = Atomics.sub(i32, index, 1);
  if (prev > 1) return;
  saturate(i32, index, prev === 1 ? 'decrement hit 0; leaking memory' : 'underflow; use-after-free');
}
