/**
 * mprotect (mm/mprotect.c do_mprotect_pkey + mprotect_fixup, Linux 6.18): VMAs are changed one by one in
 * address order, so a hole or a refused VMA stops the call with the VMAs before it already changed
 * (-ENOMEM for a hole, -EACCES for a protection the VMA may not have). Making a private mapping writable
 * charges it (VM_ACCOUNT); making an anonymous one without an anon_vma read-only again uncharges it.
 */
import { calcVmProtBits, type MmStruct } from './mm.js';
import {
  VM_ACCESS_FLAGS, VM_ACCOUNT, VM_GROWSDOWN, VM_HUGETLB, VM_NORESERVE, VM_SHARED, VM_WRITE,
} from './vm-flags.js';
import { PAGE_SIZE } from './frames.js';
import { unwinding } from '../util/unwind.js';
import { EACCES, EINVAL, ENOMEM, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE } from './uapi.js';

export function sysMprotect(mm: MmStruct, start: number, len: number, prot: number): number {
  mm.mmapWriteLock();
  let r: number;
  try {
    r = doMprotectLocked(mm, start, len, prot);
  } catch (e) {
    throw unwinding(e, () => mm.mmapUnlock());
  }
  mm.mmapWriteUnlock();
  return r;
}

function doMprotectLocked(mm: MmStruct, start: number, len: number, prot: number): number {
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (start % PAGE_SIZE) return -EINVAL;
  if (!len) return 0;
  len = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  const end = start + len;
  if (end <= start || end > 2 ** 64) return -ENOMEM;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) return -EINVAL; // arch_validate_prot
  const t = mm.vmas;
  let vma = mm.findVmaIntersection(start, end);
  if (vma === 0) return -ENOMEM;
  if (grows & PROT_GROWSDOWN) {
    if (t.start(vma) >= end) return -ENOMEM;
    start = t.start(vma);
    if (!(t.flags(vma) & VM_GROWSDOWN)) return -EINVAL;
  } else {
    if (t.start(vma) > start) return -ENOMEM;
    if (grows & PROT_GROWSUP) {
      return -EINVAL; // no VM_GROWSUP on x86
    }
  }
  let nstart = start;
  let tmp = t.start(vma);
  let error = 0;
  const newProt = calcVmProtBits(prot);
  while (vma !== 0 && t.start(vma) < end) {
    if (t.start(vma) !== tmp) { error = -ENOMEM; break; }
    const old = t.flags(vma);
    let newflags = newProt | (old & ~VM_ACCESS_FLAGS);
    // newflags >> 4 puts VM_MAY* where VM_* is: every access asked for must be allowed.
    if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) { error = -EACCES; break; }
    tmp = Math.min(t.end(vma), end);
    const r = mprotectFixup(mm, vma, nstart, tmp, newflags);
    if (r < 0) { error = r; break; }
    // vma_iter_end(): continue after the VMA just handled (a merge may have taken it past end).
    tmp = t.end(r);
    nstart = tmp;
    vma = tmp >= end ? 0 : mm.findVma(tmp);
  }
  if (!error && tmp < end) error = -ENOMEM;
  return error;
}

/** mprotect_fixup(): returns the VMA now covering [start, end), or -errno. */
function mprotectFixup(mm: MmStruct, vma: number, start: number, end: number, newflags: number): number {
  const old = mm.vmas.flags(vma);
  if (newflags === old) return vma;
  if (newflags & VM_WRITE) {
    if (!(old & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE))) newflags |= VM_ACCOUNT;
  } else if ((old & VM_ACCOUNT) && mm.vmas.file(vma) === 0 && !(old & VM_SHARED) && mm.vmas.anon(vma) === 0) {
    // An anonymous VMA that never faulted can drop its charge.
    newflags &= ~VM_ACCOUNT;
  }
  const v = mm.modify(vma, start, end, newflags);
  if (v < 0) return v;
  mm.setFlags(v, newflags);
  mm.pages?.changeProtection(start, end, newflags);
  return v;
}
