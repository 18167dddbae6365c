import type { Arena } from '../shm/arena.js';
import { covered } from '../util/coverage.js';
import { hex } from '../util/hex.js';
import { MM_PATHS } from './paths.js';
import { FrameTable, GFP_KERNEL, GFP_NOWAIT, PAGE_SIZE, PG_anon, PG_dirty, ZERO_PFN } from './frames.js';
import { PAGE_NOMEM, PAGE_WOULD_SLEEP, PageCache } from './pagecache.js';
import { _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_RW, mkPte, PageTables, ptePfn } from './pagetable.js';
import { VM_ACCESS_FLAGS, VM_EXEC, VM_SHARED, VM_WRITE } from './vm-flags.js';

/**
 * The fault core: what __handle_mm_fault() does once the VMA is found and pinned — whatever pinned it.
 * The locking designs differ only in how they find and pin the VMA and in what they re-check before a PTE
 * is installed; they all end up here, so every design faults pages in exactly the same way.
 */

/** fault flags (enum fault_flag). */
export const FAULT_FLAG_WRITE = 1 << 0;
export const FAULT_FLAG_INSTRUCTION = 1 << 8;
/** The fault holds its VMA's per-VMA lock, not the mmap_lock (what it may not do, it must give up: VM_FAULT_RETRY). */
export const FAULT_FLAG_VMA_LOCK = 1 << 12;

/** vm_fault_t bits (0 is a handled fault). */
export const VM_FAULT_OOM = 0x1;
export const VM_FAULT_SIGBUS = 0x2;
export const VM_FAULT_MAJOR = 0x4; // the fault waited for I/O
export const VM_FAULT_SIGSEGV = 0x40;
export const VM_FAULT_RETRY = 0x400; // the fault could not finish in this context: retry in one that may sleep
export const VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV;

/**
 * The fields of a VMA that the fault uses, copied out of the VMA record by the design (one object per
 * thread, reused: no allocation per fault). `vma` is the record, for the design's own checks.
 */
export class FaultVma {
  vma = 0;
  start = 0;
  end = 0;
  pgoff = 0;
  flags = 0;
  file = 0;
  anonVma = 0;
  /** The VMA's seqcount when the fields were copied (designs that validate with it). */
  seq = 0;
  /**
   * Debug mode (the checker, the tests): the VMA arena whose record was copied, and the record's
   * allocation generation then; the fault core checks, where the PTE goes in, that the fault is still
   * working on that allocation — that no design let the VMA be freed (and maybe reused) under a fault that
   * holds it, as KASAN reports a read of freed memory. Null outside debug mode.
   */
  arena: Arena | null = null;
  gen = 0;
  /** Debug mode: the generation of the page-table page the fault is filling. */
  tableGen = 0;
}

/** A fault used a VMA or a page table after it was freed: what KASAN would report as a use after free. */
export class FaultUseAfterFreeError extends Error {
  override readonly name = 'UseAfterFreeError';
}

/**
 * handle_mm_fault() was handed a VMA that does not cover the address. The kernel's fault core trusts its
 * caller here (lock_vma_under_rcu and the mmap_lock path check the range; a VMA reused under
 * SLAB_TYPESAFE_BY_RCU may cover another one now): it would map a page outside the VMA. Ours says so.
 */
export class FaultOutsideVmaError extends Error {
  override readonly name = 'FaultOutsideVmaError';
}

/**
 * Debug mode, under the PTE lock, before the design's revalidate() reads the VMA: the VMA record is still
 * the allocation the fault copied, and the page table is allocated (and, for a fault that holds a lock
 * keeping tables, still the one it walked; a speculative fault's table may have been freed and replaced by
 * another for the same range, which its second walk accepts).
 */
function assertNotFreed(ctx: FaultContext, v: FaultVma, slot: number): void {
  const a = v.arena;
  if (a === null) return;
  const g = a.peekGeneration(v.vma);
  if (g !== v.gen) {
    // Reuse means different things in the two kinds of cache: in a SLAB_TYPESAFE_BY_RCU one the record is
    // still a VMA, maybe another one, and the reader was meant to pin it and recheck it; in a plain one
    // the memory was handed back and the fault read whatever lies there now.
    const how =
      (g & 1) === 0 ? 'freed'
      : a.typesafeWords !== undefined ? 'freed and reused as another VMA (a SLAB_TYPESAFE_BY_RCU cache: legal, but the fault must pin the VMA and recheck that it still covers the address before it trusts what it read)'
      : 'freed and reused (a cache that is not type-safe: the fault read freed memory)';
    throw new FaultUseAfterFreeError(
      `fault at ${hex(v.start)}…: VMA record ${v.vma} was ${how} while the fault still used it (generation ${v.gen} → ${g}): ` +
        'whatever keeps a VMA alive under a fault (a lock, a reference, an RCU or SRCU read section until the free) did not',
    );
  }
  const pt = ctx.pt;
  if (!pt.arena.debug) return;
  const tg = pt.arena.peekGeneration(pt.tableOf(slot));
  if ((tg & 1) === 0 || (!ctx.speculative && tg !== v.tableGen)) {
    throw new FaultUseAfterFreeError(`fault at ${hex(v.start)}…: the page table it fills was freed (generation ${v.tableGen} → ${tg}) while the fault held it`);
  }
}

