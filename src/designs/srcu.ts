import { UNREACHABLE_WHEN_FAULTS_MAY_SLEEP } from '../mm/paths.js';
import { DesignStats, type DesignContext, type DesignDefinition } from '../mm/design.js';
import type { MmStruct } from '../mm/mm.js';
import { fastPathOrMmapLock, SEQCOUNT_WORDS, seqcountClosed, SeqValidatedDesign, SPECULATIVE_COUNTERS } from './common.js';
import { IntList } from '../util/int-list.js';

/**
 * Zijlstra's answer in the thread: "why not use SRCU? You can do full blocking faults under SRCU and don't
 * need no stinkin' refcounts". The whole fault — walk, allocate page tables, sleep for the page to come
 * back from disk — runs inside srcu_read_lock(&vma_srcu); munmap removes the VMA from the tree and hands
 * its freeing to call_srcu(). As he adds, the tricky bit is validating on the second page-table walk that
 * the VMA did not change: the seqcount of common.ts.
 *
 *   fault:   idx = srcu_read_lock(&vma_srcu)
 *            vma = mas_walk(&mm->mm_mt, addr)        // tree nodes: RCU, held only while walking
 *            handle_mm_fault(vma, addr)              // may sleep
 *            srcu_read_unlock(&vma_srcu, idx)
 *   munmap:  detach; call_srcu(&vma_srcu, vm_area_free)          (srcu)
 *            detach; synchronize_srcu(&vma_srcu); vm_area_free   (srcu-sync: "stupid slow")
 *
 * srcu-sync waits once per call that removed VMAs, at the end of it, still holding the mmap_lock. Faults
 * that fall back take the mmap_lock only after leaving their SRCU section, so that wait cannot deadlock.
 */
export class SrcuDesign extends SeqValidatedDesign {
  override readonly stats = new DesignStats({ miss: 0, abort: 0, gracePeriods: 0 });
  /** srcu-sync: VMAs retired in this write section, freed after one synchronize_srcu at its end. */
  private readonly retired = new IntList();

  constructor(
    ctx: DesignContext,
    name = 'srcu',
    /** srcu-sync: munmap waits in synchronize_srcu() and frees, instead of handing the VMA to call_srcu(). */
    private readonly synchronous = false,
  ) {
    super(ctx, name);
  }

  fault(addr: number, flags: number): number {
    const { mm, rcu, srcu } = this.ctx;
    const idx = srcu.readLock();
    rcu.readLock();
    const vma = mm.tree.findValue(addr);
    rcu.readUnlock();
    const r = this.spec.attempt(vma, addr, flags, false, this.stats); // may sleep
    srcu.readUnlock(idx);
    return fastPathOrMmapLock(this.ctx, this.stats, r, addr, flags);
  }

  retireVma(mm: MmStruct, vma: number): void {
    this.retireSeq(mm, vma);
    if (this.synchronous) this.retired.push(vma);
    else this.ctx.srcu.callSrcu(() => mm.vmaFree(vma));
  }

  override vmaEndWriteAll(mm: MmStruct): void {
    super.vmaEndWriteAll(mm);
    const srcu = this.ctx.srcu;
    if (this.retired.length > 0) {
      srcu.synchronize();
      this.stats.extra.gracePeriods++;
      for (let i = 0; i < this.retired.length; i++) mm.vmaFree(this.retired.at(i));
      this.retired.clear();
    }
    // The kernel's SRCU grace periods advance from a workqueue; ours advance when their callers look.
    this.stats.extra.gracePeriods += srcu.processCallbacks() > 0 ? 1 : 0;
  }
}

/** Mutant: munmap frees the VMA at once instead of handing it to call_srcu(). */
class SrcuEarlyFree extends SrcuDesign {
  override retireVma(mm: MmStruct, vma: number): void {
    this.retireSeq(mm, vma);
    mm.vmaFree(vma);
  }
}

const SRCU_COUNTERS = { ...SPECULATIVE_COUNTERS, gracePeriods: 'SRCU grace periods completed (synchronize_srcu waits, and call_srcu batches run)' };

export const srcu: DesignDefinition = {
  name: 'srcu',
  summary: 'the fault under SRCU; munmap frees with call_srcu',
  description: 'the whole fault under srcu_read_lock; munmap frees the VMA with call_srcu',
  color: '#4e79a7',
  lockless: true,
  counters: SRCU_COUNTERS,
  vmaWords: SEQCOUNT_WORDS,
  unreachable: UNREACHABLE_WHEN_FAULTS_MAY_SLEEP,
  quiescentVma: seqcountClosed,
  mutants: {
    'srcu-early-free': { summary: 'srcu freeing removed VMAs without call_srcu', make: (ctx) => new SrcuEarlyFree(ctx, 'srcu-early-free') },
  },
  make: (ctx) => new SrcuDesign(ctx, 'srcu'),
};

export const srcuSync: DesignDefinition = {
  ...srcu,
  name: 'srcu-sync',
  summary: 'the fault under SRCU; munmap waits in synchronize_srcu',
  description: 'as srcu, but munmap waits in synchronize_srcu before freeing',
  color: '#76b7b2',
  mutants: {},
  make: (ctx) => new SrcuDesign(ctx, 'srcu-sync', true),
};
