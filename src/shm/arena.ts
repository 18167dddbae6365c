import { atRetire, bytesOf, fill, sharedBuffer } from './buffers.js';
import type { RecordLayout } from './layout.js';

/** Byte the kernel's slab debugging writes over freed objects (POISON_FREE); we do the same. */
export const POISON_FREE = 0x6b;
/** The same byte repeated over an Int32 word, what a reader of a freed record sees. */
export const POISON_WORD = 0x6b6b6b6b;
/** Eight poison bytes read as a Float64. */
const POISON_F64 = new Float64Array(new Int32Array([POISON_WORD, POISON_WORD]).buffer)[0]!;
/** Byte written over a freshly allocated, not zeroed record in debug mode (POISON_INUSE). */
export const POISON_INUSE = 0x5a;

/**
 * Node's Buffer, as much of it as the arena uses; absent in other runtimes (isPoisoned then compares
 * doubles). Debug mode poisons records by copies (shm/buffers.ts fill()) and checks them with memcmp
 * (Buffer.compare), three times as fast as comparing doubles here: the checker checks the poison of every
 * free record at least once after every schedule it runs (and poisons again only what was live: retire()).
 */
interface NativeBytes {
  compare(target: Uint8Array, targetStart: number, targetEnd: number, sourceStart: number, sourceEnd: number): number;
}
const NativeBuffer = (globalThis as { Buffer?: { from(b: ArrayBufferLike, offset: number, length: number): NativeBytes } }).Buffer;

export class ArenaError extends Error {
  override name = 'ArenaError';
}

/** Everything a worker needs to attach to an arena: post it in workerData or a message. */
export interface ArenaHandle {
  readonly kind: 'mmsplit.arena';
  readonly name: string;
  readonly capacity: number;
  readonly stride: number;
  readonly debug: boolean;
  readonly data: SharedArrayBuffer;
  readonly meta: SharedArrayBuffer;
  readonly typesafeWords?: readonly number[];
}

export interface ArenaOptions {
  /** Shown in errors and dumps ("vm_area_struct", "maple_node", …). */
  name: string;
  /** Number of records, record 0 included (it is reserved so that index 0 can mean NULL). */
  capacity: number;
  /** Record size in bytes, or a layout from defineLayout. */
  stride?: number;
  layout?: RecordLayout<string, string>;
  /** Poison freed records, verify the poison on reuse, check liveness in assertLive. */
  debug?: boolean;
  /**
   * Back every page of the records now (mmap's MAP_POPULATE): the host kernel gives a SharedArrayBuffer
   * memory on first touch, at ~11 µs a 4 KiB page here, which would otherwise be paid by the first thread to
   * use each record — inside a measurement, and for much longer when that thread is short of CPU.
   */
  populate?: boolean;
  /**
   * SLAB_TYPESAFE_BY_RCU: a freed record may be handed out again at once, while lockless readers may still
   * look at it, and stays a record of this type (its memory is never given back while the arena lives).
   * These Int32 words of a record (indexes within it) keep their value across free and reuse, and debug
   * poison never covers them: the word a reader takes its reference on must read as "free" (0), never as
   * poison a reader could take for a count — the kernel keeps its free pointer off vm_refcnt
   * (freeptr_offset) for the same reason. A reader of such a record pins it, then checks it is still the
   * object it looked for (the design's job).
   */
  typesafeWords?: readonly number[];
  /**
   * Every record is written whole when it is allocated, before anyone reads it (page frames: zeroed,
   * copied or read in): the records need not start as zeros, so a buffer reused (shm/buffers.ts) is not
   * cleared — clearing the frames would touch every page of gigabytes a simulated run mostly leaves alone.
   */
  writtenOnAlloc?: boolean;
}

/**
 * Host memory of released arenas, for the next populated arena created on this thread (which writes every
 * page of a new arena anyway). The lab creates an address space for every round of every point, and backing
 * its frames anew cost a host page fault a page (~11 µs here: a second or more a round) where zeroing
 * memory already backed costs ~0.2 µs. The smallest buffer large enough is taken; at most SPARE_BUFFERS are
 * kept, the smallest dropped first (a run's largest address space then serves the smaller ones). (The
 * checker, which creates one address space of one size for every schedule, reuses all of its buffers
 * instead: shm/buffers.ts.)
 */
const spare: SharedArrayBuffer[] = [];
const SPARE_BUFFERS = 4;

