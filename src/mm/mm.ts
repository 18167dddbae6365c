/**
 * The address space (struct mm_struct): VMAs in a maple tree, and the VMA operations every call is made of —
 * split, merge of a new range, modification of an existing range, unmap, anon_vma preparation — with the
 * rules of Linux 6.18's mm/vma.c. The calls themselves live in mmap.ts (mmap, munmap, brk), mprotect.ts,
 * mremap.ts and madvise.ts; the unmapped-area search in unmapped.ts.
 *
 * Tree keys are byte addresses: a VMA [vm_start, vm_end) is stored as the range [vm_start, vm_end - 1], as
 * the kernel stores it. Keys go up to 2^47 here, well inside the tree's 2^53, and bytes keep gap searches
 * (emptyAreaRev with a size in bytes) exact without conversions. Values are VMA record indices.
 *
 * Shared words (one SharedArrayBuffer): Int32 mmapLock (an rwsem word for sync/rwsem), mmLockSeq, mapCount,
 * then the per-mm words the design declares (DesignDefinition.mmWords; wordIndex() finds one); Float64 brk,
 * startBrk, startStack, mmapBase, taskSize. Only the writer (the holder of mmapLock for writing) changes the
 * mm's own words.
 *
 * The seam for the locking designs is MmHooks (design.ts): the mm calls vmaStartWrite(v) before it changes a VMA
 * that lockless readers may be looking at, and retireVma(v) once a VMA has left the tree (default: free at
 * once; designs free after a grace period, e.g. call_srcu). Nothing else of the designs lives here.
 */
import { sharedBuffer } from '../shm/buffers.js';
import type { MmHooks } from './design.js';
import { attachVmaIndex, createVmaIndex, type VmaIndex, type VmaIndexHandle, type VmaIndexKind } from './vma-index.js';
import { Arena, type ArenaHandle } from '../shm/arena.js';
import type { Rcu } from '../sync/rcu.js';
import { downgradeWrite, downRead, downReadTrylock, downWrite, rwsemHeldForWrite, rwsemIsWriteLocked, upRead, upWrite } from '../sync/rwsem.js';
import { hex } from '../util/hex.js';
import { LockAssertionError } from './lockdep.js';
import { readMapsVmas } from './proc-maps.js';
import { covered } from '../util/coverage.js';
import { IntList } from '../util/int-list.js';
import { MM_PATHS } from './paths.js';
import {
  VM_ACCESS_FLAGS, VM_GROWSDOWN, VM_IO, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE,
  VM_MAYWRITE, VM_PFNMAP, VM_READ, VM_SHARED, VM_SPECIAL, VM_WRITE, VM_EXEC, populateWrites,
} from './vm-flags.js';
import { existsSync } from 'node:fs';
import { PAGE_SIZE } from './frames.js';
import type { MmPages } from './memory.js';
import { TASK_SIZE } from './pagetable.js';
import { checkDesignWords, NAME_ANON, NAME_NONE, NAME_SPECIAL, VmaTable, type DesignWords } from './vma.js';
import { ENOMEM, PROT_EXEC, PROT_READ, PROT_WRITE } from './uapi.js';

/** x86-64 with 4-level page tables: TASK_SIZE = DEFAULT_MAP_WINDOW = 2^47 - PAGE_SIZE. */
export const TASK_SIZE_64 = TASK_SIZE;
/** stack_guard_gap: 256 pages. */
export const STACK_GUARD_GAP = 256 * PAGE_SIZE;
/** vm.mmap_min_addr default. */
export const MMAP_MIN_ADDR = 65536;
/** vm.max_map_count default (DEFAULT_MAX_MAP_COUNT). */
export const MAX_MAP_COUNT = 65530;

/** A design that changes nothing: VMAs are freed at once (an mm on its own, as in the mm's tests). */
export const defaultHooks: MmHooks = {
  vmaStartWrite() {},
  retireVma(mm, vma) { mm.vmaFree(vma); },
  vmaEndWriteAll() {},
};

/** What the mm knows of a file (struct file, since VMAs compare vm_file pointers, not inodes). */
export interface MmFile {
  path: string;
  dev: string;
  inode: number;
  /** FMODE_WRITE: opened for writing (MAP_SHARED + PROT_WRITE needs it). */
  writable: boolean;
  /** FMODE_READ. */
  readable: boolean;
  /** File size in bytes (faults beyond EOF raise SIGBUS); Infinity when unknown. */
  size: number;
  /** A shmem file behind a shared anonymous mapping (printed "/dev/zero (deleted)"). */
  shmem: boolean;
  /** With pages: a file with no disk behind it, whose page-cache misses sleep this long (µs). */
  latencyUs?: number;
}

