import type { DesignContext, DesignDefinition } from '../mm/design.js';
import type { FaultVma } from '../mm/fault.js';
import type { MmStruct } from '../mm/mm.js';
import { fastPathOrMmapLock, SEQCOUNT_WORDS, seqcountClosed, SeqValidatedDesign, SpeculativeFault, SPECULATIVE_COUNTERS } from './common.js';

/**
 * Speculative page faults (Zijlstra's and Dufour's patches, which the thread points at): every writer
 * bumps the seqcount of a VMA it changes; the fault reads the VMA and walks the page tables without the
 * mmap_lock, then, holding the PTE lock, walks again and validates — count unchanged, VMA still attached,
 * the table still the one it walked — before the PTE goes in. On any doubt it aborts and the fault is done
 * again the old way. VMAs and page tables are freed only after an RCU grace period, so the speculative
 * walker never reads freed memory; the fault does not sleep (GFP_NOWAIT, no page-cache reads).
 *
 *   fault:   rcu_read_lock()
 *            vma = mas_walk(&mm->mm_mt, addr); seq = raw_read_seqcount(&vma->vm_sequence)
 *            if (seq is odd) → abort
 *            copy the VMA; if (read_seqcount_retry(&vma->vm_sequence, seq)) → abort
 *            ret = handle_speculative_fault(vma copy, addr)   // pte_spinlock(); validate; set_pte; unlock
 *            rcu_read_unlock()
 *            abort or VM_FAULT_RETRY → mmap_read_lock(); handle_mm_fault(); mmap_read_unlock()
 *   writer:  vm_write_begin(vma) … change … vm_write_end(vma)   // at mmap_write_unlock
 *   munmap:  detach; call_rcu(vm_area_free)
 */
export class SpfDesign extends SeqValidatedDesign {
  constructor(ctx: DesignContext, name = 'spf', spec?: SpeculativeFault) {
    super(ctx, name, spec);
  }

  fault(addr: number, flags: number): number {
    const { mm, rcu } = this.ctx;
    rcu.readLock();
    const r = this.spec.attempt(mm.tree.findValue(addr), addr, flags, true, this.stats);
    rcu.readUnlock();
    return fastPathOrMmapLock(this.ctx, this.stats, r, addr, flags);
  }

  retireVma(mm: MmStruct, vma: number): void {
    this.retireSeq(mm, vma);
    this.ctx.rcu.callRcu(() => mm.vmaFree(vma));
  }
}

/** Mutant: no re-check under the PTE lock — the PTE goes in even if the VMA changed or left. */
class NoRevalidation extends SpeculativeFault {
  override revalidate(_v: FaultVma): boolean {
    return true;
  }
}

export const spf: DesignDefinition = {
  name: 'spf',
  summary: 'speculative faults validated by a VMA seqcount',
  description: 'speculative fault: seqcount snapshot, validated again under the PTE lock',
  color: '#e15759',
  lockless: true,
  counters: SPECULATIVE_COUNTERS,
  vmaWords: SEQCOUNT_WORDS,
  quiescentVma: seqcountClosed,
  mutants: {
    'spf-novalidate': { summary: 'spf without the re-check under the PTE lock', make: (ctx) => new SpfDesign(ctx, 'spf-novalidate', new NoRevalidation(ctx)) },
  },
  make: (ctx) => new SpfDesign(ctx),
};