function takeBacking(bytes: number): SharedArrayBuffer | undefined {
  let best = -1;
  spare.forEach((b, i) => {
    if (b.byteLength >= bytes && (best < 0 || b.byteLength < spare[best]!.byteLength)) best = i;
  });
  return best < 0 ? undefined : spare.splice(best, 1)[0];
}

function giveBacking(buf: SharedArrayBuffer): void {
  if (spare.includes(buf)) throw new ArenaError('arena released twice');
  spare.push(buf);
  spare.sort((a, b) => b.byteLength - a.byteLength);
  spare.length = Math.min(spare.length, SPARE_BUFFERS);
}

/** Bytes of free records validate() compares at a time. */
const POISON_RUN = 64 * 1024;

/**
 * Debug arenas' buffers whose free records retire() found whole in their poison, with the records that were
 * live: a create() over the same buffer (BufferSet.reuse, the checker's next schedule) poisons only those,
 * since the others already hold every byte it would write — a fifth of what the checker's controller
 * spent on a schedule went to poisoning a megabyte of free records anew.
 */
const poisonedBuffers = new WeakMap<SharedArrayBuffer, { capacity: number; stride: number; live: number[] }>();

/**
 * An arena of fixed-size records in a SharedArrayBuffer: the slab cache of mmsplit.
 *
 * Guarantee: alloc() and free() may be called from any thread at once; a record index is handed to at
 * most one allocation between two frees. Allocation is lock-free: a bitmap with one bit per record,
 * claimed with compareExchange, scanned from a per-thread cursor so threads rarely touch the same word.
 * Index 0 is never allocated; alloc() returns -1 when the arena is full (the caller's ENOMEM).
 *
 * Each record carries a generation number, odd while allocated and even while free, bumped on every
 * alloc and free: a reference (index, generation) can be checked for use after free, and a second free
 * is caught atomically. In debug mode freed records are filled with POISON_FREE and the poison is
 * verified when the record is handed out again, which catches writes through stale references.
 */
export class Arena {
  readonly name: string;
  readonly capacity: number;
  readonly stride: number;
  readonly debug: boolean;
  readonly data: SharedArrayBuffer;
  /** The records, as bytes, Int32 words and Float64 words. */
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly meta: SharedArrayBuffer;
  private readonly bitmap: Int32Array;
  private readonly gen: Int32Array;
  private readonly bitmapWords: number;
  private readonly wordsPerRecord: number;
  /** SLAB_TYPESAFE_BY_RCU (ArenaOptions.typesafeWords): the words that survive free and reuse; undefined otherwise. */
  readonly typesafeWords: readonly number[] | undefined;
  /**
   * Type-safe arenas: the record this thread freed last, handed out first by its next alloc() — the LIFO
   * reuse of SLUB's per-CPU freelists (sheaves since 6.18), which makes a freed VMA come back at once as
   * the next one (what lock_vma_under_rcu must be ready for). 0: none.
   */
  private lastFreed = 0;
  /** This thread's scan position in the bitmap; every thread attaching gets its own. */
  private cursor: number;
  /** Debug, not type-safe: a record's worth of POISON_FREE and of POISON_INUSE, and the records as a Buffer (to compare). */
  private readonly poisonFree: Uint8Array | undefined;
  private readonly poisonInuse: Uint8Array | undefined;
  private readonly native: NativeBytes | undefined;