export interface MmOptions {
  mmapBase: number;
  taskSize?: number;
  /** CONFIG_TRANSPARENT_HUGEPAGE: PMD-aligned search for anonymous mappings of a multiple of 2 MiB. */
  thp?: boolean;
  /** Files whose f_op->get_unmapped_area is thp_get_unmapped_area (ext4, xfs …). */
  fileThp?: boolean;
  /** Base of the bottom-up fallback search (mmap_legacy_base); default TASK_UNMAPPED_BASE. */
  legacyBase?: number;
  maxMapCount?: number;
  capacity?: number;
  hooks?: MmHooks;
  /** Poison freed VMA records (the arena's debug mode), so that a use after free shows. */
  debug?: boolean;
  /** Where the VMAs live: the maple tree (default) or the pre-6.1 rbtree. */
  index?: VmaIndexKind;
  /** The memory behind the address space: with it, the calls zap, change and move pages and populate. */
  pages?: MmPages;
  /** Attach to an mm made by another thread (what MmStruct.attach does): VMAs, tree and shared words. */
  attach?: MmHandle;
  /** The design's per-VMA words and their initial values (laid out after the mm's own; see vma.ts). */
  vmaWords?: DesignWords;
  /** The design's per-mm words and their initial values. */
  mmWords?: DesignWords;
  /** Which of vmaWords survive free and reuse: the VMA cache is SLAB_TYPESAFE_BY_RCU (DesignDefinition.typesafeByRcu). */
  typesafeByRcu?: readonly string[];
}

/** What a worker needs to find VMAs (post it in workerData). File and name tables stay with the writer. */
export interface MmHandle {
  readonly kind: 'mmsplit.mm';
  readonly shared: SharedArrayBuffer;
  readonly vmas: ArenaHandle;
  readonly tree: VmaIndexHandle;
  readonly vmaWords: DesignWords;
  readonly mmWords: DesignWords;
}

const I_MMAP_LOCK = 0;
const I_MM_LOCK_SEQ = 1;
const I_MAP_COUNT = 2;
const I_ANON_VMA_NEXT = 3; // anon_vma ids, handed out to faults on any thread
const I_WORDS = 4; // the design's words follow
const MM_WORDS = ['mmapLock', 'mmLockSeq', 'mapCount', 'anonVmaNext'];
const F_BRK = 0;
const F_START_BRK = 1;
const F_START_STACK = 2;
const F_MMAP_BASE = 3;
const F_TASK_SIZE = 4;
const F_WORDS = 5;

export class MmStruct {
  readonly vmas: VmaTable;
  readonly tree: VmaIndex;
  private readonly treeHandle: VmaIndexHandle;
  readonly shared: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly fwords: Float64Array;
  /** The design's per-mm words and their initial values. */
  readonly mmWords: DesignWords;
  hooks: MmHooks;
  readonly pages: MmPages | undefined;
  thp: boolean;
  fileThp: boolean;
  legacyBase: number;
  maxMapCount: number;
  /** Files by id (index 0 unused: no file). */
  readonly files: (MmFile | undefined)[] = [undefined];
  /** Names of special mappings and anon_vma_names by id. */
  readonly names: string[] = [''];
  /** unmapRange()'s VMAs on their way out (kept between calls: no allocation per munmap). */
  private readonly gone = new IntList();
  private shmemInode = 1000;

  constructor(opts: MmOptions) {
    const h = opts.attach;
    if (h !== undefined) {
      if (h?.kind !== 'mmsplit.mm') throw new Error('not an mm handle');
      this.vmas = new VmaTable(0, Arena.attach(h.vmas), false, h.vmaWords);
      this.tree = attachVmaIndex(h.tree);
      this.treeHandle = h.tree;
      this.shared = h.shared;
      this.mmWords = h.mmWords;
    } else {
      const capacity = opts.capacity ?? 1 << 16;
      this.vmas = new VmaTable(capacity, undefined, opts.debug ?? false, opts.vmaWords, opts.typesafeByRcu);
      this.mmWords = { ...opts.mmWords };
      checkDesignWords(this.mmWords, MM_WORDS, 'mm word');
      // A maple node holds up to 16 ranges (VMAs and gaps): capacity / 4 nodes is ample.
      const ix = createVmaIndex(opts.index ?? 'maple', Math.max(1024, opts.index === 'rbtree' ? capacity : capacity >> 2));
      this.tree = ix.index;
      this.treeHandle = ix.handle;
      this.shared = sharedBuffer(8 * F_WORDS + 4 * (I_WORDS + Object.keys(this.mmWords).length));
    }
    this.fwords = new Float64Array(this.shared, 0, F_WORDS);
    this.words = new Int32Array(this.shared, 8 * F_WORDS);
    if (h === undefined) Object.values(this.mmWords).forEach((init, k) => (this.words[I_WORDS + k] = init));
    this.hooks = opts.hooks ?? defaultHooks;
    this.pages = opts.pages;
    this.pages?.bind(this);
    this.thp = opts.thp ?? true;
    this.fileThp = opts.fileThp ?? false;
    this.maxMapCount = opts.maxMapCount ?? MAX_MAP_COUNT;
    if (h !== undefined) {
      this.legacyBase = opts.legacyBase ?? 0;
      return;
    }
    this.taskSize = opts.taskSize ?? TASK_SIZE_64;
    this.mmapBase = opts.mmapBase;
    // mmap_legacy_base without randomisation: TASK_UNMAPPED_BASE = PAGE_ALIGN(TASK_SIZE / 3).
    this.legacyBase = opts.legacyBase ?? Math.ceil(Math.floor(this.taskSize / 3) / PAGE_SIZE) * PAGE_SIZE;
  }

