/**
 * mmap, munmap and brk (mm/mmap.c, mm/vma.c __mmap_region, Linux 6.18): argument checks in the kernel's
 * order, so that the same error wins; VM_ACCOUNT for private writable mappings without MAP_NORESERVE; the
 * merge with the neighbours before a new VMA is made; MAP_POPULATE's effect on VMAs (an anon_vma for
 * private writable ones). Every function returns the result or -errno.
 */
import { calcVmProtBits, MMAP_MIN_ADDR, STACK_GUARD_GAP, VM_MAY_ALL, type MmStruct } from './mm.js';
import { getUnmappedArea } from './unmapped.js';
import {
  EACCES, EBADF, EEXIST, EINVAL, ENOMEM, EOPNOTSUPP, MAP_ANONYMOUS, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_FIXED,
  MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_NORESERVE, MAP_POPULATE, MAP_PRIVATE,
  MAP_SHARED, MAP_SHARED_VALIDATE, MAP_STACK, MAP_SYNC, MAP_TYPE, MAP_UNINITIALIZED, PROT_WRITE,
} from './uapi.js';
import {
  VM_ACCOUNT, VM_GROWSDOWN, VM_LOCKED, VM_MAYSHARE, VM_MAYWRITE, VM_NOHUGEPAGE, VM_NORESERVE, VM_READ, VM_SHARED,
  VM_SYNC, VM_WRITE,
} from './vm-flags.js';
import { PAGE_SIZE } from './frames.js';
import { unwinding } from '../util/unwind.js';

/**
 * LEGACY_MAP_MASK (include/linux/mman.h, kernel-internal): the flags MAP_SHARED accepts silently
 * (MAP_SHARED_VALIDATE refuses anything else).
 */
export const LEGACY_MAP_MASK = MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE |
  MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB;

const pageAlign = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/**
 * The mmap system call (x86-64 sys_mmap → ksys_mmap_pgoff → do_mmap). `file` is the file id for the fd, or
 * -1 when the fd is not open (EBADF); ignored with MAP_ANONYMOUS. `off` in bytes.
 */
export function sysMmap(mm: MmStruct, addr: number, len: number, prot: number, flags: number, file: number, off: number): number {
  mm.mmapWriteLock();
  let r: number;
  try {
    r = doMmapLocked(mm, addr, len, prot, flags, file, off);
  } catch (e) {
    throw unwinding(e, () => mm.mmapUnlock());
  }
  mm.mmapWriteUnlock();
  return r;
}

function doMmapLocked(mm: MmStruct, addr: number, len: number, prot: number, flags: number, file: number, off: number): number {
  if (off % PAGE_SIZE) return -EINVAL;
  if (flags & MAP_ANONYMOUS) file = 0;
  else if (file <= 0) return -EBADF;
  return doMmap(mm, file, addr, len, prot, flags, off / PAGE_SIZE);
}

export function doMmap(mm: MmStruct, file: number, addr: number, len: number, prot: number, flags: number, pgoff: number): number {
  if (!len) return -EINVAL;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  if (!(flags & MAP_FIXED)) {
    // round_hint_to_min()
    addr = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
    if (addr !== 0 && addr < MMAP_MIN_ADDR) addr = pageAlign(MMAP_MIN_ADDR);
  }
  if (len > 2 ** 64 - PAGE_SIZE) return -ENOMEM;
  len = pageAlign(len);
  if (mm.mapCount > mm.maxMapCount) return -ENOMEM;
  // The address first (do_mmap's order: a failed search or EEXIST beats the file checks).
  addr = getUnmappedArea(mm, file, addr, len, file ? pgoff : 0, flags);
  if (addr < 0) return addr;
  if ((flags & MAP_FIXED_NOREPLACE) && mm.findVmaIntersection(addr, addr + len)) return -EEXIST;
  let vmFlags = calcVmProtBits(prot) | VM_MAY_ALL |
    (flags & MAP_GROWSDOWN ? VM_GROWSDOWN : 0) | (flags & MAP_LOCKED ? VM_LOCKED : 0) |
    (flags & MAP_SYNC ? VM_SYNC : 0) | (flags & MAP_STACK ? VM_NOHUGEPAGE : 0);
  if (file) {
    const f = mm.files[file]!;
    const type = flags & MAP_TYPE;
    if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE) {
      if (type === MAP_SHARED) flags &= LEGACY_MAP_MASK; // force the legacy flags
      else if (flags & ~LEGACY_MAP_MASK) return -EOPNOTSUPP;
      vmFlags &= ~VM_SYNC;
      if (prot & PROT_WRITE && !f.writable) return -EACCES;
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      if (!f.writable) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
    } else if (type !== MAP_PRIVATE) {
      return -EINVAL;
    }
    if (!f.readable) return -EACCES;
    if (vmFlags & VM_GROWSDOWN) return -EINVAL;
  } else {
    switch (flags & MAP_TYPE) {
      case MAP_SHARED:
        if (vmFlags & VM_GROWSDOWN) return -EINVAL;
        pgoff = 0;
        vmFlags |= VM_SHARED | VM_MAYSHARE;
        break;
      case MAP_PRIVATE:
        pgoff = addr / PAGE_SIZE; // the anon_vma offset: where the mapping lands
        break;
      default:
        return -EINVAL;
    }
  }
  if (flags & MAP_NORESERVE) vmFlags |= VM_NORESERVE;
  const r = mmapRegion(mm, file, addr, len, vmFlags, pgoff);
  if (r >= 0 && ((vmFlags & VM_LOCKED) || (flags & (MAP_POPULATE | MAP_NONBLOCK)) === MAP_POPULATE)) {
    mm.populate(addr, addr + len);
  }
  return r;
}

