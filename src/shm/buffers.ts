/**
 * Where the SharedArrayBuffers of an address space come from. Outside reuse() they are new; inside it, the
 * n-th buffer asked for is the n-th one the same BufferSet handed out last time, cleared to the zeros a new
 * buffer holds (unless the caller writes every byte itself). The checker makes a fresh address space for
 * every schedule: creating it inside reuse() builds the same state over the same memory, so the workers,
 * which attached to those buffers once, need not be sent them again (a structured clone of an address
 * space's 22 buffers cost ~135 µs a worker here), and the host backs no new memory.
 */
let active: BufferSet | null = null;

export class BufferSet {
  private readonly buffers: SharedArrayBuffer[] = [];
  private next = 0;

  /** Runs `fn`, its sharedBuffer() calls served from this set (in order; a size that differs gets a new buffer). */
  reuse<T>(fn: () => T): T {
    if (active !== null) throw new Error('BufferSet.reuse: already inside one');
    active = this;
    this.next = 0;
    try {
      return fn();
    } finally {
      active = null;
    }
  }

  take(bytes: number, overwritten: boolean): SharedArrayBuffer {
    const k = this.next++;
    const old = this.buffers[k];
    if (old === undefined || old.byteLength !== bytes) return (this.buffers[k] = new SharedArrayBuffer(bytes));
    // By words where it can: a Uint8Array's fill on shared memory stores byte by byte (4× slower here).
    if (!overwritten) (bytes % 4 === 0 ? new Int32Array(old) : new Uint8Array(old)).fill(0);
    return old;
  }
}

/**
 * A shared buffer of `bytes` zero bytes — or, with `overwritten`, of any content, the caller writing every
 * byte before anyone reads it.
 */
export function sharedBuffer(bytes: number, overwritten = false): SharedArrayBuffer {
  return active !== null ? active.take(bytes, overwritten) : new SharedArrayBuffer(bytes);
}