  /** What a worker passes to MmStruct.attach. */
  handle(): MmHandle {
    return { kind: 'mmsplit.mm', shared: this.shared, vmas: this.vmas.arena.handle(), tree: this.treeHandle, vmaWords: this.vmas.words, mmWords: this.mmWords };
  }

  /** A view of another thread's mm, for readers (page faults): lookups and VMA fields, no calls. */
  static attach(h: MmHandle): MmStruct {
    return new MmStruct({ mmapBase: 0, attach: h });
  }

  /**
   * From now on lockless readers may walk the tree (mt_set_in_rcu): the tree copies nodes on write and
   * frees them after a grace period of `rcu`; VMAs leave through retireVma, which a design frees late.
   */
  setInRcu(rcu: Rcu): void {
    this.tree.setInRcu(rcu);
  }

  /**
   * mmap_write_lock(): every call that changes the address space holds it (the sys* functions take it).
   * mm_lock_seq is a seqcount (Linux 6.14): odd exactly while the mmap_lock is held for write — what
   * mmap_lock_speculate_try_begin() looks at, and the value vma_start_write() stamps into a VMA's
   * vm_lock_seq. mmap_write_unlock() first makes it even again, which releases every VMA write-locked
   * meanwhile (vma_end_write_all; 6.4 bumped a plain counter at unlock, which is the same to a design that
   * only compares vm_lock_seq with it).
   */
  mmapWriteLock(): void {
    downWrite(this.words, I_MMAP_LOCK);
    Atomics.add(this.words, I_MM_LOCK_SEQ, 1); // mm_lock_seqcount_begin
  }
  /** mmap_read_lock(): what the baseline fault takes. */
  mmapReadLock(): void {
    downRead(this.words, I_MMAP_LOCK);
  }
  /** mmap_read_trylock(): the mmap_lock for read if no writer holds or waits for it, else false. */
  mmapReadTrylock(): boolean {
    return downReadTrylock(this.words, I_MMAP_LOCK);
  }
  mmapReadUnlock(): void {
    upRead(this.words, I_MMAP_LOCK);
  }
  mmapWriteUnlock(): void {
    this.hooks.vmaEndWriteAll(this);
    Atomics.add(this.words, I_MM_LOCK_SEQ, 1);
    upWrite(this.words, I_MMAP_LOCK);
  }
  /**
   * Releases the mmap_lock however this thread holds it — for write, or for read after a downgrade — for
   * a call that failed part-way and does not know how far it got (see src/util/unwind.ts).
   */
  mmapUnlock(): void {
    if (rwsemIsWriteLocked(this.words, I_MMAP_LOCK)) this.mmapWriteUnlock();
    else this.mmapReadUnlock();
  }
  /** mmap_write_downgrade(): the writer keeps the lock for read; VMAs it write-marked are released. */
  mmapWriteDowngrade(): void {
    this.hooks.vmaEndWriteAll(this);
    Atomics.add(this.words, I_MM_LOCK_SEQ, 1);
    downgradeWrite(this.words, I_MMAP_LOCK);
  }

  get mapCount(): number { return this.words[I_MAP_COUNT]!; }
  set mapCount(n: number) { Atomics.store(this.words, I_MAP_COUNT, n); }
  get mmapLockWord(): number { return I_MMAP_LOCK; }
  get mmLockSeqWord(): number { return I_MM_LOCK_SEQ; }
  /** The index in `words` of the design's per-mm word `name` (for Atomics and sync/). */
  wordIndex(name: string): number {
    const k = Object.keys(this.mmWords).indexOf(name);
    if (k < 0) throw new Error(`mm word '${name}' is not declared by the design (its mmWords: ${Object.keys(this.mmWords).join(', ') || 'none'})`);
    return I_WORDS + k;
  }
  /** mm_lock_seq: odd while the mmap_lock is held for write; bumped by mmap_write_lock() and by mmap_write_unlock(). */
  get mmLockSeq(): number { return Atomics.load(this.words, I_MM_LOCK_SEQ); }
  /**
   * mmap_lock_speculate_try_begin(): the mm_lock_seq a lockless reader may speculate on, or -1 while the
   * mmap_lock is write-locked (take the lock instead). An even count is never -1.
   */
  mmapLockSpeculateTryBegin(): number {
    const seq = Atomics.load(this.words, I_MM_LOCK_SEQ);
    return (seq & 1) !== 0 ? -1 : seq;
  }
  /** mmap_lock_speculate_retry(): true if a writer took the mmap_lock since `seq` — whatever was read may be stale. */
  mmapLockSpeculateRetry(seq: number): boolean {
    return Atomics.load(this.words, I_MM_LOCK_SEQ) !== seq;
  }
  get brk(): number { return this.fwords[F_BRK]!; }
  set brk(v: number) { this.fwords[F_BRK] = v; }
  get startBrk(): number { return this.fwords[F_START_BRK]!; }
  set startBrk(v: number) { this.fwords[F_START_BRK] = v; }
  get startStack(): number { return this.fwords[F_START_STACK]!; }
  set startStack(v: number) { this.fwords[F_START_STACK] = v; }
  get mmapBase(): number { return this.fwords[F_MMAP_BASE]!; }
  set mmapBase(v: number) { this.fwords[F_MMAP_BASE] = v; }
  get taskSize(): number { return this.fwords[F_TASK_SIZE]!; }
  set taskSize(v: number) { this.fwords[F_TASK_SIZE] = v; }