  static create(opts: ArenaOptions): Arena {
    const stride = opts.layout ? opts.layout.stride : opts.stride;
    if (stride === undefined || !Number.isInteger(stride) || stride <= 0 || stride % 8 !== 0) {
      throw new ArenaError(`arena ${opts.name}: record size must be a positive multiple of 8 bytes`);
    }
    if (!Number.isInteger(opts.capacity) || opts.capacity < 2) {
      throw new ArenaError(`arena ${opts.name}: capacity must be an integer >= 2`);
    }
    const words = Math.ceil(opts.capacity / 32);
    // Both buffers may be larger than asked: attach() views only the records' and the metadata's bytes.
    const meta = sharedBuffer(4 * (words + opts.capacity + 1), { larger: true }); // + the count of attachments
    const bytes = opts.capacity * stride;
    const recycled = opts.populate ? takeBacking(bytes) : undefined;
    // Debug: every byte is written below, but for the type-safe words, which poison never covers.
    const data = recycled ?? sharedBuffer(bytes, { overwritten: opts.writtenOnAlloc === true || (opts.debug === true && opts.typesafeWords === undefined), larger: true });
    const bitmap = new Int32Array(meta, 0, words);
    bitmap[0] = 1; // record 0 is NULL
    for (let r = opts.capacity; r < words * 32; r++) bitmap[r >>> 5]! |= 1 << (r & 31);
    const arena = new Arena({
      kind: 'mmsplit.arena',
      name: opts.name,
      capacity: opts.capacity,
      stride,
      debug: opts.debug ?? false,
      data,
      meta,
      ...(opts.typesafeWords ? { typesafeWords: [...opts.typesafeWords] } : {}),
    });
    if (arena.debug) {
      // Record 0 (NULL) and the type-safe words read as new memory, recycled or not: a word a reader pins
      // must not keep a count from the arena's last life.
      if (recycled !== undefined && arena.typesafeWords !== undefined) arena.i32.fill(0);
      else arena.i32.fill(0, 0, arena.wordsPerRecord);
      const poisoned = poisonedBuffers.get(data);
      poisonedBuffers.delete(data);
      if (arena.typesafeWords !== undefined) for (let r = 1; r < opts.capacity; r++) arena.poisonRecord(r, POISON_FREE);
      else if (poisoned?.capacity === opts.capacity && poisoned.stride === stride) for (const r of poisoned.live) arena.poisonRecord(r, POISON_FREE);
      else fill(arena.u8.subarray(stride), POISON_FREE);
      if (arena.typesafeWords === undefined) atRetire(() => arena.retire());
    } else if (recycled) fill(arena.u8, 0); // as new memory reads: 0.02 s for 320 MiB here (a Uint8Array's fill 0.10 s), against 1.2 s of first touches
    else if (opts.populate) for (let w = 0; w < arena.i32.length; w += 1024) arena.i32[w] = 0; // one write a page
    return arena;
  }

  /**
   * The arena is gone: no thread will touch it again (its address space has exited and every worker that
   * attached has ended or moved on). Its memory, already backed by the host, is kept for the next populated arena
   * this thread creates (see takeBacking). Only the creator may call this, and only once.
   */
  release(): void {
    giveBacking(this.data);
  }

  static attach(handle: ArenaHandle): Arena {
    if (handle?.kind !== 'mmsplit.arena') throw new ArenaError('not an arena handle');
    return new Arena(handle);
  }

  private constructor(h: ArenaHandle) {
    this.name = h.name;
    this.capacity = h.capacity;
    this.stride = h.stride;
    this.debug = h.debug;
    this.data = h.data;
    this.meta = h.meta;
    // The buffer may be larger than the records: recycled memory of a larger arena (takeBacking).
    const bytes = h.capacity * h.stride;
    this.u8 = new Uint8Array(h.data, 0, bytes);
    this.i32 = new Int32Array(h.data, 0, bytes / 4);
    this.f64 = new Float64Array(h.data, 0, bytes / 8);
    this.bitmapWords = Math.ceil(h.capacity / 32);
    this.bitmap = new Int32Array(h.meta, 0, this.bitmapWords);
    this.gen = new Int32Array(h.meta, 4 * this.bitmapWords, h.capacity);
    this.wordsPerRecord = h.stride / 4;
    this.typesafeWords = h.typesafeWords;
    // Spread threads over the bitmap so that concurrent allocators rarely race for one word. The n-th
    // thread to attach gets the n-th position (not one from its thread id), so that a run under the
    // checker's scheduler allocates the same records every time it is replayed.
    const attached = Atomics.add(new Int32Array(h.meta, 4 * (this.bitmapWords + h.capacity), 1), 0, 1);
    this.cursor = (attached * 977) % this.bitmapWords;
    const plain = h.debug && h.typesafeWords === undefined;
    this.poisonFree = plain ? bytesOf(POISON_FREE, h.stride) : undefined;
    this.poisonInuse = plain ? bytesOf(POISON_INUSE, h.stride) : undefined;
    this.native = plain ? NativeBuffer?.from(h.data, 0, bytes) : undefined;
  }

  handle(): ArenaHandle {
    return {
      kind: 'mmsplit.arena',
      name: this.name,
      capacity: this.capacity,
      stride: this.stride,
      debug: this.debug,
      data: this.data,
      meta: this.meta,
      ...(this.typesafeWords ? { typesafeWords: this.typesafeWords } : {}),
    };
  }

