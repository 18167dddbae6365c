/**
 * A thread's queue of deferred callbacks (call_rcu / call_srcu), each waiting for a grace-period cookie.
 * Callbacks are JavaScript closures, which cannot cross a worker boundary, so each thread keeps its own
 * queue and invokes its own callbacks; cookies are handed out in increasing order, so the queue is FIFO.
 */
export class CallbackQueue {
  private cookies: number[] = [];
  private fns: Array<() => void> = [];
  private head = 0;

  get pending(): number {
    return this.cookies.length - this.head;
  }

  /** Cookie of the oldest pending callback (undefined if none). */
  oldest(): number | undefined {
    return this.head < this.cookies.length ? this.cookies[this.head] : undefined;
  }

  /** Cookie of the newest pending callback (undefined if none). */
  newest(): number | undefined {
    return this.head < this.cookies.length ? this.cookies[this.cookies.length - 1] : undefined;
  }

  push(cookie: number, fn: () => void): void {
    this.cookies.push(cookie);
    this.fns.push(fn);
  }

  /** Invokes, in order, every callback whose cookie `done` accepts; returns how many ran. */
  run(done: (cookie: number) => boolean): number {
    let n = 0;
    while (this.head < this.cookies.length && done(this.cookies[this.head]!)) {
      const fn = this.fns[this.head]!;
      this.fns[this.head] = noop; // drop the closure before running it, so it can be collected
      this.head++;
      n++;
      fn();
    }
    if (this.head === this.cookies.length) {
      this.cookies.length = 0;
      this.fns.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.cookies.length) {
      this.cookies.splice(0, this.head);
      this.fns.splice(0, this.head);
      this.head = 0;
    }
    return n;
  }
}

function noop(): void {}

/** a >= b for counters that wrap at 2^32 (the kernel's ULONG_CMP_GE). */
export function seqGE(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