  /**
   * Registers a struct file; returns its id (what VMAs hold). With pages, the id is the page cache's, so
   * that a fault on any thread reaches the file's pages: a shmem file, the file on disk if it exists, else
   * a synthetic file of the given size whose misses sleep `latencyUs`.
   */
  addFile(f: MmFile): number {
    if (this.pages === undefined) {
      this.files.push(f);
      return this.files.length - 1;
    }
    const pc = this.pages.pagecache;
    const size = Number.isFinite(f.size) ? f.size : 2 ** 40;
    const id = f.shmem ? pc.shmemFile(size) : f.latencyUs === undefined && existsSync(f.path) ? pc.openFile(f.path) : pc.syntheticFile(size, f.latencyUs ?? 0);
    this.files[id] = f;
    return id;
  }
  /** shmem_zero_setup(): a new shmem file for a shared anonymous mapping, with its own inode. */
  newShmemFile(size: number): number {
    return this.addFile({ path: '/dev/zero (deleted)', dev: '00:01', inode: this.shmemInode++, writable: true, readable: true, size, shmem: true });
  }
  setShmemInodeBase(n: number): void { this.shmemInode = n; }
  addName(name: string): number {
    this.names.push(name);
    return this.names.length - 1;
  }
  newAnonVma(): number { return Atomics.add(this.words, I_ANON_VMA_NEXT, 1) + 1; }

  // ------------------------------------------------------------------------------------- lookups

  /** find_vma(): the first VMA ending above addr, or 0. */
  findVma(addr: number): number {
    return addr > Number.MAX_SAFE_INTEGER ? 0 : this.tree.findValue(addr);
  }
  /** vma_lookup(): the VMA containing addr, or 0. */
  vmaLookup(addr: number): number {
    return addr > Number.MAX_SAFE_INTEGER ? 0 : this.tree.load(addr);
  }
  /** find_vma_intersection(): the first VMA overlapping [start, end), or 0. */
  findVmaIntersection(start: number, end: number): number {
    if (end <= start) return 0;
    return this.tree.findValue(start, end - 1);
  }
  /** The last VMA starting below addr (find_vma_prev's prev when addr is not inside it), or 0. */
  vmaBefore(addr: number): number {
    return addr <= 0 ? 0 : this.tree.findRevValue(addr - 1);
  }
  /** The VMA that ends exactly at addr, or 0. */
  vmaEndingAt(addr: number): number {
    const v = this.vmaBefore(addr);
    return v !== 0 && this.vmas.end(v) === addr ? v : 0;
  }
  /** The VMA that starts exactly at addr, or 0. */
  vmaStartingAt(addr: number): number {
    const v = this.tree.findValue(addr);
    return v !== 0 && this.vmas.start(v) === addr ? v : 0;
  }
  /** vm_start_gap(): where a VMA's guard gap begins (VM_GROWSDOWN keeps stack_guard_gap free below it). */
  vmStartGap(v: number): number {
    const s = this.vmas.start(v);
    if (this.vmas.flags(v) & VM_GROWSDOWN) {
      const g = s - STACK_GUARD_GAP;
      return g > s || g < 0 ? 0 : g;
    }
    return s;
  }

  /** The VMAs in address order. */
  forEachVma(fn: (v: number) => void): void {
    this.tree.forEach((_f, _l, v) => fn(v));
  }

  // ------------------------------------------------------------------------------------- records

  vmaFree(v: number): void {
    this.vmas.arena.free(v);
  }

  /** Adds a new VMA to the tree (vma_link). */
  link(v: number): void {
    this.hooks.vmaMarkAttached?.(this, v);
    this.tree.storeRange(this.vmas.start(v), this.vmas.end(v) - 1, v);
    this.mapCount = this.mapCount + 1;
  }

