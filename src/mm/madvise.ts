/**
 * madvise (mm/madvise.c, Linux 6.18; DONTNEED and FREE under a per-VMA lock as of 6.17 where the design has one). Advice that changes vm_flags (NORMAL, RANDOM, SEQUENTIAL, DONTFORK,
 * DOFORK, DONTDUMP, DODUMP, WIPEONFORK, KEEPONFORK, HUGEPAGE, NOHUGEPAGE) splits and merges VMAs like
 * mprotect; DONTNEED, FREE and REMOVE only check the VMA (their page work is a later issue's); WILLNEED, COLD and
 * PAGEOUT change nothing visible. Holes are skipped and reported as -ENOMEM at the end; the first VMA that
 * refuses the advice stops the walk. POPULATE_READ/WRITE fault pages in VMA by VMA (a write fault gives
 * a private VMA its anon_vma) and stop with -ENOMEM at a hole, -EINVAL at a VMA without the access, and
 * -EFAULT at a page beyond the end of the file.
 */
import { VM_FAULT_OOM, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV } from './fault.js';
import type { MmStruct } from './mm.js';
import {
  VM_DONTCOPY, VM_DONTDUMP, VM_HUGEPAGE, VM_IO, VM_LOCKED, VM_MAYWRITE, VM_NOHUGEPAGE, VM_PFNMAP, VM_RAND_READ, VM_READ,
  VM_SEQ_READ, VM_SHARED, VM_SPECIAL, VM_WIPEONFORK, VM_WRITE,
} from './vm-flags.js';
import { PAGE_SIZE } from './frames.js';
import { unwinding } from '../util/unwind.js';
import {
  EACCES, EFAULT, EINVAL, ENOMEM, MADV_COLD, MADV_COLLAPSE, MADV_DODUMP, MADV_DOFORK, MADV_DONTDUMP, MADV_DONTFORK,
  MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE, MADV_GUARD_INSTALL, MADV_GUARD_REMOVE, MADV_HUGEPAGE, MADV_HWPOISON,
  MADV_KEEPONFORK, MADV_MERGEABLE, MADV_NOHUGEPAGE, MADV_NORMAL, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
  MADV_RANDOM, MADV_REMOVE, MADV_SEQUENTIAL, MADV_SOFT_OFFLINE, MADV_UNMERGEABLE, MADV_WILLNEED, MADV_WIPEONFORK,
} from './uapi.js';

/** madvise_behavior_valid() on an x86-64 kernel with THP, KSM and memory-failure handling. */
function behaviorValid(b: number): boolean {
  return (b >= MADV_NORMAL && b <= MADV_DONTNEED) || (b >= MADV_FREE && b <= MADV_COLLAPSE) ||
    b === MADV_HWPOISON || b === MADV_SOFT_OFFLINE || b === MADV_GUARD_INSTALL || b === MADV_GUARD_REMOVE;
}

/**
 * madvise_need_mmap_write(): the behaviours that change no VMA run under the mmap_lock taken for read, so
 * MADV_DONTNEED zaps pages while faults go on (the PTE lock orders them), as in the kernel.
 */
function needMmapWrite(b: number): boolean {
  switch (b) {
    case MADV_REMOVE: case MADV_WILLNEED: case MADV_DONTNEED: case MADV_DONTNEED_LOCKED: case MADV_COLD:
    case MADV_PAGEOUT: case MADV_FREE: case MADV_POPULATE_READ: case MADV_POPULATE_WRITE: case MADV_COLLAPSE:
    case MADV_GUARD_INSTALL: case MADV_GUARD_REMOVE:
      return false;
    default:
      return true;
  }
}