  /** Allocates a record; its contents are whatever the last user left (POISON_INUSE in debug mode). */
  alloc(): number {
    if (this.lastFreed !== 0) {
      const rec = this.lastFreed;
      this.lastFreed = 0;
      if (this.claimRecord(rec)) return this.handOut(this.claimed(rec, Atomics.add(this.gen, rec, 1) + 1));
    }
    const take = this.claim(1);
    if (take === 0) return -1;
    const rec = (this.cursor << 5) + 31 - Math.clz32(take);
    return this.handOut(this.claimed(rec, Atomics.add(this.gen, rec, 1) + 1));
  }

  /**
   * kmem_cache_alloc_bulk(): up to `max` (≤ 32) records into out[0..n), ascending, all taken from one
   * bitmap word with one compare-exchange; returns n, 0 if the arena is full. A thread that refills a
   * cache this way touches the shared bitmap once per batch, and its batch is a run of neighbouring records
   * no other thread is handed. The batch is for a cache private to the caller (the kernel's per-cpu page
   * lists, which rmqueue_bulk() fills under zone->lock in one go), so its generations are bumped with
   * plain stores — the compare-exchange made the records this thread's, and nobody may look at them
   * before the thread hands one out — and the checker sees the whole refill as one step, as the kernel's
   * other CPUs see it. In debug mode the records keep their free poison until handOut(), as KASAN's pages
   * stay poisoned on the per-cpu lists until post_alloc_hook(): a stale write to one is caught there or
   * when the arena is checked, and one never handed out goes back with no poisoning to do.
   */
  allocBulk(out: Int32Array, max: number): number {
    const take = this.claim(max);
    const base = this.cursor << 5;
    const gen = this.gen;
    let got = 0;
    for (let m = take; m !== 0; m &= m - 1) {
      const rec = base + 31 - Math.clz32(m & -m);
      const g = gen[rec]! + 1;
      gen[rec] = g;
      out[got++] = this.claimed(rec, g);
    }
    return got;
  }

  /**
   * A record goes into use (alloc(), or one of an allocBulk() batch): in debug mode its free poison is
   * checked and replaced by the in-use poison. Returns `rec`.
   */
  handOut(rec: number): number {
    if (this.debug) this.unpoison(rec);
    return rec;
  }

  /**
   * kmem_cache_free_bulk(), free_pcppages_bulk(): frees recs[from..to), records the caller holds
   * privately — an allocBulk() batch's records not handed out, or (not in debug mode) records it freed into
   * its cache — with one atomic and per bitmap word. Their generations are bumped with plain stores for
   * allocBulk's reason; a record twice in the batch, or one not allocated, is a double free. In debug mode
   * the records still hold their free poison (never handed out), so there is none to write.
   */
  freeBulk(recs: Int32Array, from: number, to: number): void {
    const gen = this.gen;
    let word = -1;
    let bits = 0;
    for (let i = from; i < to; i++) {
      const rec = recs[i]!;
      if (rec <= 0 || rec >= this.capacity) throw new ArenaError(`${this.name}: free of invalid record ${rec}`);
      const g = gen[rec]!;
      if ((g & 1) === 0) throw new ArenaError(`${this.name}: double free of record ${rec}`);
      gen[rec] = g + 1;
      if (rec >>> 5 !== word) {
        if (bits !== 0) Atomics.and(this.bitmap, word, ~bits);
        word = rec >>> 5;
        bits = 0;
      }
      bits |= 1 << (rec & 31);
    }
    if (bits !== 0) Atomics.and(this.bitmap, word, ~bits);
    if (this.typesafeWords !== undefined && to > from) this.lastFreed = recs[to - 1]!;
  }

  /**
   * Sets up to `max` of the lowest clear bits of the first bitmap word, from the cursor on, that has any;
   * returns them (0: the arena is full) and leaves the cursor on that word.
   */
  private claim(max: number): number {
    const bitmap = this.bitmap;
    const words = this.bitmapWords;
    let w = this.cursor;
    for (let n = 0; n < words; n++) {
      let bits = Atomics.load(bitmap, w);
      while (bits !== -1) {
        let take = 0;
        let clear = ~bits;
        for (let k = 0; k < max && clear !== 0; k++) {
          const low = clear & -clear; // the lowest clear bit
          take |= low;
          clear ^= low;
        }
        const prev = Atomics.compareExchange(bitmap, w, bits, bits | take);
        if (prev === bits) {
          this.cursor = w;
          return take;
        }
        bits = prev;
      }
      w = w + 1 === words ? 0 : w + 1;
    }
    return 0;
  }

