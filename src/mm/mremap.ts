/**
 * mremap (mm/mremap.c, Linux 6.17+ structure): shrink in place (only the tail is unmapped), grow in place
 * (vma_merge_extend), move (MREMAP_MAYMOVE: copy_vma at a new place, merging there, then unmap the old
 * range), MREMAP_FIXED (unmap the target first) and MREMAP_DONTUNMAP (the old VMA stays, losing its
 * anon_vma when it moved whole). A MAYMOVE|FIXED move without resize may span several VMAs: each moves
 * to its own offset from the target, gaps included; a hole at the start is -EFAULT.
 */
import type { MmStruct } from './mm.js';
import { getUnmappedArea } from './unmapped.js';
import { VM_DONTEXPAND, VM_LOCKED, VM_LOCKONFAULT, VM_MAYSHARE, VM_PFNMAP, VM_SHARED } from './vm-flags.js';
import { PAGE_SIZE } from './frames.js';
import { unwinding } from '../util/unwind.js';
import { EFAULT, EINVAL, ENOMEM, MAP_FIXED, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE } from './uapi.js';

const pageAlign = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

interface Vrm {
  addr: number;
  oldLen: number;
  newLen: number;
  flags: number;
  newAddr: number;
  vma: number;
}

const impliesNewAddr = (r: Vrm) => (r.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) !== 0;

export function sysMremap(mm: MmStruct, addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
  mm.mmapWriteLock();
  let r: number;
  try {
    r = doMremapLocked(mm, addr, oldLen, newLen, flags, newAddr);
  } catch (e) {
    throw unwinding(e, () => mm.mmapUnlock());
  }
  mm.mmapWriteUnlock();
  return r;
}

function doMremapLocked(mm: MmStruct, addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
  const r: Vrm = { addr, oldLen: pageAlign(oldLen), newLen: pageAlign(newLen), flags, newAddr, vma: 0 };
  const e = checkParams(mm, r);
  if (e) return e;
  if ((r.flags & MREMAP_FIXED) && r.oldLen === r.newLen) return remapMove(mm, r);
  r.vma = mm.vmaLookup(r.addr);
  const c = checkPrepVma(mm, r);
  if (c) return c;
  return impliesNewAddr(r) ? mremapTo(mm, r) : mremapAt(mm, r);
}

/** check_mremap_params() */
function checkParams(mm: MmStruct, r: Vrm): number {
  if (r.flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP)) return -EINVAL;
  if (r.addr % PAGE_SIZE) return -EINVAL;
  if (!r.newLen) return -EINVAL;
  if (r.newLen > mm.taskSize) return -EINVAL;
  if (!impliesNewAddr(r)) return 0;
  if (r.newAddr > mm.taskSize - r.newLen) return -EINVAL;
  if (r.newAddr % PAGE_SIZE) return -EINVAL;
  if (!(r.flags & MREMAP_MAYMOVE)) return -EINVAL;
  if ((r.flags & MREMAP_DONTUNMAP) && r.oldLen !== r.newLen) return -EINVAL;
  if (overlaps(r)) return -EINVAL;
  if (mm.mapCount + 2 >= mm.maxMapCount - 3) return -ENOMEM;
  return 0;
}

function overlaps(r: Vrm): boolean {
  return r.addr + r.oldLen > r.newAddr && r.newAddr + r.newLen > r.addr;
}

