/**
 * How the checker's controller and its workers talk between runs: through shared memory, not messages. A
 * postMessage round trip to each worker (the job out, "ready" and the report back) and the structured clone
 * of the address space's handle in every job were a third of a two-thread schedule's time; now the
 * controller writes the job into a mailbox and bumps a word the workers wait on (Atomics.waitAsync, so that
 * their event loops still take the rare message: a new address-space handle), and each worker writes its
 * report into its own mailbox and counts itself done.
 */
import { deserialize, serialize } from 'node:v8';

// The board's Int32 words.
/** Bumped for every job; workers wait on it. */
export const JOB = 0;
/** Reports written for the current job; the controller waits on it. */
export const DONE = 1;
/** Stress mode: workers at the start line; the last one there lets them all go. */
export const READY = 2;
export const GO = 3;
/** Workers 0 … THREADS-1 take part in the current job (the others leave its mailbox alone). */
export const THREADS = 4;
export const BOARD_WORDS = 5;

/** Where a mailbox's data starts: after its length word (and a pad, for alignment). */
const DATA = 8;
/** What a mailbox may grow to (address space reserved, not memory): a traced replay's log is the largest. */
const MAX_BYTES = 1 << 30;

type WaitAsync = (ta: Int32Array, index: number, value: number, timeoutMs?: number) => { async: false; value: string } | { async: true; value: Promise<string> };
/** Atomics.waitAsync (ES2024, in Node since 16), which the ES2022 library this project compiles against lacks; the real one, taken before a worker installs the scheduler's Atomics. */
const atomicsWaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Resolves once ta[index] may have changed from `value` (a notify, or the timeout), at once if it has: the event loop turns meanwhile. */
export async function waitChange(ta: Int32Array, index: number, value: number, timeoutMs?: number): Promise<void> {
  const w = atomicsWaitAsync(ta, index, value, timeoutMs);
  if (w.async) await w.value;
}

type GrowableBuffer = SharedArrayBuffer & { grow(bytes: number): void };
/** A growable SharedArrayBuffer (ES2024, in Node since 20), which the ES2022 library lacks too. */
const Growable = SharedArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => GrowableBuffer;

/**
 * One value at a time in a growable SharedArrayBuffer, structured-cloned (v8.serialize: the same algorithm
 * postMessage uses, so Infinity, undefined and Maps come through as they did). Written by one thread,
 * read by another after a synchronizing Atomics operation.
 */
export class Mailbox {
  readonly buffer: GrowableBuffer;
  private readonly length: Int32Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = (buffer as GrowableBuffer | undefined) ?? new Growable(64 * 1024, { maxByteLength: MAX_BYTES });
    this.length = new Int32Array(this.buffer, 0, 1);
  }

  write(value: unknown): void {
    const bytes = serialize(value);
    if (DATA + bytes.length > this.buffer.byteLength) this.buffer.grow(Math.min(MAX_BYTES, Math.max(2 * this.buffer.byteLength, DATA + bytes.length)));
    new Uint8Array(this.buffer, DATA, bytes.length).set(bytes);
    this.length[0] = bytes.length;
  }

  read(): unknown {
    return deserialize(new Uint8Array(this.buffer, DATA, this.length[0]!));
  }
}

/**
 * Whether two handles are the same: the same buffers (by identity) and equal values otherwise. An address
 * space created again over the same BufferSet gives the same handle, which the workers already have.
 */
export function sameHandle(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || a instanceof SharedArrayBuffer || b instanceof SharedArrayBuffer) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => sameHandle((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