/** What the fault needs from the mm beyond the VMA: the memory it fills and the design's checks. */
export interface FaultContext {
  readonly frames: FrameTable;
  readonly pt: PageTables;
  readonly pagecache: PageCache;
  /**
   * The fault runs without the mmap_lock or a VMA lock that keeps its page tables alive: once it may have
   * slept (or reported a quiescent state) the table it walked may be gone, so before it takes a PTE lock it
   * walks again and gives up if the walk no longer ends at the same slot ("the PMD is still the one it
   * walked").
   */
  readonly speculative: boolean;
  /**
   * Called with the PTE lock held, just before a PTE is installed or changed: is everything the fault
   * relied on still true? Designs that found the VMA without the mmap_lock re-check it here (the thread's
   * "validating everything on the second page-table walk"); the others return true.
   */
  revalidate(v: FaultVma, slot: number): boolean;
  /**
   * vmf_anon_prepare(): the VMA gets its anon_vma before its first anonymous page. Returns 0, or
   * VM_FAULT_RETRY where the fault's context cannot do it (FAULT_FLAG_VMA_LOCK without the mmap_lock).
   */
  anonVmaPrepare(v: FaultVma, flags: number): number;
  /**
   * assert_fault_locked() (lockdep.ts), for faults that are not speculative: in debug mode, throws unless
   * the mmap_lock or the VMA's own lock is held. A no-op otherwise.
   */
  assertFaultLocked(v: FaultVma): void;
}

/** The architecture's access_error(): may this access happen in this VMA at all? */
export function accessError(v: FaultVma, flags: number): boolean {
  if (flags & FAULT_FLAG_WRITE) return (v.flags & VM_WRITE) === 0;
  if (flags & FAULT_FLAG_INSTRUCTION) return (v.flags & VM_EXEC) === 0;
  return (v.flags & VM_ACCESS_FLAGS) === 0;
}

/**
 * handle_mm_fault() after the VMA is pinned: fills or upgrades the PTE of `addr`. With `mayNotSleep`
 * (a fault under rcu_read_lock), nothing here sleeps: allocations are GFP_NOWAIT and a page-cache miss
 * returns VM_FAULT_RETRY instead of reading. Returns 0 or VM_FAULT_* bits.
 */
export function handleMmFault(ctx: FaultContext, v: FaultVma, addr: number, flags: number, mayNotSleep: boolean): number {
  if (!ctx.speculative) ctx.assertFaultLocked(v);
  if (addr < v.start || addr >= v.end) {
    throw new FaultOutsideVmaError(`handle_mm_fault: ${addr.toString(16)} is outside the VMA it was given, ${v.start.toString(16)}-${v.end.toString(16)}: the design's lookup must check the range`);
  }
  if (accessError(v, flags)) {
    covered(MM_PATHS.accessError);
    return VM_FAULT_SIGSEGV;
  }
  addr -= addr % PAGE_SIZE;
  // A speculative fault never allocates page tables (as in the SPF patches): its VMA may already be gone,
  // and tables it added after munmap's free_pgtables() would stay behind outside every VMA.
  const slot = ctx.speculative ? ctx.pt.pteSlot(addr) : ctx.pt.pteAlloc(addr, mayNotSleep ? GFP_NOWAIT : GFP_KERNEL);
  if (slot < 0) return ctx.speculative || mayNotSleep ? VM_FAULT_RETRY : VM_FAULT_OOM;
  if (v.arena !== null) v.tableGen = ctx.pt.arena.peekGeneration(ctx.pt.tableOf(slot));
  const pte = Atomics.load(ctx.pt.i32, slot);
  if ((pte & _PAGE_PROTNONE) !== 0) {
    // Mapped but PROT_NONE, and the VMA now allows the access: a racing mprotect made it accessible
    // again between our PTE read and its own update; make it present (as do_numa_page does).
    covered(MM_PATHS.protnone);
    return upgradeProtnone(ctx, v, addr, slot, pte);
  }
  if ((pte & _PAGE_PRESENT) === 0) {
    return v.file === 0 ? doAnonymousPage(ctx, v, addr, slot, flags, mayNotSleep) : doFault(ctx, v, addr, slot, flags, mayNotSleep);
  }
  if ((flags & FAULT_FLAG_WRITE) !== 0 && (pte & _PAGE_RW) === 0) return doWpPage(ctx, v, addr, slot, pte, flags, mayNotSleep);
  // Present and strong enough: another thread handled it first (a spurious fault). Mark it young — only if
  // it is still the PTE we read (the kernel does this under the PTE lock, after pte_same): a zap may have
  // cleared it meanwhile, and a bit set on an empty PTE would leave a non-present entry every later fault
  // trips over.
  covered(MM_PATHS.spurious);
  if ((pte & _PAGE_ACCESSED) === 0) Atomics.compareExchange(ctx.pt.i32, slot, pte, pte | _PAGE_ACCESSED);
  return 0;
}

