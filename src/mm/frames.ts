import { sharedBuffer } from '../shm/buffers.js';
import { Arena, type ArenaHandle } from '../shm/arena.js';
import { CACHE_LINE, defineLayout } from '../shm/layout.js';
import { refcountDecAndTest, refcountInc, refcountIncNotZero, refcountRead } from '../sync/refcount.js';
import { memoryStart, memoryTraffic } from '../sync/relax.js';
import { futexWait, futexWake } from '../sync/sleep.js';
import { ReclaimWait } from './reclaim.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** The shared zero page: frame 0, never allocated, always zero (the kernel's ZERO_PAGE). */
export const ZERO_PFN = 0;

/** Allocation modes, after the kernel's gfp flags. */
export const GFP_KERNEL = 0; // may wait for frames to be freed
export const GFP_NOWAIT = 1; // fails at once instead of waiting (phase 3: allocating under RCU)

// struct page, one per frame, in a table parallel to the frames: a cache line each, as x86-64's 64-byte
// struct page is, so that faults of two CPUs on two frames never share a line of their counts.
export const PAGE = defineLayout({
  f64: ['index'], // page->index: the file page offset of a page-cache page
  i32: ['refcount', 'mapcount', 'flags', 'mapping'],
  align: CACHE_LINE,
});

/** page->flags bits. */
export const PG_locked = 1 << 0; // I/O in flight: waiters sleep on the flags word
export const PG_uptodate = 1 << 1;
export const PG_dirty = 1 << 2;
export const PG_anon = 1 << 3;
export const PG_waiters = 1 << 4;

export interface FrameTableHandle {
  readonly kind: 'mmsplit.frames';
  readonly frames: ArenaHandle;
  readonly pages: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

// Shared control words.
const FREED = 0; // bumped whenever frames go back to the shared pool, to wake waiting allocators
const WAITERS = 1;
const DRAIN = 2; // bumped by an allocator that found the pool empty: every thread returns its cache
const UNMAPPING = 3; // zaps in progress: frames on their way back (an mmu_gather holds them until the TLB flush)

const CACHE_BATCH = 16;
const CACHE_MAX = 2 * CACHE_BATCH;

/**
 * Physical memory: N frames of 4 KiB in one SharedArrayBuffer, with a struct page per frame.
 *
 * Guarantee: a frame is handed to one owner at a time; it returns to the pool only when its last
 * reference is dropped (putPage). Each thread keeps a small cache of free frames (the kernel's per-cpu
 * page lists), so the common allocation touches no shared word; a thread that finds the pool empty asks
 * every thread to drain its cache. GFP_NOWAIT allocations never wait. GFP_KERNEL ones reclaim and wait as
 * the kernel's do (__alloc_pages_slowpath): as long as unmapped frames still wait for a grace period they
 * free what is ready and sleep, however long another thread takes to let the grace period end (a reader
 * preempted by the host, say); only when nothing is left to reclaim and nothing is freed for a while do
 * they fail (the fault's VM_FAULT_OOM) — memory is really gone. Frames a zap has taken from their PTEs but
 * not yet handed on count as on their way back: the zapping thread may be preempted half-way through.
 *
 * Anonymous pages come out zeroed: allocZeroed() copies a zero page over the frame, which runs at memset
 * speed (typed-array set), unlike fill().
 */
export class FrameTable {
  readonly arena: Arena;
  /** The frames' bytes and Int32 words. */
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  /** struct page fields. */
  readonly pageI32: Int32Array;
  readonly pageF64: Float64Array;
  readonly nframes: number;
  private readonly control: Int32Array;
  private readonly waiting: ReclaimWait;
  private readonly cache = new Int32Array(CACHE_MAX);
  private cached = 0;
  private drainSeen = 0;
  /**
   * This thread's direct reclaim: called when the pool is empty, before a GFP_KERNEL allocation waits; frees
   * the unmapped frames whose grace period has ended and returns how many still wait for one.
   */
  reclaim: (() => number) | undefined;
  private static readonly zeroPage = new Uint8Array(PAGE_SIZE);

  static create(opts: { frames: number; debug?: boolean; populate?: boolean }): FrameTable {
    // Every frame is written whole when allocated (allocZeroed, copyPage, a page-cache read), but frame 0.
    const frames = Arena.create({ name: 'page frame', capacity: opts.frames + 1, stride: PAGE_SIZE, debug: opts.debug ?? false, populate: opts.populate ?? false, writtenOnAlloc: true });
    // Frame 0 is the arena's reserved record: never allocated, left zero: the shared zero page.
    frames.u8.fill(0, 0, PAGE_SIZE);
    return new FrameTable({
      kind: 'mmsplit.frames',
      frames: frames.handle(),
      pages: sharedBuffer((opts.frames + 1) * PAGE.stride),
      control: sharedBuffer(16),
    });
  }

