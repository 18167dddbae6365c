/**
 * Where the SharedArrayBuffers of an address space come from. Outside reuse() they are new; inside it, the
 * n-th buffer asked for is the n-th one the same BufferSet handed out last time, cleared to the zeros a new
 * buffer holds (unless the caller writes every byte itself). The checker makes a fresh address space for
 * every schedule: creating it inside reuse() builds the same state over the same memory, so the workers,
 * which attached to those buffers once, need not be sent them again (a structured clone of an address
 * space's 22 buffers cost ~135 µs a worker here), and the host backs no new memory. The simulator's worker
 * pool (sim/pool.ts) does the same for its runs' address spaces: a fresh buffer's pages cost the host a
 * page fault on first touch, which at 1 CPU was 43% of a simulated run's time (allocZeroed).
 */
let active: BufferSet | null = null;

export class BufferSet {
  private readonly buffers: SharedArrayBuffer[] = [];
  private next = 0;
  /** What the last reuse() made asked to be told when it is done with (atRetire). */
  private retirees: (() => void)[] = [];

  /**
   * Runs `fn`, its sharedBuffer() calls served from this set (in order; a size that differs gets a new
   * buffer, but for a caller that takes a larger one, which a smaller request is served from).
   */
  reuse<T>(fn: () => T): T {
    if (active !== null) throw new Error('BufferSet.reuse: already inside one');
    active = this;
    this.next = 0;
    this.retirees = [];
    try {
      return fn();
    } finally {
      active = null;
    }
  }

  /**
   * What the last reuse() made is done with: no thread will write its buffers again before the next
   * reuse(). Runs what it asked for with atRetire() — a debug arena verifies the poison of its freed
   * records, so that the next reuse need not write it again — and throws the first error. Without it the
   * next reuse() clears and poisons everything, as for new buffers.
   */
  retire(): void {
    const retirees = this.retirees;
    this.retirees = [];
    for (const f of retirees) f();
  }

  /** Inside reuse(): `fn` runs when the set is retire()d. */
  onRetire(fn: () => void): void {
    this.retirees.push(fn);
  }

  take(bytes: number, how: BufferUse): SharedArrayBuffer {
    const k = this.next++;
    const old = this.buffers[k];
    if (old === undefined || (how.larger === true ? old.byteLength < bytes : old.byteLength !== bytes)) return (this.buffers[k] = new SharedArrayBuffer(bytes));
    // Only the bytes asked for: the caller never looks past them.
    if (how.overwritten !== true) fill(new Uint8Array(old, 0, bytes), 0);
    return old;
  }
}

/** Inside BufferSet.reuse(), `fn` runs when the set is retire()d; outside, never (new buffers are not reused). */
export function atRetire(fn: () => void): void {
  active?.onRetire(fn);
}

/** Byte images (never shared) by byte value, grown as needed: what fill() copies from. */
const images = new Map<number, Uint8Array>();
/** fill() copies at most this much at a time, so that no image grows past it. */
const CHUNK = 64 * 1024;

/** `n` bytes of `byte` (never shared, never to be written), from an image kept for that byte. */
export function bytesOf(byte: number, n: number): Uint8Array {
  let image = images.get(byte);
  if (image === undefined || image.length < n) images.set(byte, (image = new Uint8Array(Math.max(n, 2 * (image?.length ?? 0))).fill(byte)));
  return image.subarray(0, n);
}

/**
 * Fills shared memory with `byte` by copies from bytesOf: twice as fast here as an Int32Array's fill, and a
 * Uint8Array's stores byte by byte on shared memory, 4× slower again.
 */
export function fill(u8: Uint8Array, byte: number): void {
  const image = bytesOf(byte, Math.min(CHUNK, u8.length));
  for (let at = 0; at < u8.length; at += CHUNK) u8.set(u8.length - at >= CHUNK ? image : image.subarray(0, u8.length - at), at);
}

/** What a caller of sharedBuffer() can do with a reused buffer. */
export interface BufferUse {
  /** The caller writes every byte before anyone reads it: the buffer need not be cleared. */
  overwritten?: boolean;
  /**
   * The caller views only the first `bytes` of the buffer (typed arrays of explicit length): it may be
   * larger. The simulator's address spaces grow with the CPUs simulated (the frames of page_fault1 at 1 CPU
   * are 160 MiB, at 8 CPUs 1.25 GiB); this lets a smaller run reuse a larger run's memory.
   */
  larger?: boolean;
}

/**
 * A shared buffer of `bytes` zero bytes — or, with `overwritten`, of any content, the caller writing every
 * byte before anyone reads it. With `larger`, reused, it may be longer than `bytes`.
 */
export function sharedBuffer(bytes: number, how: BufferUse = {}): SharedArrayBuffer {
  return active !== null ? active.take(bytes, how) : new SharedArrayBuffer(bytes);
}