/**
 * Installs `newPte` if the slot still holds `expected` and the design agrees. If not, drops the reference
 * on `pfn` the new PTE would have held, and ends the fault: retry if the design's check failed, done if
 * another thread simply got there first.
 */
function setPteIfSame(ctx: FaultContext, v: FaultVma, addr: number, slot: number, expected: number, newPte: number, pfn: number): number {
  if (ctx.speculative && ctx.pt.pteSlot(addr) !== slot) {
    covered(MM_PATHS.secondWalk);
    ctx.frames.putPage(pfn);
    return VM_FAULT_RETRY;
  }
  ctx.pt.ptLock(slot);
  assertNotFreed(ctx, v, slot);
  const same = Atomics.load(ctx.pt.i32, slot) === expected;
  const valid = ctx.revalidate(v, slot);
  ctx.pt.assertPtlHeld(slot, 'after the design\'s revalidate()');
  if (same && valid) Atomics.store(ctx.pt.i32, slot, newPte);
  ctx.pt.ptUnlock(slot);
  if (same && valid) return INSTALLED;
  covered(valid ? MM_PATHS.raceLost : MM_PATHS.revalidateFailed);
  ctx.frames.putPage(pfn);
  return valid ? 0 : VM_FAULT_RETRY;
}

/** setPteIfSame()'s "our PTE went in" (callers report 0). */
const INSTALLED = -1;

function done(r: number): number {
  return r === INSTALLED ? 0 : r;
}

function protBits(write: boolean): number {
  return (write ? _PAGE_RW | _PAGE_DIRTY : 0) | _PAGE_ACCESSED;
}

/** do_anonymous_page(): a read maps the shared zero page; a write gets a fresh zeroed page. */
function doAnonymousPage(ctx: FaultContext, v: FaultVma, addr: number, slot: number, flags: number, mayNotSleep: boolean): number {
  if ((flags & FAULT_FLAG_WRITE) === 0) {
    covered(MM_PATHS.anonZeroPage);
    return done(setPteIfSame(ctx, v, addr, slot, 0, mkPte(ZERO_PFN, _PAGE_ACCESSED), ZERO_PFN));
  }
  covered(MM_PATHS.anonNewPage);
  const prepared = ctx.anonVmaPrepare(v, flags);
  if (prepared !== 0) return prepared;
  const pfn = ctx.frames.allocZeroed(mayNotSleep ? GFP_NOWAIT : GFP_KERNEL, PG_anon);
  if (pfn < 0) return mayNotSleep ? VM_FAULT_RETRY : VM_FAULT_OOM;
  return done(setPteIfSame(ctx, v, addr, slot, 0, mkPte(pfn, protBits(true)), pfn));
}

/** do_fault(): a file page — read, copied on write (private) or shared and dirtied. */
function doFault(ctx: FaultContext, v: FaultVma, addr: number, slot: number, flags: number, mayNotSleep: boolean): number {
  const pgoff = v.pgoff + (addr - v.start) / PAGE_SIZE;
  if (pgoff >= Math.ceil(ctx.pagecache.fileSize(v.file) / PAGE_SIZE)) {
    covered(MM_PATHS.beyondEof);
    return VM_FAULT_SIGBUS;
  }
  const page = ctx.pagecache.findPage(v.file, pgoff, mayNotSleep);
  if (page === PAGE_WOULD_SLEEP) {
    covered(MM_PATHS.wouldSleep);
    return VM_FAULT_RETRY;
  }
  if (page === PAGE_NOMEM) return mayNotSleep ? VM_FAULT_RETRY : VM_FAULT_OOM;
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  if (write && (v.flags & VM_SHARED) === 0) {
    // do_cow_fault(): the private copy; the page cache (and the file) never see the write.
    covered(MM_PATHS.cowFault);
    const prepared = ctx.anonVmaPrepare(v, flags);
    if (prepared !== 0) {
      ctx.frames.putPage(page);
      return prepared;
    }
    const copy = ctx.frames.alloc(mayNotSleep ? GFP_NOWAIT : GFP_KERNEL, PG_anon);
    if (copy < 0) {
      ctx.frames.putPage(page);
      return mayNotSleep ? VM_FAULT_RETRY : VM_FAULT_OOM;
    }
    ctx.frames.copyPage(copy, page);
    ctx.frames.putPage(page);
    return done(setPteIfSame(ctx, v, addr, slot, 0, mkPte(copy, protBits(true)), copy));
  }
  // do_read_fault() maps it read-only (a later write takes the wp path); do_shared_fault() maps it
  // writable and dirty. The page-cache reference findPage() took now belongs to the PTE.
  if (write) ctx.frames.setFlags(page, PG_dirty);
  covered(write ? MM_PATHS.sharedFault : MM_PATHS.readFault);
  return done(setPteIfSame(ctx, v, addr, slot, 0, mkPte(page, protBits(write)), page));
}