  /**
   * vma_start_write(): the design's hook, before the VMA is changed in place, split, merged or detached; in
   * debug mode followed by what the kernel asserts (lockdep.ts). `caller` names the kernel function.
   */
  vmaStartWrite(v: number, caller: string): void {
    this.hooks.vmaStartWrite(this, v);
    if (this.vmas.arena.debug) this.assertVmaWriteLocked(v, `after vmaStartWrite(), in ${caller}`);
  }

  /** mmap_assert_write_locked() and vma_assert_write_locked() (debug mode). */
  private assertVmaWriteLocked(v: number, when: string): void {
    const range = `${hex(this.vmas.start(v))}-${hex(this.vmas.end(v))}`;
    if (!rwsemHeldForWrite(this.words, I_MMAP_LOCK)) throw new LockAssertionError(`mmap_assert_write_locked: VMA ${range} changed without the mmap_lock held for write (${when})`);
    const h = this.hooks;
    if (h.vmaIsWriteLocked !== undefined && !h.vmaIsWriteLocked(this, v)) {
      const name = (h as { name?: string }).name;
      throw new LockAssertionError(`vma_assert_write_locked: VMA ${range} is not write-locked ${when}: ${name ? `design '${name}': ` : ''}its vmaStartWrite() hook must lock it`);
    }
  }

  /** A VMA that has left the tree: mark it detached and hand it to the design. */
  retire(v: number): void {
    if (this.vmas.arena.debug) this.assertVmaWriteLocked(v, 'in vma_mark_detached');
    covered(MM_PATHS.retire);
    this.vmas.markDetached(v);
    this.mapCount = this.mapCount - 1;
    this.hooks.retireVma(this, v);
  }

  /** Changes a VMA's range and updates the tree (the parts it leaves are erased by the caller or overwritten). */
  setRange(v: number, start: number, end: number, pgoff: number): void {
    const os = this.vmas.start(v);
    const oe = this.vmas.end(v);
    this.vmaStartWrite(v, 'vma_expand/vma_shrink');
    this.vmas.setRange(v, start, end, pgoff);
    this.tree.storeRange(start, end - 1, v);
    if (os < start) this.tree.storeRange(os, Math.min(oe, start) - 1, 0);
    if (oe > end) this.tree.storeRange(Math.max(os, end), oe - 1, 0);
  }

  /**
   * __split_vma(): cut v at addr. With newBelow the new record takes [start, addr) and v keeps [addr, end);
   * otherwise the new record takes [addr, end). Returns the new record, or -ENOMEM. The map-count check is
   * the caller's (split_vma() checks it, the munmap gather does its own).
   */
  split(v: number, addr: number, newBelow: boolean): number {
    const t = this.vmas;
    const n = t.dup(v);
    if (n < 0) return -ENOMEM;
    const s = t.start(v);
    const e = t.end(v);
    const p = t.pgoff(v);
    const mid = p + (addr - s) / PAGE_SIZE;
    this.vmaStartWrite(v, '__split_vma');
    covered(newBelow ? MM_PATHS.splitBelow : MM_PATHS.splitAbove);
    if (newBelow) {
      t.setRange(n, s, addr, p);
      t.setRange(v, addr, e, mid);
    } else {
      t.setRange(n, addr, e, mid);
      t.setRange(v, s, addr, p);
    }
    this.hooks.vmaMarkAttached?.(this, n);
    this.tree.storeRange(t.start(n), t.end(n) - 1, n);
    this.mapCount = this.mapCount + 1;
    return n;
  }

  /** split_vma(): __split_vma behind the map-count limit. */
  splitChecked(v: number, addr: number, newBelow: boolean): number {
    if (this.mapCount >= this.maxMapCount) return -ENOMEM;
    return this.split(v, addr, newBelow);
  }

  // ------------------------------------------------------------------------------------- merging

  /** is_mergeable_vma() + is_mergeable_anon_vma(): flags (VM_SOFTDIRTY is not tracked), file, anon_vma. */
  private mergeable(v: number, flags: number, file: number, anon: number): boolean {
    const t = this.vmas;
    if (t.flags(v) !== flags || t.file(v) !== file) return false;
    if (t.nameKind(v) !== NAME_NONE) return false; // special mappings never merge; anon names must match (none here)
    const a = t.anon(v);
    return a === 0 || anon === 0 || a === anon;
  }