export function sysMadvise(mm: MmStruct, start: number, lenIn: number, behavior: number): number {
  if (!behaviorValid(behavior)) return -EINVAL;
  if (start % PAGE_SIZE) return -EINVAL;
  const len = Math.ceil(lenIn / PAGE_SIZE) * PAGE_SIZE;
  if (lenIn && len >= 2 ** 64) return -EINVAL;
  const end = start + len;
  if (end >= 2 ** 64) return -EINVAL;
  if (end === start) return 0;
  if (vmaReadLockable(behavior)) {
    const r = madviseUnderVmaLock(mm, start, end, behavior);
    if (r !== undefined) return r;
  }
  const write = needMmapWrite(behavior);
  if (write) mm.mmapWriteLock();
  else mm.mmapReadLock();
  let r: number;
  try {
    r = behavior === MADV_POPULATE_READ || behavior === MADV_POPULATE_WRITE
      ? madvisePopulate(mm, start, end, behavior === MADV_POPULATE_WRITE)
      : madviseWalkVmas(mm, start, end, behavior);
  } catch (e) {
    throw unwinding(e, () => mm.mmapUnlock());
  }
  if (write) mm.mmapWriteUnlock();
  else mm.mmapReadUnlock();
  return r;
}

/** get_lock_mode() → MADVISE_VMA_READ_LOCK (6.17): the advice that only zaps pages of one VMA. */
function vmaReadLockable(b: number): boolean {
  return b === MADV_DONTNEED || b === MADV_DONTNEED_LOCKED || b === MADV_FREE;
}

/**
 * try_vma_read_lock() (6.17, Barry Song): where the design has per-VMA locks and [start, end) lies inside
 * one VMA, the advice runs under that VMA's read lock — no mmap_lock, so it neither waits for nor holds up
 * mmap and munmap elsewhere. Undefined when it cannot (no such design, no VMA that could be read-locked at
 * start, or the range goes past it): then the mmap_lock is taken for read, as before.
 */
function madviseUnderVmaLock(mm: MmStruct, start: number, end: number, behavior: number): number | undefined {
  const h = mm.hooks;
  if (h.tryVmaReadLock === undefined || h.vmaReadUnlock === undefined) return undefined;
  const vma = h.tryVmaReadLock(start);
  if (vma === 0) return undefined;
  if (end > mm.vmas.end(vma)) {
    h.vmaReadUnlock(vma);
    return undefined;
  }
  let r: number;
  try {
    r = madviseVmaBehavior(mm, vma, start, end, behavior);
  } catch (e) {
    throw unwinding(e, () => h.vmaReadUnlock!(vma));
  }
  h.vmaReadUnlock(vma);
  return r < 0 ? r : 0;
}

function madviseWalkVmas(mm: MmStruct, start: number, end: number, behavior: number): number {
  const t = mm.vmas;
  let unmappedError = 0;
  let vma = mm.findVma(start);
  for (;;) {
    if (vma === 0) return -ENOMEM;
    if (start < t.start(vma)) {
      unmappedError = -ENOMEM;
      start = t.start(vma);
      if (start >= end) break;
    }
    const tmp = Math.min(t.end(vma), end);
    const r = madviseVmaBehavior(mm, vma, start, tmp, behavior);
    if (r < 0) return r;
    start = tmp;
    if (r > 0 && start < t.end(r)) start = t.end(r);
    if (start >= end) break;
    vma = mm.findVma(start);
  }
  return unmappedError;
}