/** accountable_mapping(): private writable mappings without VM_NORESERVE are charged (VM_ACCOUNT). */
function accountable(vmFlags: number): boolean {
  return (vmFlags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) === VM_WRITE;
}

/** __mmap_region(): unmap what is there, try to merge, else make a new VMA. */
export function mmapRegion(mm: MmStruct, file: number, addr: number, len: number, vmFlags: number, pgoff: number): number {
  const end = addr + len;
  if (mm.findVmaIntersection(addr, end)) {
    const r = mm.unmapRange(addr, end);
    if (r < 0) return r;
  }
  if (accountable(vmFlags)) vmFlags |= VM_ACCOUNT;
  let v = mm.mergeNewRange(addr, end, vmFlags, file, 0, pgoff);
  if (v === 0) {
    if (!file && (vmFlags & VM_SHARED)) file = mm.newShmemFile(len); // shmem_zero_setup
    v = mm.vmas.alloc(addr, end, pgoff, vmFlags, file, 0);
    if (v < 0) return -ENOMEM;
    mm.link(v);
  }
  return addr;
}

/** The munmap system call (__vm_munmap → do_vmi_munmap): the pages go with the mmap_lock downgraded to read. */
export function sysMunmap(mm: MmStruct, addr: number, len: number): number {
  if (addr % PAGE_SIZE || addr > mm.taskSize || len > mm.taskSize - addr) return -EINVAL;
  const end = addr + pageAlign(len);
  if (end === addr) return -EINVAL;
  mm.mmapWriteLock();
  let r: number;
  try {
    r = mm.unmapRange(addr, end, true);
  } catch (e) {
    throw unwinding(e, () => mm.mmapUnlock()); // it may have downgraded before it failed
  }
  if (r === 1) mm.mmapReadUnlock();
  else mm.mmapWriteUnlock();
  return r === 1 ? 0 : r;
}

/** VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT: what do_brk_flags() gives the heap. */
export const BRK_FLAGS = VM_READ | VM_WRITE | VM_MAY_ALL | VM_ACCOUNT;

/** The brk system call: returns the new break, or the old one when refused. */
export function sysBrk(mm: MmStruct, brk: number): number {
  mm.mmapWriteLock();
  let r: number;
  try {
    r = doBrkLocked(mm, brk);
  } catch (e) {
    throw unwinding(e, () => mm.mmapUnlock());
  }
  mm.mmapWriteUnlock();
  return r;
}

function doBrkLocked(mm: MmStruct, brk: number): number {
  const origbrk = mm.brk;
  const minBrk = mm.startBrk;
  if (brk < minBrk) return origbrk;
  const newbrk = pageAlign(brk);
  const oldbrk = pageAlign(mm.brk);
  if (oldbrk === newbrk) {
    mm.brk = brk;
    return brk;
  }
  if (brk <= mm.brk) {
    // Always allow shrinking, unless the range holds a mapping that is not the heap's.
    const v = mm.findVmaIntersection(newbrk, oldbrk);
    if (v === 0 || mm.vmas.start(v) >= oldbrk) return origbrk;
    mm.brk = brk;
    if (mm.unmapRange(newbrk, oldbrk) < 0) {
      mm.brk = origbrk;
      return origbrk;
    }
    return brk;
  }
  // check_brk_limits(): get_unmapped_area(NULL, oldbrk, len, 0, MAP_FIXED)
  const len = newbrk - oldbrk;
  if (getUnmappedArea(mm, 0, oldbrk, len, 0, MAP_FIXED) < 0) return origbrk;
  const next = mm.findVmaIntersection(oldbrk, newbrk + PAGE_SIZE + STACK_GUARD_GAP);
  if (next !== 0 && newbrk + PAGE_SIZE > mm.vmStartGap(next)) return origbrk;
  // vma_prev_limit(start_brk): the heap VMA below oldbrk, if it reaches start_brk.
  let brkvma = mm.vmaBefore(oldbrk);
  if (brkvma !== 0 && mm.vmas.end(brkvma) - 1 < mm.startBrk) brkvma = 0;
  if (doBrkFlags(mm, brkvma, oldbrk, len) < 0) return origbrk;
  mm.brk = brk;
  return brk;
}

/** do_brk_flags(): grow the heap VMA by len at addr, or make a new one. */
function doBrkFlags(mm: MmStruct, brkvma: number, addr: number, len: number): number {
  if (mm.mapCount > mm.maxMapCount) return -ENOMEM;
  const flags = BRK_FLAGS;
  if (brkvma !== 0 && mm.vmas.end(brkvma) === addr) {
    if (mm.mergeNewRange(addr, addr + len, flags, 0, 0, addr / PAGE_SIZE, brkvma, 0)) return 0;
  }
  const v = mm.vmas.alloc(addr, addr + len, addr / PAGE_SIZE, flags, 0, 0);
  if (v < 0) return -ENOMEM;
  mm.link(v);
  return 0;
}