  /** Sets record `rec`'s bit if it is clear (another thread may have taken it meanwhile). */
  private claimRecord(rec: number): boolean {
    const w = rec >>> 5;
    const bit = 1 << (rec & 31);
    let bits = Atomics.load(this.bitmap, w);
    while ((bits & bit) === 0) {
      const prev = Atomics.compareExchange(this.bitmap, w, bits, bits | bit);
      if (prev === bits) return true;
      bits = prev;
    }
    return false;
  }

  /** Allocates a record and zeroes it. */
  zalloc(): number {
    const rec = this.alloc();
    if (rec > 0) this.i32.fill(0, rec * this.wordsPerRecord, (rec + 1) * this.wordsPerRecord);
    return rec;
  }

  /** Record `rec` was just claimed and its generation made `g`, which must say allocated (odd). Returns `rec`. */
  private claimed(rec: number, g: number): number {
    if ((g & 1) === 0) throw new ArenaError(`${this.name}: record ${rec} handed out while allocated`);
    return rec;
  }

  /** Debug: a free record goes into use — its free poison must be intact (no write after free); then poisoned in use. */
  private unpoison(rec: number): void {
    if (!this.isPoisoned(rec)) {
      const base = rec * this.wordsPerRecord;
      for (let i = 0; i < this.wordsPerRecord; i++) {
        if (this.i32[base + i] !== POISON_WORD && !this.typesafeWords?.includes(i)) {
          throw new ArenaError(
            `${this.name}: record ${rec} was written after it was freed (word ${i} is 0x${(this.i32[base + i]! >>> 0).toString(16)})`,
          );
        }
      }
    }
    this.poisonRecord(rec, POISON_INUSE);
  }

  /**
   * Fills record `rec` with `byte`, but for its type-safe words: those are never written, not even for a
   * moment — a reader may be taking its reference on one right now.
   */
  private poisonRecord(rec: number, byte: number): void {
    const keep = this.typesafeWords;
    if (keep === undefined) {
      this.u8.set(byte === POISON_FREE ? this.poisonFree! : this.poisonInuse!, rec * this.stride); // a copy: see fill()
      return;
    }
    const word = byte * 0x01010101;
    const base = rec * this.wordsPerRecord;
    for (let i = 0; i < this.wordsPerRecord; i++) if (!keep.includes(i)) this.i32[base + i] = word;
  }

  /** Frees a record; a second free of the same allocation throws. */
  free(rec: number): void {
    if (!Number.isInteger(rec) || rec <= 0 || rec >= this.capacity) {
      throw new ArenaError(`${this.name}: free of invalid record ${rec}`);
    }
    const g = Atomics.load(this.gen, rec);
    if ((g & 1) === 0 || Atomics.compareExchange(this.gen, rec, g, g + 1) !== g) {
      throw new ArenaError(`${this.name}: double free of record ${rec}`);
    }
    if (this.debug) this.poisonRecord(rec, POISON_FREE);
    // Clearing the bit last publishes the record to allocators only once it is poisoned.
    Atomics.and(this.bitmap, rec >>> 5, ~(1 << (rec & 31)));
    if (this.typesafeWords !== undefined) this.lastFreed = rec;
  }

  /** The record's generation: odd while allocated; changes on every alloc and free. */
  generation(rec: number): number {
    return Atomics.load(this.gen, rec);
  }

  /**
   * The generation as a debugging check reads it (KASAN's look at an object's state): a plain read, not an
   * Atomics operation, so that the check is no yield point of the checker's scheduler.
   */
  peekGeneration(rec: number): number {
    return this.gen[rec]!;
  }

  isLive(rec: number): boolean {
    return rec > 0 && rec < this.capacity && (Atomics.load(this.gen, rec) & 1) === 1;
  }

  /** Throws unless `rec` is allocated and, if given, still the allocation of generation `gen`. */
  assertLive(rec: number, gen?: number): void {
    if (!this.isLive(rec)) throw new ArenaError(`${this.name}: use after free of record ${rec}`);
    if (gen !== undefined && Atomics.load(this.gen, rec) !== gen) {
      throw new ArenaError(`${this.name}: use after free of record ${rec} (generation ${gen} is gone)`);
    }
  }