  static attach(h: FrameTableHandle): FrameTable {
    if (h?.kind !== 'mmsplit.frames') throw new TypeError('not a frame table handle');
    return new FrameTable(h);
  }

  private constructor(private readonly h: FrameTableHandle) {
    this.arena = Arena.attach(h.frames);
    this.bytes = this.arena.u8;
    this.words = this.arena.i32;
    this.pageI32 = new Int32Array(h.pages);
    this.pageF64 = new Float64Array(h.pages);
    this.nframes = this.arena.capacity - 1;
    this.control = new Int32Array(h.control);
    this.waiting = new ReclaimWait(this.control, FREED, WAITERS);
    this.drainSeen = Atomics.load(this.control, DRAIN);
  }

  handle(): FrameTableHandle {
    return this.h;
  }

  /**
   * Allocates a frame with one reference and a fresh struct page with `pageFlags` (e.g. PG_anon); -1 if
   * none (OOM, or GFP_NOWAIT).
   */
  alloc(gfp = GFP_KERNEL, pageFlags = 0): number {
    if (this.drainSeen !== Atomics.load(this.control, DRAIN)) this.drainCache();
    let pfn = this.cached > 0 ? this.cache[--this.cached]! : this.refill();
    if (pfn > 0) this.arena.handOut(pfn);
    else {
      if (gfp === GFP_NOWAIT) return -1;
      pfn = this.allocSlow();
      if (pfn < 0) return -1;
    }
    const b = PAGE.i32Base(pfn);
    const p = this.pageI32;
    p[b + PAGE.i32.mapcount] = 0;
    p[b + PAGE.i32.flags] = pageFlags; // nobody else can see the page yet: plain stores suffice
    p[b + PAGE.i32.mapping] = 0;
    this.pageF64[PAGE.f64Base(pfn) + PAGE.f64.index] = 0;
    Atomics.store(p, b + PAGE.i32.refcount, 1);
    return pfn;
  }

  /** Allocates a zero-filled frame (an anonymous page), or -1. */
  allocZeroed(gfp = GFP_KERNEL, pageFlags = 0): number {
    const pfn = this.alloc(gfp, pageFlags);
    if (pfn > 0) {
      const t = memoryStart();
      this.bytes.set(FrameTable.zeroPage, pfn * PAGE_SIZE);
      memoryTraffic(PAGE_SIZE, t);
    }
    return pfn;
  }

  /** copy_user_highpage(): frame `src`'s bytes into frame `dst` (a page read and a page written). */
  copyPage(dst: number, src: number): void {
    const t = memoryStart();
    this.bytes.copyWithin(dst * PAGE_SIZE, src * PAGE_SIZE, (src + 1) * PAGE_SIZE);
    memoryTraffic(2 * PAGE_SIZE, t);
  }

  /**
   * Takes a batch from the pool into the cache — one bitmap word's free frames, a run of neighbours — and
   * one frame of it. The batch comes ascending and the cache is a stack, so it goes in reversed and comes
   * out ascending: zeroing pages in address order streams (158 ns a page here) where descending runs do
   * not (395 ns).
   */
  private refill(): number {
    const cache = this.cache;
    const n = this.arena.allocBulk(cache, CACHE_MAX);
    if (n === 0) return -1;
    for (let i = 0, j = n - 1; i < j; i++, j--) {
      const t = cache[i]!;
      cache[i] = cache[j]!;
      cache[j] = t;
    }
    this.cached = n - 1;
    return cache[n - 1]!;
  }

  private allocSlow(): number {
    Atomics.add(this.control, DRAIN, 1); // ask every thread to give back the frames it keeps cached
    // Reclaim may free frames into this thread's own cache: take from there first.
    return this.waiting.allocSlow(
      () => (this.cached > 0 ? this.arena.handOut(this.cache[--this.cached]!) : this.arena.alloc()),
      () => this.reclaim?.() ?? 0,
      // A zap under way gives its pages back when it ends (its thread may be preempted in the middle of 128 MiB).
      () => Atomics.load(this.control, UNMAPPING) > 0,
      'alloc_pages',
    );
  }

  /** An mmu_gather started (+1) or finished (-1) gathering pages: allocators wait for them rather than fail. */
  unmapping(delta: 1 | -1): void {
    Atomics.add(this.control, UNMAPPING, delta);
  }

  /** Returns this thread's cached frames to the shared pool. */
  drainCache(): void {
    this.drainSeen = Atomics.load(this.control, DRAIN);
    this.arena.freeBulk(this.cache, 0, this.cached);
    this.cached = 0;
    this.waiting.freed();
  }