  /**
   * vma_merge_new_range(): tries to cover [start, end) (not in the tree) by growing prev (ending at start)
   * and/or next (starting at end). Returns the VMA now covering the range, or 0.
   */
  mergeNewRange(start: number, end: number, flags: number, file: number, anon: number, pgoff: number, prevHint = -1, nextHint = -1): number {
    if (flags & VM_SPECIAL) return 0;
    const t = this.vmas;
    const prev = prevHint >= 0 ? prevHint : this.vmaEndingAt(start);
    const next = nextHint >= 0 ? nextHint : this.vmaStartingAt(end);
    const pages = (end - start) / PAGE_SIZE;
    const left = prev !== 0 && t.end(prev) === start && this.mergeable(prev, flags, file, anon) && t.pgoff(prev) + t.pages(prev) === pgoff;
    let right = next !== 0 && t.start(next) === end && this.mergeable(next, flags, file, anon) && t.pgoff(next) === pgoff + pages;
    if (right && left) {
      const a = t.anon(prev), b = t.anon(next);
      right = a === 0 || b === 0 || a === b;
    }
    if (left && right) {
      const na = t.anon(prev) || t.anon(next) || anon;
      const ne = t.end(next);
      covered(MM_PATHS.mergeNewBoth);
      this.vmaStartWrite(next, 'vma_merge_new_range');
      this.setRange(prev, t.start(prev), ne, t.pgoff(prev));
      t.setAnon(prev, na);
      this.retire(next);
      return prev;
    }
    if (left) {
      covered(MM_PATHS.mergeNewPrev);
      this.setRange(prev, t.start(prev), end, t.pgoff(prev));
      if (t.anon(prev) === 0) t.setAnon(prev, anon);
      return prev;
    }
    if (right) {
      covered(MM_PATHS.mergeNewNext);
      this.setRange(next, start, t.end(next), pgoff);
      if (t.anon(next) === 0) t.setAnon(next, anon);
      return next;
    }
    return 0;
  }

  /**
   * vma_modify(): makes [start, end) of v (within it) a VMA of its own with `flags`, merging with prev/next
   * where vma_merge_existing_range() would, else splitting. Returns the VMA covering [start, end) (whose
   * flags the caller then sets), or -ENOMEM.
   */
  modify(v: number, start: number, end: number, flags: number): number {
    const t = this.vmas;
    const vs = t.start(v), ve = t.end(v);
    const leftSide = start === vs;
    const rightSide = end === ve;
    if (!(flags & VM_SPECIAL) && (leftSide || rightSide) && t.nameKind(v) === NAME_NONE) {
      const file = t.file(v), anon = t.anon(v);
      const pgoffAt = t.pgoff(v) + (start - vs) / PAGE_SIZE;
      const pages = (end - start) / PAGE_SIZE;
      const prev = leftSide ? this.vmaEndingAt(start) : 0;
      const next = rightSide ? this.vmaStartingAt(end) : 0;
      const left = prev !== 0 && this.mergeable(prev, flags, file, anon) && t.pgoff(prev) + t.pages(prev) === pgoffAt;
      let right = next !== 0 && this.mergeable(next, flags, file, anon) && t.pgoff(next) === pgoffAt + pages;
      if (left && right) {
        const a = t.anon(prev), b = t.anon(next);
        right = a === 0 || b === 0 || a === b;
      }
      if (left && right) {
        // prev swallows middle and next.
        covered(MM_PATHS.modifyMergeBoth);
        const na = t.anon(prev) || t.anon(next) || anon;
        this.vmaStartWrite(v, 'vma_modify');
        this.vmaStartWrite(next, 'vma_modify');
        this.setRange(prev, t.start(prev), t.end(next), t.pgoff(prev));
        t.setAnon(prev, na);
        this.retire(v);
        this.retire(next);
        return prev;
      }
      if (left) {
        covered(MM_PATHS.modifyMergePrev);
        const na = t.anon(prev) || anon;
        if (rightSide) {
          this.vmaStartWrite(v, 'vma_modify');
          this.setRange(prev, t.start(prev), end, t.pgoff(prev));
          this.retire(v);
        } else {
          // middle keeps its tail; prev's store then takes over the head in the tree.
          this.vmaStartWrite(v, 'vma_modify');
          t.setRange(v, end, ve, pgoffAt + pages);
          this.setRange(prev, t.start(prev), end, t.pgoff(prev));
        }
        t.setAnon(prev, na);
        return prev;
      }
      if (right) {
        covered(MM_PATHS.modifyMergeNext);
        const na = t.anon(next) || anon;
        if (leftSide) {
          this.vmaStartWrite(v, 'vma_modify');
          this.setRange(next, start, t.end(next), pgoffAt);
          this.retire(v);
        } else {
          this.vmaStartWrite(v, 'vma_modify');
          t.setRange(v, vs, start, t.pgoff(v));
          this.setRange(next, start, t.end(next), pgoffAt);
        }
        t.setAnon(next, na);
        return next;
      }
    }
    if (vs < start || ve > end) covered(MM_PATHS.modifySplit);
    if (vs < start) {
      const r = this.splitChecked(v, start, true);
      if (r < 0) return r;
    }
    if (ve > end) {
      const r = this.splitChecked(v, end, false);
      if (r < 0) return r;
    }
    return v;
  }

  /** Sets the flags of a VMA in place (vm_flags_reset, after vma_start_write). */
  setFlags(v: number, flags: number): void {
    this.vmaStartWrite(v, 'vm_flags_reset');
    this.vmas.setFlags(v, flags);
  }

  // ------------------------------------------------------------------------------------- unmapping