/** madvise_vma_behavior(): the VMA now covering [start, end) (> 0), 0 when nothing changed, or -errno. */
function madviseVmaBehavior(mm: MmStruct, vma: number, start: number, end: number, behavior: number): number {
  const t = mm.vmas;
  const old = t.flags(vma);
  let nf = old;
  switch (behavior) {
    case MADV_DONTNEED:
    case MADV_FREE:
    case MADV_DONTNEED_LOCKED: {
      const forbidden = VM_PFNMAP | (behavior === MADV_DONTNEED_LOCKED ? 0 : VM_LOCKED);
      if (old & forbidden) return -EINVAL;
      if (behavior === MADV_FREE && t.file(vma) !== 0) return -EINVAL; // MADV_FREE: anonymous VMAs only
      // MADV_FREE may free the pages whenever it likes; freeing them now, as DONTNEED does, is one choice.
      mm.pages?.zapRange(start, end);
      return 0;
    }
    case MADV_WILLNEED:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_COLLAPSE:
    case MADV_GUARD_INSTALL:
    case MADV_GUARD_REMOVE:
    case MADV_HWPOISON:
    case MADV_SOFT_OFFLINE:
      return 0;
    case MADV_REMOVE:
      // Punches a hole in the file behind a shared writable mapping.
      if (old & VM_LOCKED) return -EINVAL;
      if (t.file(vma) === 0) return -EINVAL;
      if ((old & (VM_SHARED | VM_MAYWRITE)) !== (VM_SHARED | VM_MAYWRITE)) return -EACCES;
      return 0;
    case MADV_NORMAL: nf = old & ~VM_RAND_READ & ~VM_SEQ_READ; break;
    case MADV_SEQUENTIAL: nf = (old & ~VM_RAND_READ) | VM_SEQ_READ; break;
    case MADV_RANDOM: nf = (old & ~VM_SEQ_READ) | VM_RAND_READ; break;
    case MADV_DONTFORK: nf = old | VM_DONTCOPY; break;
    case MADV_DOFORK:
      if (old & VM_IO) return -EINVAL;
      nf = old & ~VM_DONTCOPY;
      break;
    case MADV_DONTDUMP: nf = old | VM_DONTDUMP; break;
    case MADV_DODUMP:
      if (old & VM_SPECIAL) return -EINVAL;
      nf = old & ~VM_DONTDUMP;
      break;
    case MADV_WIPEONFORK:
      if (t.file(vma) !== 0 || (old & VM_SHARED)) return -EINVAL;
      nf = old | VM_WIPEONFORK;
      break;
    case MADV_KEEPONFORK: nf = old & ~VM_WIPEONFORK; break;
    case MADV_HUGEPAGE: nf = (old & ~VM_NOHUGEPAGE) | VM_HUGEPAGE; break;
    case MADV_NOHUGEPAGE: nf = (old & ~VM_HUGEPAGE) | VM_NOHUGEPAGE; break;
    default: return -EINVAL;
  }
  // madvise_update_vma()
  if (nf === old) return vma;
  const v = mm.modify(vma, start, end, nf);
  if (v < 0) return v;
  mm.setFlags(v, nf);
  return v;
}

/** madvise_populate(): fault [start, end) in, VMA by VMA. */
function madvisePopulate(mm: MmStruct, start: number, end: number, write: boolean): number {
  const t = mm.vmas;
  while (start < end) {
    const v = mm.vmaLookup(start);
    if (v === 0) return -ENOMEM;
    const f = t.flags(v);
    if (f & (VM_IO | VM_PFNMAP)) return -EINVAL;
    if (write ? !(f & VM_WRITE) : !(f & VM_READ)) return -EINVAL;
    const tmp = Math.min(t.end(v), end);
    // A write fault on a private mapping prepares its anon_vma first (do_anonymous_page / do_cow_fault),
    // and so does a read fault on a private anonymous one (MmStruct.faultGivesAnonVma).
    if (mm.faultGivesAnonVma(v, write)) mm.anonVmaPrepare(v);
    const file = t.file(v);
    if (file !== 0) {
      const size = mm.files[file]!.size;
      const firstOff = (t.pgoff(v) + (start - t.start(v)) / PAGE_SIZE) * PAGE_SIZE;
      const lastOff = firstOff + (tmp - start) - PAGE_SIZE;
      if (lastOff >= Math.ceil(size / PAGE_SIZE) * PAGE_SIZE) return -EFAULT; // SIGBUS beyond EOF
    }
    if (mm.pages) {
      const r = mm.pages.populate(v, start, tmp, write);
      if (r & VM_FAULT_OOM) return -ENOMEM;
      if (r & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)) return -EFAULT;
    }
    start = tmp;
  }
  return 0;
}