  /** True if the record is filled with the free poison (debug mode), as a freed record must be. */
  isPoisoned(rec: number): boolean {
    const keep = this.typesafeWords;
    if (keep === undefined) {
      const at = rec * this.stride;
      if (this.native !== undefined) return this.native.compare(this.poisonFree!, 0, this.stride, at, at + this.stride) === 0;
      // Eight bytes at a time: the poison read as a Float64 is a normal number (0x6b6b…: no NaN, no ±0), so
      // equal doubles are equal bits. The checker validates every free frame's 4 KiB twice after every
      // schedule, and the word-by-word loop (a type-safe test on each word) was over half of its controller's CPU.
      const f64 = this.f64;
      const base = (rec * this.stride) / 8;
      for (let i = base, end = base + this.stride / 8; i < end; i++) if (f64[i] !== POISON_F64) return false;
      return true;
    }
    const base = rec * this.wordsPerRecord;
    for (let i = 0; i < this.wordsPerRecord; i++) if (this.i32[base + i] !== POISON_WORD && !keep.includes(i)) return false;
    return true;
  }

  /** Records allocated now (a scan; for statistics and checks, not hot paths). */
  inUse(): number {
    let n = 0;
    for (let w = 0; w < this.bitmapWords; w++) {
      let x = Atomics.load(this.bitmap, w);
      while (x !== 0) {
        x &= x - 1;
        n++;
      }
    }
    return n - 1 - (this.bitmapWords * 32 - this.capacity);
  }

  /**
   * Debug, not type-safe: the arena is done with and its buffer may be reused by a create() (BufferSet.retire).
   * Checks it as validate() does and remembers the records then live: that create() poisons only those.
   */
  retire(): void {
    const live: number[] = [];
    this.check(live);
    if (this.debug && this.typesafeWords === undefined) poisonedBuffers.set(this.data, { capacity: this.capacity, stride: this.stride, live });
  }

  /**
   * Checks bitmap against generations, and the poison of free records in debug mode. Call at quiescence
   * (every thread that uses the arena stopped): it reads with plain loads, an observer's look.
   */
  validate(): void {
    this.check(null);
  }

  /** validate(), and the records found live pushed onto `live` (for retire). */
  private check(liveRecords: number[] | null): void {
    const plain = this.debug && this.typesafeWords === undefined;
    let run = 0; // plain debug: the first of the free records not checked yet (0: none)
    for (let rec = 1; rec < this.capacity; rec++) {
      const used = (this.bitmap[rec >>> 5]! >>> (rec & 31)) & 1;
      const live = this.gen[rec]! & 1;
      if (used !== live) {
        if (run !== 0) this.checkFreeRun(run, rec);
        throw new ArenaError(`${this.name}: record ${rec} bitmap says ${used ? 'used' : 'free'}, generation says ${live ? 'live' : 'free'}`);
      }
      if (live === 1) liveRecords?.push(rec);
      if (!this.debug) continue;
      if (live) {
        if (run !== 0) this.checkFreeRun(run, rec);
        run = 0;
      } else if (!plain) {
        if (!this.isPoisoned(rec)) this.lostPoison(rec);
      } else if (run === 0) run = rec;
    }
    if (run !== 0) this.checkFreeRun(run, this.capacity);
  }

  /**
   * Free records [from, to) of a plain debug arena hold their poison: one comparison for the lot (a call a
   * record cost more than the comparing for the checker's small records), one a record only to name the culprit.
   */
  private checkFreeRun(from: number, to: number): void {
    const native = this.native;
    if (native !== undefined) {
      let whole = true;
      for (let at = from * this.stride, end = to * this.stride; whole && at < end; at += POISON_RUN) {
        const n = Math.min(POISON_RUN, end - at);
        whole = native.compare(bytesOf(POISON_FREE, n), 0, n, at, at + n) === 0;
      }
      if (whole) return;
    }
    for (let rec = from; rec < to; rec++) if (!this.isPoisoned(rec)) this.lostPoison(rec);
  }

  private lostPoison(rec: number): never {
    throw new ArenaError(`${this.name}: free record ${rec} lost its poison (written after free)`);
  }
}
