/**
 * Where mmap puts a mapping: __get_unmapped_area() and the x86-64 top-down search (arch/x86/kernel/
 * sys_x86_64.c, mm/vma.c unmapped_area_topdown / unmapped_area, mm/huge_memory.c __thp_get_unmapped_area),
 * Linux 6.18, as observed on the host kernel.
 *
 *  - MAP_FIXED: the address as given (range checks only).
 *  - A hint: taken (rounded down to a page) when [hint, hint + len) lies below TASK_SIZE, on one side of
 *    the 47-bit window, and ends at or below the guard gap of the next VMA (x86 does not look at the
 *    previous one).
 *  - Otherwise the highest gap of len bytes below mmap_base (maple tree's emptyAreaRev), pushed below
 *    the stack guard gap of a VM_GROWSDOWN VMA just above it; failing that, bottom-up from
 *    mmap_legacy_base.
 *  - Anonymous private mappings without a hint whose length is a multiple of 2 MiB (THP configured) are
 *    searched with 2 MiB more and aligned: the top-down flavour takes ret + 2 MiB when ret is aligned.
 */
import { MMAP_MIN_ADDR, type MmStruct } from './mm.js';
import { VM_GROWSDOWN } from './vm-flags.js';
import { PAGE_SIZE } from './frames.js';
import { PMD_SIZE } from './pagetable.js'; // a PMD maps 2 MiB: the THP alignment
import { EINVAL, ENOMEM, MAP_32BIT, MAP_ABOVE4G, MAP_FIXED, MAP_SHARED } from './uapi.js';

/** unmapped_area_topdown(): the highest address for len bytes in [low, high), or -ENOMEM. */
export function unmappedAreaTopdown(mm: MmStruct, len: number, low: number, high: number, alignMask = 0, alignOffset = 0): number {
  const length = len + alignMask;
  if (low < MMAP_MIN_ADDR) low = MMAP_MIN_ADDR;
  for (;;) {
    if (high - 1 < low) return -ENOMEM;
    const s = mm.tree.emptyAreaRev(low, high - 1, length);
    if (s < 0) return -ENOMEM;
    const gapEnd = s + length - 1;
    let gap = gapEnd + 1 - len;
    if (alignMask) gap -= (((gap - alignOffset) % (alignMask + 1)) + (alignMask + 1)) % (alignMask + 1);
    const next = mm.findVma(gapEnd + 1);
    if (next !== 0 && (mm.vmas.flags(next) & VM_GROWSDOWN)) {
      const sg = mm.vmStartGap(next);
      if (sg <= gapEnd) {
        high = sg;
        continue;
      }
    }
    return gap;
  }
}

/** unmapped_area(): the lowest address for len bytes in [low, high), or -ENOMEM. */
export function unmappedArea(mm: MmStruct, len: number, low: number, high: number, alignMask = 0, alignOffset = 0): number {
  const length = len + alignMask;
  if (low < MMAP_MIN_ADDR) low = MMAP_MIN_ADDR;
  for (;;) {
    if (high - 1 < low) return -ENOMEM;
    const s = mm.tree.emptyArea(low, high - 1, length);
    if (s < 0) return -ENOMEM;
    let gap = s;
    if (alignMask) gap += (((alignOffset - gap) % (alignMask + 1)) + (alignMask + 1)) % (alignMask + 1);
    const next = mm.findVma(s + length);
    if (next !== 0 && (mm.vmas.flags(next) & VM_GROWSDOWN)) {
      if (mm.vmStartGap(next) < gap + length - 1) {
        low = mm.vmas.end(next);
        continue;
      }
    }
    return gap;
  }
}

/** mmap_address_hint_valid(): below TASK_SIZE and not straddling the 47-bit window. */
function hintValid(mm: MmStruct, addr: number, len: number): boolean {
  if (mm.taskSize - len < addr) return false;
  const w = mm.taskSize; // DEFAULT_MAP_WINDOW on 4-level paging
  return (addr > w) === (addr + len > w);
}

