/**
 * The first error wins. When an operation fails while it holds something (the mmap_lock, a spinlock), the code
 * that releases it on the way out may fail too — most often because the failure left the lock in a state the
 * release does not expect (an unlock for write after a downgrade) — and a `finally` would throw that second
 * error in place of the first, which is the one that says what went wrong. Like the kernel's first oops, the
 * cause is what a report must show:
 *
 *     try { r = doLocked(); } catch (e) { throw unwinding(e, () => unlock()); }
 *     unlock();
 *
 * The closure is made on the error path only, so the operation itself allocates nothing.
 */

/** Runs `release`; an error it throws is attached to `error` (see whileUnwinding). Returns `error`, to rethrow. */
export function unwinding(error: unknown, release: () => void): unknown {
  try {
    release();
  } catch (later) {
    if (typeof error === 'object' && error !== null) {
      const e = error as { whileUnwinding?: unknown[] };
      (e.whileUnwinding ??= []).push(later);
    }
  }
  return error;
}

/** The errors raised while `error` unwound, in order. */
export function whileUnwinding(error: unknown): readonly unknown[] {
  return (typeof error === 'object' && error !== null ? (error as { whileUnwinding?: unknown[] }).whileUnwinding : undefined) ?? [];
}

/** `Name: message`, and after it each error raised while it unwound: what a report shows of a failure. */
export function describeError(error: unknown): string {
  const one = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  const later = whileUnwinding(error);
  return later.length ? `${one(error)} (then, while unwinding: ${later.map(one).join('; ')})` : one(error);
}