/** check_prep_vma() */
function checkPrepVma(mm: MmStruct, r: Vrm): number {
  const v = r.vma;
  if (v === 0) return -EFAULT;
  const t = mm.vmas;
  if (!impliesNewAddr(r)) r.newAddr = r.addr;
  const expand = r.newLen > r.oldLen;
  if (!expand && !impliesNewAddr(r)) return 0;
  const f = t.flags(v);
  if (!r.oldLen && !(f & (VM_SHARED | VM_MAYSHARE))) return -EINVAL;
  if ((r.flags & MREMAP_DONTUNMAP) && (f & (VM_DONTEXPAND | VM_PFNMAP))) return -EINVAL;
  // A shrinking move unmaps the tail first, so only what stays must lie within the VMA.
  if (Math.min(r.oldLen, impliesNewAddr(r) ? r.newLen : r.oldLen) > t.end(v) - r.addr) return -EFAULT;
  if (r.newLen === r.oldLen) return 0;
  if (!expand) return 0;
  if (f & (VM_DONTEXPAND | VM_PFNMAP)) return -EFAULT;
  return 0;
}

/** mremap_at(): no new address asked for. */
function mremapAt(mm: MmStruct, r: Vrm): number {
  if (r.oldLen === r.newLen) return r.addr;
  if (r.newLen < r.oldLen) {
    const e = mm.unmapRange(r.addr + r.newLen, r.addr + r.oldLen);
    return e < 0 ? e : r.addr;
  }
  return expandVma(mm, r);
}

function expandVma(mm: MmStruct, r: Vrm): number {
  const t = mm.vmas;
  const v = r.vma;
  const delta = r.newLen - r.oldLen;
  if (r.addr + r.oldLen === t.end(v) && expandable(mm, v, delta)) {
    // vma_merge_extend(): the extension merges with v, and with the next VMA if it now touches it.
    const ve = t.end(v);
    const m = mm.mergeNewRange(ve, ve + delta, t.flags(v), t.file(v), t.anon(v), t.pgoff(v) + t.pages(v), v, -1);
    if (m === 0) return -ENOMEM;
    return r.addr;
  }
  if (!(r.flags & MREMAP_MAYMOVE)) return -ENOMEM;
  const e = setNewAddr(mm, r);
  if (e < 0) return e;
  return moveVma(mm, r);
}

/** vma_expandable(): nothing in the way and still inside the address space. */
function expandable(mm: MmStruct, v: number, delta: number): boolean {
  const t = mm.vmas;
  const end = t.end(v) + delta;
  if (mm.findVmaIntersection(t.end(v), end)) return false;
  return getUnmappedArea(mm, 0, t.start(v), end - t.start(v), 0, MAP_FIXED) >= 0;
}

/** vrm_set_new_addr(): where a moved mapping goes. */
function setNewAddr(mm: MmStruct, r: Vrm): number {
  const t = mm.vmas;
  const v = r.vma;
  const pgoff = t.pgoff(v) + (r.addr - t.start(v)) / PAGE_SIZE;
  const hint = impliesNewAddr(r) ? r.newAddr : 0;
  let mapFlags = 0;
  if (r.flags & MREMAP_FIXED) mapFlags |= MAP_FIXED;
  if (t.flags(v) & VM_MAYSHARE) mapFlags |= MAP_SHARED;
  const a = getUnmappedArea(mm, t.file(v), hint, r.newLen, pgoff, mapFlags);
  if (a < 0) return a;
  r.newAddr = a;
  return 0;
}

/** mremap_to(): a move to a given (FIXED) or hinted (DONTUNMAP) address. */
function mremapTo(mm: MmStruct, r: Vrm): number {
  if (r.flags & MREMAP_FIXED) {
    const e = mm.unmapRange(r.newAddr, r.newAddr + r.newLen);
    if (e < 0) return e;
    r.vma = mm.vmaLookup(r.addr);
    if (r.vma === 0) return -EFAULT;
  }
  if (r.newLen < r.oldLen) {
    const e = mm.unmapRange(r.addr + r.newLen, r.addr + r.oldLen);
    if (e < 0) return e;
    r.oldLen = r.newLen;
    r.vma = mm.vmaLookup(r.addr);
  }
  const e = setNewAddr(mm, r);
  if (e < 0) return e;
  return moveVma(mm, r);
}

