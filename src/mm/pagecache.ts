import { sharedBuffer } from '../shm/buffers.js';
import fs from 'node:fs';
import { Arena, type ArenaHandle } from '../shm/arena.js';
import { defineLayout } from '../shm/layout.js';
import { refcountDecAndTest, refcountInc } from '../sync/refcount.js';
import { sleepMs } from '../sync/sleep.js';
import { spinLock, spinUnlock } from '../sync/spinlock.js';
import { FrameTable, GFP_KERNEL, PAGE, PAGE_SIZE, PG_dirty, PG_locked, PG_uptodate } from './frames.js';

/**
 * Files and their page cache, shared by every thread.
 *
 * A file is a record (its size, a reference count — the struct file that a VMA pins and that munmap's
 * deferred free drops with fput — and where its bytes come from): either a real file on disk, read with
 * pread into the frame on a miss and written back with pwrite, or a synthetic file whose pages hold a
 * pattern derived from (file, page offset) and whose misses sleep a configurable latency — that sleep
 * is where a page fault blocks.
 *
 * The page cache maps (file, pgoff) to a frame through a hash table with a spinlock per bucket. The cache
 * holds one reference on each of its frames. A miss inserts a locked, not-yet-uptodate page before it
 * reads, so concurrent faults on the same page find it and sleep on the page lock (folio_wait_locked)
 * instead of reading twice.
 */
const FILE = defineLayout({ f64: ['size'], i32: ['refcount', 'kind', 'latencyUs', 'pathLen', 'path[128]'] });
const FILE_DISK = 0;
const FILE_SYNTHETIC = 1; // pages hold a pattern; misses sleep latencyUs
const FILE_SHMEM = 2; // pages start zeroed and live only in the cache (shared anonymous memory, tmpfs)
const MAX_PATH = 512;

const ENTRY = defineLayout({ f64: ['pgoff'], i32: ['file', 'pfn', 'next'] });

export interface PageCacheHandle {
  readonly kind: 'mmsplit.pagecache';
  readonly files: ArenaHandle;
  readonly entries: ArenaHandle;
  readonly buckets: SharedArrayBuffer;
  readonly stats: SharedArrayBuffer;
}

/** Outcome of findPage() that is not a frame. */
export const PAGE_WOULD_SLEEP = -2; // a miss (or a page under I/O) where the caller asked not to sleep
export const PAGE_NOMEM = -1;

// Shared statistics words.
const STAT_HITS = 0;
const STAT_MISSES = 1;
const STAT_READS = 2;

export class PageCache {
  readonly files: Arena;
  private readonly entries: Arena;
  private readonly buckets: Int32Array; // pairs: [lock, head]
  private readonly nbuckets: number;
  private readonly stats: Int32Array;
  private readonly fileBytes: Uint8Array;
  /** This thread's open descriptors of disk-backed files. */
  private readonly fds = new Map<number, number>();

  static create(frames: FrameTable, opts: { files?: number; pages?: number; debug?: boolean } = {}): PageCache {
    const pages = opts.pages ?? 1 << 16;
    const nbuckets = 1 << Math.ceil(Math.log2(pages));
    return new PageCache(frames, {
      kind: 'mmsplit.pagecache',
      files: Arena.create({ name: 'struct file', capacity: opts.files ?? 1024, layout: FILE, debug: opts.debug ?? false }).handle(),
      entries: Arena.create({ name: 'page cache entry', capacity: pages + 1, layout: ENTRY, debug: opts.debug ?? false }).handle(),
      buckets: sharedBuffer(8 * nbuckets),
      stats: sharedBuffer(16),
    });
  }

  static attach(h: PageCacheHandle, frames: FrameTable): PageCache {
    if (h?.kind !== 'mmsplit.pagecache') throw new TypeError('not a page cache handle');
    return new PageCache(frames, h);
  }

  private constructor(
    private readonly frames: FrameTable,
    private readonly h: PageCacheHandle,
  ) {
    this.files = Arena.attach(h.files);
    this.entries = Arena.attach(h.entries);
    this.buckets = new Int32Array(h.buckets);
    this.nbuckets = this.buckets.length >>> 1;
    this.stats = new Int32Array(h.stats);
    this.fileBytes = this.files.u8;
  }

  handle(): PageCacheHandle {
    return this.h;
  }