/** arch_get_unmapped_area() (bottom-up), x86-64. */
function archGetUnmappedArea(mm: MmStruct, addr: number, len: number, flags: number): number {
  if (flags & MAP_FIXED) return addr;
  // find_start_end(): MAP_32BIT mappings go in [1 GiB, 2 GiB) (not randomised here).
  const begin = flags & MAP_32BIT ? 0x40000000 : mm.legacyBase;
  const end = flags & MAP_32BIT ? 0x80000000 : mm.taskSize;
  if (len > end) return -ENOMEM;
  if (addr) {
    addr = Math.ceil(addr / PAGE_SIZE) * PAGE_SIZE;
    const v = mm.findVma(addr);
    if (end - len >= addr && (v === 0 || addr + len <= mm.vmStartGap(v))) return addr;
  }
  return unmappedArea(mm, len, begin, end);
}

/** arch_get_unmapped_area_topdown(), x86-64. */
export function archGetUnmappedAreaTopdown(mm: MmStruct, addr: number, len: number, flags: number): number {
  if (len > mm.taskSize) return -ENOMEM;
  if (flags & MAP_FIXED) return addr;
  if (flags & MAP_32BIT) return archGetUnmappedArea(mm, 0, len, flags);
  if (addr) {
    addr = Math.floor(addr / PAGE_SIZE) * PAGE_SIZE;
    if (hintValid(mm, addr, len)) {
      const v = mm.findVma(addr);
      if (v === 0 || addr + len <= mm.vmStartGap(v)) return addr;
    }
  }
  const low = flags & MAP_ABOVE4G ? 2 ** 32 : PAGE_SIZE;
  const r = unmappedAreaTopdown(mm, len, low, mm.mmapBase);
  if (r >= 0) return r;
  return archGetUnmappedArea(mm, 0, len, flags);
}

/** __thp_get_unmapped_area(): a PMD-aligned placement, or 0 to fall back. */
function thpGetUnmappedArea(mm: MmStruct, addr: number, len: number, off: number, flags: number): number {
  const size = PMD_SIZE;
  const offEnd = off + len;
  const offAlign = Math.ceil(off / size) * size;
  if (offEnd <= offAlign || offEnd - offAlign < size) return 0;
  const lenPad = len + size;
  const ret = archGetUnmappedAreaTopdown(mm, addr, lenPad, flags);
  if (ret < 0) return 0;
  if (ret === addr) return addr;
  const offSub = (((off - ret) % size) + size) % size;
  if (offSub === 0) return ret + size;
  return ret + offSub;
}

/**
 * __get_unmapped_area(file?, addr, len, pgoff, flags): an address or -errno. `file` is the file id (0 for
 * anonymous), `shmem` whether it is a shmem file (shared anonymous mappings are).
 */
export function getUnmappedArea(mm: MmStruct, file: number, addr: number, len: number, pgoff: number, flags: number): number {
  if (len > mm.taskSize) return -ENOMEM;
  let r: number;
  const shmem = file !== 0 && mm.files[file]!.shmem;
  if (!file && (flags & MAP_SHARED)) {
    // shmem_get_unmapped_area: huge shmem is off on the host ("never"): the plain search.
    r = archGetUnmappedAreaTopdown(mm, addr, len, flags);
  } else if (file && !shmem && mm.fileThp) {
    r = thpGetUnmappedArea(mm, addr, len, pgoff * PAGE_SIZE, flags) || archGetUnmappedAreaTopdown(mm, addr, len, flags);
  } else if (!file && mm.thp && !addr && len % PMD_SIZE === 0) {
    r = thpGetUnmappedArea(mm, addr, len, 0, flags) || archGetUnmappedAreaTopdown(mm, addr, len, flags);
  } else {
    r = archGetUnmappedAreaTopdown(mm, addr, len, flags);
  }
  if (r < 0) return r;
  if (r > mm.taskSize - len) return -ENOMEM;
  if (r % PAGE_SIZE) return -EINVAL;
  return r;
}