/** move_vma(): copy_vma() at newAddr (merging there), then unmap the old range (or keep it: DONTUNMAP). */
function moveVma(mm: MmStruct, r: Vrm): number {
  const t = mm.vmas;
  if (mm.mapCount >= mm.maxMapCount - 3) return -ENOMEM;
  const v = r.vma;
  const vs = t.start(v), ve = t.end(v);
  const flags = t.flags(v), file = t.file(v), anon = t.anon(v);
  let pgoff = t.pgoff(v) + (r.addr - vs) / PAGE_SIZE;
  // An anonymous VMA that never faulted takes the pgoff of its new place, to merge there more easily.
  if (file === 0 && anon === 0) pgoff = r.newAddr / PAGE_SIZE;
  const na = r.newAddr, ne = r.newAddr + r.newLen;
  let nv = mm.mergeNewRange(na, ne, flags, file, anon, pgoff);
  if (nv === 0) {
    nv = t.alloc(na, ne, pgoff, flags, file, anon, t.nameKind(v), t.nameId(v));
    if (nv < 0) return -ENOMEM;
    mm.vmaStartWrite(nv, 'move_vma'); // no fault may fill the new range before the old PTEs arrive
    mm.link(nv);
  }
  // move_page_tables() write-marks the source: no fault may fill the old range behind the move.
  if (!t.isDetached(v)) mm.vmaStartWrite(v, 'move_vma'); // (a merge at the target may have swallowed it)
  if (mm.pages && !mm.pages.moveRange(r.addr, na, Math.min(r.oldLen, r.newLen))) return -ENOMEM; // move_page_tables()
  if (r.flags & MREMAP_DONTUNMAP) {
    // The old VMA stays; it loses VM_LOCKED, and its anon_vma when it moved whole.
    const old = mm.vmaLookup(r.addr);
    if (old !== 0) {
      mm.setFlags(old, t.flags(old) & ~(VM_LOCKED | VM_LOCKONFAULT));
      if (old !== nv && vs === r.addr && ve === r.addr + r.oldLen) t.setAnon(old, 0);
    }
    return r.newAddr;
  }
  const e = mm.unmapRange(r.addr, r.addr + r.oldLen);
  if (e < 0) return e;
  return r.newAddr;
}

/** remap_move(): MREMAP_FIXED without resize, possibly over several VMAs. */
function remapMove(mm: MmStruct, r: Vrm): number {
  const t = mm.vmas;
  const start = r.addr, end = r.addr + r.oldLen;
  let target = r.newAddr;
  let res = -EFAULT;
  let seen = false;
  let lastEnd = 0;
  let pos = start;
  for (;;) {
    const v = mm.findVmaIntersection(pos, end);
    if (v === 0) break;
    const a = Math.max(t.start(v), start);
    const len = Math.min(end, t.end(v)) - a;
    if (!seen && start < t.start(v)) return -EFAULT;
    const offset = seen ? t.start(v) - lastEnd : 0;
    lastEnd = t.end(v);
    const sub: Vrm = { addr: a, oldLen: len, newLen: len, flags: r.flags, newAddr: target + offset, vma: v };
    // A VMA that may not move along with others: only alone (vma_multi_allowed).
    if (!multiAllowed(mm, v) && (seen || lastEnd < end)) return -EFAULT;
    let rv = checkPrepVma(mm, sub);
    if (!rv) rv = mremapTo(mm, sub);
    if (rv < 0) return rv;
    if (!seen) res = rv;
    seen = true;
    target = rv + len;
    pos = a + len;
    if (pos >= end) break;
  }
  return res;
}

/**
 * vma_multi_allowed(): anonymous and shmem VMAs, and files whose get_unmapped_area honours MAP_FIXED
 * (thp_get_unmapped_area: ext4, xfs) — every VMA this mm models; userfaultfd VMAs (not modelled) are not.
 */
function multiAllowed(_mm: MmStruct, _v: number): boolean {
  return true;
}