/** do_wp_page(): a write to a present read-only PTE. */
function doWpPage(ctx: FaultContext, v: FaultVma, addr: number, slot: number, pte: number, flags: number, mayNotSleep: boolean): number {
  const pfn = ptePfn(pte);
  const frames = ctx.frames;
  if ((v.flags & VM_SHARED) !== 0) {
    // wp_page_shared(): the page stays the page cache's; it is now dirty and writable.
    covered(MM_PATHS.wpShared);
    frames.setFlags(pfn, PG_dirty);
    return upgradePte(ctx, v, addr, slot, pte);
  }
  // wp_page_reuse(): an anonymous page only we map can simply be made writable.
  if (pfn !== ZERO_PFN && (frames.flags(pfn) & PG_anon) !== 0 && frames.refcount(pfn) === 1) {
    covered(MM_PATHS.wpReuse);
    return upgradePte(ctx, v, addr, slot, pte);
  }
  covered(MM_PATHS.wpCopy);
  // wp_page_copy(): copy the zero page, a page-cache page, or a page someone else still maps. The old
  // page is pinned while it is copied (get_page), in case a racing zap drops the PTE's reference.
  const prepared = ctx.anonVmaPrepare(v, flags);
  if (prepared !== 0) return prepared;
  if (pfn !== ZERO_PFN && !frames.tryGetPage(pfn)) return 0; // already unmapped and freed: look again
  const gfp = mayNotSleep ? GFP_NOWAIT : GFP_KERNEL;
  const copy = pfn === ZERO_PFN ? frames.allocZeroed(gfp, PG_anon) : frames.alloc(gfp, PG_anon);
  if (copy >= 0 && pfn !== ZERO_PFN) frames.copyPage(copy, pfn);
  frames.putPage(pfn);
  if (copy < 0) return mayNotSleep ? VM_FAULT_RETRY : VM_FAULT_OOM;
  const r = setPteIfSame(ctx, v, addr, slot, pte, mkPte(copy, protBits(true)), copy);
  // The PTE's reference on the old page goes: it is the zero page, a page-cache page (the cache keeps
  // its own reference) or an anonymous page someone else still holds, so this never frees it under a
  // reader; frees of unmapped pages wait for a grace period (see tlb.ts).
  if (r === INSTALLED) frames.putPage(pfn);
  return done(r);
}

function upgradePte(ctx: FaultContext, v: FaultVma, addr: number, slot: number, pte: number): number {
  return changePteIfSame(ctx, v, addr, slot, pte, pte | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED);
}

function upgradeProtnone(ctx: FaultContext, v: FaultVma, addr: number, slot: number, pte: number): number {
  return changePteIfSame(ctx, v, addr, slot, pte, (pte & ~(_PAGE_PROTNONE | _PAGE_RW)) | _PAGE_PRESENT | _PAGE_ACCESSED);
}

/** Changes a PTE in place (same page) if it is unchanged and the design agrees. */
function changePteIfSame(ctx: FaultContext, v: FaultVma, addr: number, slot: number, pte: number, next: number): number {
  if (ctx.speculative && ctx.pt.pteSlot(addr) !== slot) return VM_FAULT_RETRY;
  ctx.pt.ptLock(slot);
  assertNotFreed(ctx, v, slot);
  const same = Atomics.load(ctx.pt.i32, slot) === pte;
  const valid = ctx.revalidate(v, slot);
  ctx.pt.assertPtlHeld(slot, 'after the design\'s revalidate()');
  if (same && valid) Atomics.store(ctx.pt.i32, slot, next);
  ctx.pt.ptUnlock(slot);
  return valid ? 0 : VM_FAULT_RETRY;
}