  /** get_page(): one more reference (a PTE mapping it, the page cache, a pinned user). */
  getPage(pfn: number): void {
    if (pfn === ZERO_PFN) return; // the zero page is never freed, so it is not counted
    refcountInc(this.pageI32, PAGE.i32Base(pfn) + PAGE.i32.refcount);
  }

  /** get_page_unless_zero(): a reference, unless the frame is already on its way to the free pool. */
  tryGetPage(pfn: number): boolean {
    return refcountIncNotZero(this.pageI32, PAGE.i32Base(pfn) + PAGE.i32.refcount);
  }

  /** put_page(): drops a reference; the last one frees the frame. */
  putPage(pfn: number): void {
    if (pfn === ZERO_PFN) return;
    if (!refcountDecAndTest(this.pageI32, PAGE.i32Base(pfn) + PAGE.i32.refcount)) return;
    if (this.arena.debug) this.arena.free(pfn); // debug: straight back, poisoned, so stale users trip
    else if (this.cached < CACHE_MAX) this.cache[this.cached++] = pfn;
    else {
      // Full: the coldest batch back to the pool at once (free_pcppages_bulk()); this frame joins the hot end.
      this.arena.freeBulk(this.cache, 0, CACHE_BATCH);
      this.cache.copyWithin(0, CACHE_BATCH, CACHE_MAX);
      this.cached = CACHE_MAX - CACHE_BATCH;
      this.cache[this.cached++] = pfn;
    }
    this.waiting.freed();
  }

  refcount(pfn: number): number {
    return refcountRead(this.pageI32, PAGE.i32Base(pfn) + PAGE.i32.refcount);
  }

  flags(pfn: number): number {
    return Atomics.load(this.pageI32, PAGE.i32Base(pfn) + PAGE.i32.flags);
  }

  setFlags(pfn: number, bits: number): number {
    return Atomics.or(this.pageI32, PAGE.i32Base(pfn) + PAGE.i32.flags, bits);
  }

  clearFlags(pfn: number, bits: number): number {
    return Atomics.and(this.pageI32, PAGE.i32Base(pfn) + PAGE.i32.flags, ~bits);
  }

  /** lock_page(): takes PG_locked, sleeping while someone else holds it (I/O in flight). */
  lockPage(pfn: number): void {
    const at = PAGE.i32Base(pfn) + PAGE.i32.flags;
    const p = this.pageI32;
    for (;;) {
      const f = Atomics.load(p, at);
      if ((f & PG_locked) === 0) {
        if (Atomics.compareExchange(p, at, f, f | PG_locked) === f) return;
        continue;
      }
      this.waitOnFlags(at, f);
    }
  }

  /** trylock_page(). */
  trylockPage(pfn: number): boolean {
    return (Atomics.or(this.pageI32, PAGE.i32Base(pfn) + PAGE.i32.flags, PG_locked) & PG_locked) === 0;
  }

  /** unlock_page(): releases PG_locked and wakes whoever waits on the page. */
  unlockPage(pfn: number): void {
    const at = PAGE.i32Base(pfn) + PAGE.i32.flags;
    const prev = Atomics.and(this.pageI32, at, ~(PG_locked | PG_waiters));
    if ((prev & PG_locked) === 0) throw new Error(`unlock_page of unlocked frame ${pfn}`);
    if ((prev & PG_waiters) !== 0) futexWake(this.pageI32, at);
  }

  /** folio_wait_locked(): sleeps until the page is not locked (its I/O finished). */
  waitOnPageLocked(pfn: number): void {
    const at = PAGE.i32Base(pfn) + PAGE.i32.flags;
    for (;;) {
      const f = Atomics.load(this.pageI32, at);
      if ((f & PG_locked) === 0) return;
      this.waitOnFlags(at, f);
    }
  }

  private waitOnFlags(at: number, f: number): void {
    const p = this.pageI32;
    if ((f & PG_waiters) === 0) {
      if (Atomics.compareExchange(p, at, f, f | PG_waiters) !== f) return;
      f |= PG_waiters;
    }
    futexWait(p, at, f, 'folio_wait_locked');
  }

  /** Frames not allocated to anyone (those in thread caches count as allocated). */
  freeFrames(): number {
    return this.nframes - this.arena.inUse();
  }

  /** Checks every allocated frame has a positive reference count, and the arena itself. */
  validate(): void {
    this.arena.validate();
    this.validateRefcounts();
  }

  /** Checks every allocated frame has a positive reference count. */
  validateRefcounts(): void {
    for (let pfn = 1; pfn <= this.nframes; pfn++) {
      if (!this.arena.isLive(pfn)) continue;
      const r = this.refcount(pfn);
      if (r < 0) throw new Error(`frame ${pfn}: refcount ${r}`);
    }
  }
}