  /**
   * do_vmi_align_munmap() for a page-aligned [start, end): splits the VMAs at the ends, detaches those
   * inside, retires them, and zaps their pages and page tables. With `downgrade` (munmap, as the kernel's
   * `unlock`), once the VMAs have left the tree the mmap_lock is downgraded to read for the slow part —
   * zapping the pages and freeing the page tables — so faults elsewhere run meanwhile; returns 1 when it
   * did (the caller then holds the lock for read), else 0 or -ENOMEM (map-count limit on a split).
   */
  unmapRange(start: number, end: number, downgrade = false): number {
    const t = this.vmas;
    let v = this.findVmaIntersection(start, end);
    if (v === 0) return 0;
    if (start > t.start(v)) {
      if (end < t.end(v) && this.mapCount >= this.maxMapCount) return -ENOMEM;
      if (this.split(v, start, true) < 0) return -ENOMEM;
    }
    // Collect, splitting the last one at end.
    const gone = this.gone;
    gone.clear();
    while (v !== 0 && t.start(v) < end) {
      if (t.end(v) > end) {
        if (this.split(v, end, false) < 0) return -ENOMEM;
      }
      // vms_gather_munmap_vmas(): each VMA leaving is write-marked before it leaves the tree and its pages go.
      this.vmaStartWrite(v, 'vms_gather_munmap_vmas');
      gone.push(v);
      v = t.end(v) >= end ? 0 : this.tree.findValue(t.end(v));
    }
    this.tree.storeRange(start, end - 1, 0);
    if (downgrade) {
      covered(MM_PATHS.unmapDowngrade);
      // vms_complete_munmap_vmas(): the VMAs are retired while the lock is still held for write (the
      // designs' retire hooks expect it), their freeing waits for a grace period, and the pages go after
      // the downgrade; nothing can map the hole meanwhile, so the page-table bounds stay right.
      for (let i = 0; i < gone.length; i++) this.retire(gone.at(i));
      this.mmapWriteDowngrade();
      this.pages?.unmapRegion(start, end);
      return 1;
    }
    this.pages?.unmapRegion(start, end); // unmap_vmas + free_pgtables, freed after a grace period
    for (let i = 0; i < gone.length; i++) this.retire(gone.at(i));
    return 0;
  }

  // ------------------------------------------------------------------------------------- anon_vma

  /** anon_vma_compatible(a, b): a ends where b starts, and they differ only in access flags. */
  private anonCompatible(a: number, b: number): boolean {
    const t = this.vmas;
    return t.end(a) === t.start(b) && t.file(a) === t.file(b) &&
      ((t.flags(a) ^ t.flags(b)) & ~VM_ACCESS_FLAGS) === 0 && t.pgoff(b) === t.pgoff(a) + t.pages(a);
  }

  /** anon_vma_prepare(): what the first write fault (or a write populate) does; reuses a neighbour's. */
  anonVmaPrepare(v: number): void {
    const t = this.vmas;
    if (t.anon(v) !== 0) return;
    let a = 0;
    const next = this.vmaStartingAt(t.end(v));
    if (next !== 0 && this.anonCompatible(v, next)) a = t.anon(next);
    if (a === 0) {
      const prev = this.vmaEndingAt(t.start(v));
      if (prev !== 0 && this.anonCompatible(prev, v)) a = t.anon(prev);
    }
    // Faults on several threads may prepare the same VMA at once (the kernel serialises them with the
    // page_table_lock): the first to install an anon_vma wins, the others use it.
    t.setAnonIfNone(v, a !== 0 ? a : this.newAnonVma());
  }

  /**
   * Whether a fault on `v` gives it an anon_vma: a write fault on a private VMA (the page it copies or
   * allocates is anonymous), and — measured on Linux 6.18, where lock_vma_under_rcu() no longer turns away
   * anonymous VMAs without one — a read fault on a private anonymous VMA too: after one read of a
   * MAP_PRIVATE|MAP_ANONYMOUS page (or MAP_POPULATE, MADV_POPULATE_READ), a part of it made writable and
   * read-only again keeps VM_ACCOUNT and no longer merges with its neighbours (tools: the memtrace seed
   * 879680, and a three-call C program).
   */
  faultGivesAnonVma(v: number, write: boolean): boolean {
    const f = this.vmas.flags(v);
    if (f & VM_SHARED) return false;
    return write ? (f & VM_WRITE) !== 0 : this.vmas.file(v) === 0;
  }

  /**
   * What faulting [start, end) in does to VMAs (populate_vma_page_range for MAP_POPULATE): a write fault on
   * a private writable VMA gives it an anon_vma, and so does any fault on a private anonymous one
   * (faultGivesAnonVma); with pages the pages are faulted in. Errors are ignored, as __mm_populate does.
   */
  populate(start: number, end: number): void {
    const t = this.vmas;
    let v = this.findVma(start);
    while (v !== 0 && t.start(v) < end) {
      const f = t.flags(v);
      if (!(f & (VM_IO | VM_PFNMAP)) && (f & VM_ACCESS_FLAGS) && this.faultGivesAnonVma(v, populateWrites(f))) this.anonVmaPrepare(v);
      if (this.pages && !(f & (VM_IO | VM_PFNMAP)) && (f & VM_ACCESS_FLAGS)) {
        this.pages.populate(v, Math.max(start, t.start(v)), Math.min(end, t.end(v)), populateWrites(f));
      }
      const e = t.end(v);
      if (e >= end) break;
      v = this.findVma(e);
    }
  }

