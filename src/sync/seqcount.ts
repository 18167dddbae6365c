import { cpuRelax } from './relax.js';

/**
 * seqcount_t over one Int32 word: even when stable, odd while a writer is inside.
 *
 * Guarantee: a reader that brackets its plain reads with readSeqcountBegin() and a readSeqcountRetry()
 * that returns false saw no write in progress and no completed write in between, so its snapshot is not
 * torn. Writers must be serialized by a lock of their own (as in the kernel); a second writer entering is
 * caught and throws. Readers never block writers. The Atomics on the count are full barriers, and V8 keeps
 * typed-array accesses in program order around them, so the reads between begin and retry are covered.
 */
const SPINS_BEFORE_YIELD = 256;
/** A reader that spun long sleeps this long, then twice as long each time, up to YIELD_MAX_MS. */
const YIELD_MS = 0.02;
const YIELD_MAX_MS = 1;

export function writeSeqcountBegin(i32: Int32Array, index: number): void {
  if ((Atomics.add(i32, index, 1) & 1) !== 0) throw new Error('write_seqcount_begin: another writer is inside');
}

export function writeSeqcountEnd(i32: Int32Array, index: number): void {
  if ((Atomics.add(i32, index, 1) & 1) === 0) throw new Error('write_seqcount_end without write_seqcount_begin');
}

/** read_seqcount_begin(): waits out a writer that is inside, returns the even count. */
export function readSeqcountBegin(i32: Int32Array, index: number): number {
  let yieldMs = YIELD_MS;
  for (let n = 1; ; n++) {
    const s = Atomics.load(i32, index);
    if ((s & 1) === 0) return s;
    // The writer may be preempted (no preempt_disable in JS): after spinning a while, give the core away
    // for longer and longer, so that a writer off its CPU is not raced for the CPU by its own readers.
    if (n % SPINS_BEFORE_YIELD === 0) {
      Atomics.wait(i32, index, s, yieldMs);
      yieldMs = Math.min(2 * yieldMs, YIELD_MAX_MS);
    } else cpuRelax();
  }
}

/** raw_read_seqcount(): the count as it is, odd if a writer is inside (speculative readers test it). */
export function rawReadSeqcount(i32: Int32Array, index: number): number {
  return Atomics.load(i32, index);
}

/** read_seqcount_retry(): true if the snapshot taken since `start` may be torn and must be retaken. */
export function readSeqcountRetry(i32: Int32Array, index: number, start: number): boolean {
  return Atomics.load(i32, index) !== start;
}