  /** Opens a real file on disk; returns its id, with one reference. */
  openFile(path: string): number {
    const size = fs.statSync(path).size;
    const bytes = Buffer.from(path, 'utf8');
    if (bytes.length > MAX_PATH) throw new Error(`path too long for the file table: ${path}`);
    const f = this.newFile(FILE_DISK, size, 0);
    const b = FILE.i32Base(f);
    this.files.i32[b + FILE.i32.pathLen] = bytes.length;
    this.fileBytes.set(bytes, 4 * (b + FILE.i32.path));
    return f;
  }

  /** Creates a synthetic file of `size` bytes whose page misses sleep `latencyUs`; one reference. */
  syntheticFile(size: number, latencyUs = 0): number {
    return this.newFile(FILE_SYNTHETIC, size, latencyUs);
  }

  /** Creates a shmem file (what MAP_SHARED|MAP_ANONYMOUS maps): zeroed pages, no backing store. */
  shmemFile(size: number): number {
    return this.newFile(FILE_SHMEM, size, 0);
  }

  private newFile(kind: number, size: number, latencyUs: number): number {
    const f = this.files.zalloc();
    if (f < 0) throw new Error('file table full (ENFILE)');
    this.files.f64[FILE.f64Base(f) + FILE.f64.size] = size;
    const b = FILE.i32Base(f);
    this.files.i32[b + FILE.i32.kind] = kind;
    this.files.i32[b + FILE.i32.latencyUs] = latencyUs;
    Atomics.store(this.files.i32, b + FILE.i32.refcount, 1);
    return f;
  }

  path(file: number): string | undefined {
    const b = FILE.i32Base(file);
    const n = this.files.i32[b + FILE.i32.pathLen]!;
    if (n === 0) return undefined;
    const at = 4 * (b + FILE.i32.path);
    return Buffer.from(this.fileBytes.subarray(at, at + n)).toString('utf8');
  }

  fileSize(file: number): number {
    return this.files.f64[FILE.f64Base(file) + FILE.f64.size]!;
  }

  /** get_file(). */
  getFile(file: number): void {
    refcountInc(this.files.i32, FILE.i32Base(file) + FILE.i32.refcount);
  }

  /** fput(): the last reference writes back dirty pages, drops the file's pages and frees it. */
  putFile(file: number): void {
    if (!refcountDecAndTest(this.files.i32, FILE.i32Base(file) + FILE.i32.refcount)) return;
    this.writeback(file);
    this.truncate(file);
    const fd = this.fds.get(file);
    if (fd !== undefined) {
      fs.closeSync(fd);
      this.fds.delete(file);
    }
    this.files.free(file);
  }

  fileRefcount(file: number): number {
    return Atomics.load(this.files.i32, FILE.i32Base(file) + FILE.i32.refcount);
  }

  private bucketOf(file: number, pgoff: number): number {
    let h = Math.imul(file, 0x9e3779b1) ^ Math.imul(pgoff % 0x7fffffff | 0, 0x85ebca6b) ^ Math.floor(pgoff / 0x7fffffff);
    h ^= h >>> 15;
    return (h & (this.nbuckets - 1)) << 1;
  }

  /** find_get_page(): the cached frame with a reference taken, or 0. */
  lookup(file: number, pgoff: number): number {
    const bk = this.bucketOf(file, pgoff);
    spinLock(this.buckets, bk);
    const pfn = this.findLocked(bk, file, pgoff);
    spinUnlock(this.buckets, bk);
    return pfn;
  }

  /** The entry's frame with a reference taken, or 0. The bucket lock is held. */
  private findLocked(bk: number, file: number, pgoff: number): number {
    const ei = this.entries.i32;
    const ef = this.entries.f64;
    for (let e = this.buckets[bk + 1]!; e !== 0; e = ei[ENTRY.i32Base(e) + ENTRY.i32.next]!) {
      const b = ENTRY.i32Base(e);
      if (ei[b + ENTRY.i32.file] === file && ef[ENTRY.f64Base(e) + ENTRY.f64.pgoff] === pgoff) {
        const pfn = ei[b + ENTRY.i32.pfn]!;
        // The cache's own reference keeps the count above zero while the entry exists.
        refcountInc(this.frames.pageI32, PAGE.i32Base(pfn) + PAGE.i32.refcount);
        return pfn;
      }
    }
    return 0;
  }

