/**
 * Reading /proc/PID/maps (fs/proc/task_mmu.c: m_start, m_next → proc_get_vma, m_stop): the VMAs in address
 * order, each handed to `emit` with its line of text (show_map_vma(), made while the VMA cannot change).
 * Where the design has lock_next_vma() (6.17) the read holds one VMA's read lock at a time and never the
 * mmap_lock, so mmap and munmap go on beside it; a VMA changed meanwhile may be reported twice, before and
 * after, but no gap that was not there. Otherwise the read takes mmap_read_lock for each page of text, as
 * seq_file fills its buffer, and drops it in between (m_stop); the next page goes on from where the last
 * one ended. Each next VMA is the first that ends above the last one's end (the kernel moved *ppos to
 * vm_end so that a VMA merged with the next still moves the position on).
 */
import { PAGE_SIZE } from './frames.js';
import type { MmStruct } from './mm.js';

export function readMapsVmas(mm: MmStruct, emit: (vma: number, line: string) => void): void {
  const h = mm.hooks;
  if (h.lockNextVma === undefined || h.vmaReadUnlock === undefined) {
    for (let pos = 0, more = true; more;) {
      mm.mmapReadLock();
      try {
        let bytes = 0;
        let vma = mm.findVma(pos);
        for (; vma !== 0 && bytes < PAGE_SIZE; vma = mm.findVma(pos)) {
          const line = mm.mapsLine(vma) + '\n';
          emit(vma, line);
          bytes += line.length;
          pos = mm.vmas.end(vma);
        }
        more = vma !== 0;
      } finally {
        mm.mmapReadUnlock();
      }
    }
    return;
  }
  for (let pos = 0; ;) {
    const vma = h.lockNextVma(pos);
    if (vma === 0) return;
    try {
      emit(vma, mm.mapsLine(vma) + '\n');
      pos = mm.vmas.end(vma);
    } finally {
      h.vmaReadUnlock(vma);
    }
  }
}