  // ------------------------------------------------------------------------------------- /proc/PID/maps

  /** The name show_map_vma() prints for v, and its dev and inode. */
  vmaName(v: number): string {
    const t = this.vmas;
    const f = t.file(v);
    if (f !== 0) return this.files[f]!.path;
    const k = t.nameKind(v);
    if (k === NAME_SPECIAL) return this.names[t.nameId(v)]!;
    const s = t.start(v), e = t.end(v);
    if (s < this.brk && e > this.startBrk) return '[heap]';
    if (s <= this.startStack && e >= this.startStack) return '[stack]';
    if (k === NAME_ANON) return `[anon:${this.names[t.nameId(v)]!}]`;
    return '';
  }

  /** One maps line (without the newline), as the kernel prints it. */
  mapsLine(v: number): string {
    const t = this.vmas;
    const fl = t.flags(v);
    const f = t.file(v);
    const file = f !== 0 ? this.files[f]! : undefined;
    const perms = (fl & VM_READ ? 'r' : '-') + (fl & VM_WRITE ? 'w' : '-') + (fl & VM_EXEC ? 'x' : '-') + (fl & VM_MAYSHARE ? 's' : 'p');
    const off = file ? t.pgoff(v) * PAGE_SIZE : 0;
    const header = `${hex8(t.start(v))}-${hex8(t.end(v))} ${perms} ${hex8(off)} ${file ? file.dev : '00:00'} ${file ? file.inode : 0} `;
    const name = this.vmaName(v);
    if (name === '') return header;
    const pad = header.length < 73 ? 73 - header.length : 1;
    return header + ' '.repeat(pad) + name;
  }

  /** /proc/PID/maps (without the gate VMA), read as the kernel reads it under this mm's design (readMapsVmas). */
  formatMaps(): string {
    let s = '';
    readMapsVmas(this, (_, line) => { s += line; });
    return s;
  }

  // ------------------------------------------------------------------------------------- invariants

  /**
   * Checks: the tree is valid and holds exactly the VMAs, sorted and disjoint, each with a sane range; the
   * map count matches; no two adjacent VMAs are left unmerged that would merge as a new range (the kernel
   * does leave some: VMAs that only differ in anon_vma, special ones, non-contiguous pgoff — those pass).
   * With `strictMerge` false the last check is skipped (BEFORE layouts and mprotect/madvise results may
   * legitimately hold such pairs: the kernel only merges at the edges of the range it changes).
   */
  validate(strictMerge = false): void {
    this.tree.validate();
    const t = this.vmas;
    let n = 0;
    let prevEnd = -1;
    let prev = 0;
    const bad = (msg: string): never => { throw new Error(`mm.validate: ${msg}`); };
    this.tree.forEach((first, last, v) => {
      n++;
      const s = t.start(v), e = t.end(v);
      if (first !== s || last !== e - 1) bad(`tree range [${hex8(first)}, ${hex8(last)}] != VMA ${hex8(s)}-${hex8(e)}`);
      if (s % PAGE_SIZE || e % PAGE_SIZE || e <= s) bad(`bad VMA range ${hex8(s)}-${hex8(e)}`);
      if (s < prevEnd) bad(`VMAs overlap at ${hex8(s)}`);
      if (!t.arena.isLive(v)) bad(`tree holds a freed VMA record ${v}`);
      if (strictMerge && prev !== 0 && prevEnd === s && t.nameKind(prev) === NAME_NONE && t.nameKind(v) === NAME_NONE &&
          t.flags(prev) === t.flags(v) && t.file(prev) === t.file(v) && !(t.flags(v) & VM_SPECIAL) &&
          t.pgoff(prev) + t.pages(prev) === t.pgoff(v) && (t.anon(prev) === 0 || t.anon(v) === 0 || t.anon(prev) === t.anon(v))) {
        bad(`mergeable neighbours left unmerged at ${hex8(s)}`);
      }
      prevEnd = e;
      prev = v;
    });
    if (n !== this.mapCount) bad(`map_count ${this.mapCount} but ${n} VMAs in the tree`);
  }
}

export function hex8(v: number): string {
  const s = v.toString(16);
  return s.length >= 8 ? s : '0'.repeat(8 - s.length) + s;
}

/** calc_vm_prot_bits(): PROT_READ/WRITE/EXEC → VM_READ/WRITE/EXEC (PROT_SEM has no VM bit on x86). */
export function calcVmProtBits(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

export const VM_MAY_ALL = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