  /**
   * filemap_fault()'s lookup: returns the uptodate frame for (file, pgoff) with a reference the caller
   * owns. On a miss it reads the page (sleeping: disk I/O or the file's latency) unless `mayNotSleep`,
   * when it returns PAGE_WOULD_SLEEP at once (the fault then retries in a context that may sleep).
   * PAGE_NOMEM if no frame could be had.
   */
  findPage(file: number, pgoff: number, mayNotSleep = false): number {
    const frames = this.frames;
    const bk = this.bucketOf(file, pgoff);
    for (;;) {
      spinLock(this.buckets, bk);
      const pfn = this.findLocked(bk, file, pgoff);
      if (pfn > 0) {
        spinUnlock(this.buckets, bk);
        if ((frames.flags(pfn) & PG_uptodate) !== 0) {
          Atomics.add(this.stats, STAT_HITS, 1);
          return pfn;
        }
        if (mayNotSleep) {
          frames.putPage(pfn);
          return PAGE_WOULD_SLEEP;
        }
        frames.waitOnPageLocked(pfn); // someone else's read is in flight
        if ((frames.flags(pfn) & PG_uptodate) !== 0) return pfn;
        frames.putPage(pfn); // their read failed and the page was dropped: try again
        continue;
      }
      spinUnlock(this.buckets, bk);
      if (mayNotSleep) return PAGE_WOULD_SLEEP;
      Atomics.add(this.stats, STAT_MISSES, 1);
      const fresh = frames.alloc(GFP_KERNEL);
      if (fresh < 0) return PAGE_NOMEM;
      const e = this.entries.alloc();
      if (e < 0) {
        frames.putPage(fresh);
        return PAGE_NOMEM;
      }
      frames.setFlags(fresh, PG_locked);
      frames.pageI32[PAGE.i32Base(fresh) + PAGE.i32.mapping] = file;
      frames.pageF64[PAGE.f64Base(fresh) + PAGE.f64.index] = pgoff;
      spinLock(this.buckets, bk);
      const raced = this.findLocked(bk, file, pgoff);
      if (raced > 0) {
        spinUnlock(this.buckets, bk);
        this.entries.free(e);
        frames.clearFlags(fresh, PG_locked);
        frames.putPage(fresh);
        frames.putPage(raced);
        continue;
      }
      const eb = ENTRY.i32Base(e);
      this.entries.i32[eb + ENTRY.i32.file] = file;
      this.entries.f64[ENTRY.f64Base(e) + ENTRY.f64.pgoff] = pgoff;
      this.entries.i32[eb + ENTRY.i32.pfn] = fresh;
      this.entries.i32[eb + ENTRY.i32.next] = this.buckets[bk + 1]!;
      frames.getPage(fresh); // the cache's reference; the caller keeps the allocation's
      Atomics.store(this.buckets, bk + 1, e);
      spinUnlock(this.buckets, bk);
      try {
        this.readPage(file, pgoff, fresh);
      } catch (err) {
        // An I/O error: take the page out again so that waiters, and later faults, do not use it.
        spinLock(this.buckets, bk);
        this.unlinkLocked(bk, e);
        spinUnlock(this.buckets, bk);
        this.entries.free(e);
        frames.putPage(fresh); // the cache's reference
        frames.unlockPage(fresh); // waiters see it not uptodate and look again
        frames.putPage(fresh);
        throw err;
      }
      frames.setFlags(fresh, PG_uptodate);
      frames.unlockPage(fresh);
      return fresh;
    }
  }

  /** The I/O of a miss: pread from the disk file, or the synthetic pattern after the file's latency. */
  private readPage(file: number, pgoff: number, pfn: number): void {
    Atomics.add(this.stats, STAT_READS, 1);
    const at = pfn * PAGE_SIZE;
    const dst = this.frames.bytes.subarray(at, at + PAGE_SIZE);
    const kind = this.files.i32[FILE.i32Base(file) + FILE.i32.kind]!;
    if (kind === FILE_SHMEM) {
      dst.fill(0); // a new shmem page; not a hot path (anonymous private pages use allocZeroed)
      return;
    }
    const path = this.path(file);
    if (kind === FILE_DISK && path !== undefined) {
      const n = fs.readSync(this.fd(file, path), dst, 0, PAGE_SIZE, pgoff * PAGE_SIZE);
      if (n < PAGE_SIZE) dst.fill(0, n); // the tail of the last page reads as zeroes
      return;
    }
    const latencyUs = this.files.i32[FILE.i32Base(file) + FILE.i32.latencyUs]!;
    if (latencyUs > 0) sleepMs(latencyUs / 1000, 'page cache read');
    fillSyntheticPage(dst, file, pgoff, this.fileSize(file));
  }

  private fd(file: number, path: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = fs.openSync(path, 'r+');
      this.fds.set(file, fd);
    }
    return fd;
  }

  /** Writes the dirty pages of a disk-backed file back to it (writeback; msync). Returns pages written. */
  writeback(file: number): number {
    const frames = this.frames;
    const path = this.path(file);
    let written = 0;
    this.forEachPage(file, (pgoff, pfn) => {
      if ((frames.clearFlags(pfn, PG_dirty) & PG_dirty) === 0 || path === undefined) return;
      const size = this.fileSize(file);
      const len = Math.min(PAGE_SIZE, size - pgoff * PAGE_SIZE);
      if (len <= 0) return;
      fs.writeSync(this.fd(file, path), frames.bytes, pfn * PAGE_SIZE, len, pgoff * PAGE_SIZE);
      written++;
    });
    return written;
  }

  private unlinkLocked(bk: number, victim: number): void {
    const ei = this.entries.i32;
    let prevAt = bk + 1;
    for (let e = this.buckets[bk + 1]!; e !== 0; e = ei[ENTRY.i32Base(e) + ENTRY.i32.next]!) {
      if (e === victim) {
        const next = ei[ENTRY.i32Base(e) + ENTRY.i32.next]!;
        if (prevAt === bk + 1) Atomics.store(this.buckets, prevAt, next);
        else ei[prevAt] = next;
        return;
      }
      prevAt = ENTRY.i32Base(e) + ENTRY.i32.next;
    }
  }

  /** Drops every cached page of the file (truncate_inode_pages), putting the cache's references. */
  truncate(file: number): number {
    const frames = this.frames;
    const ei = this.entries.i32;
    let dropped = 0;
    for (let bk = 0; bk < this.buckets.length; bk += 2) {
      if (this.buckets[bk + 1] === 0) continue;
      spinLock(this.buckets, bk);
      for (let e = this.buckets[bk + 1]!; e !== 0; ) {
        const next = ei[ENTRY.i32Base(e) + ENTRY.i32.next]!;
        if (ei[ENTRY.i32Base(e) + ENTRY.i32.file] === file) {
          const pfn = ei[ENTRY.i32Base(e) + ENTRY.i32.pfn]!;
          this.unlinkLocked(bk, e);
          this.entries.free(e);
          frames.putPage(pfn);
          dropped++;
        }
        e = next;
      }
      spinUnlock(this.buckets, bk);
    }
    return dropped;
  }

  private forEachPage(file: number, fn: (pgoff: number, pfn: number) => void): void {
    const ei = this.entries.i32;
    for (let bk = 0; bk < this.buckets.length; bk += 2) {
      if (this.buckets[bk + 1] === 0) continue;
      spinLock(this.buckets, bk);
      for (let e = this.buckets[bk + 1]!; e !== 0; e = ei[ENTRY.i32Base(e) + ENTRY.i32.next]!) {
        if (ei[ENTRY.i32Base(e) + ENTRY.i32.file] === file) fn(this.entries.f64[ENTRY.f64Base(e) + ENTRY.f64.pgoff]!, ei[ENTRY.i32Base(e) + ENTRY.i32.pfn]!);
      }
      spinUnlock(this.buckets, bk);
    }
  }

  /** Pages cached now. */
  cachedPages(): number {
    return this.entries.inUse();
  }

  statistics(): { hits: number; misses: number; reads: number; cached: number } {
    return {
      hits: Atomics.load(this.stats, STAT_HITS),
      misses: Atomics.load(this.stats, STAT_MISSES),
      reads: Atomics.load(this.stats, STAT_READS),
      cached: this.cachedPages(),
    };
  }
}

/** The bytes of a synthetic file: each 4-byte word holds (file, offset) mixed, zero past the end. */
export function fillSyntheticPage(dst: Uint8Array, file: number, pgoff: number, size: number): void {
  const words = new Int32Array(dst.buffer, dst.byteOffset, PAGE_SIZE / 4);
  const base = pgoff * PAGE_SIZE;
  for (let i = 0; i < PAGE_SIZE / 4; i++) words[i] = syntheticWord(file, base + 4 * i);
  const valid = size - base;
  if (valid < PAGE_SIZE) dst.fill(0, Math.max(0, valid));
}

export function syntheticWord(file: number, offset: number): number {
  return Math.imul(file + 1, 0x01000193) ^ Math.imul(offset | 0, 0x9e3779b1) ^ Math.floor(offset / 2 ** 32);
}
