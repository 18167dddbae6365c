import { UNREACHABLE_WHEN_FAULTS_MAY_SLEEP } from '../mm/paths.js';
import type { DesignContext, DesignDefinition } from '../mm/design.js';
import type { MmStruct } from '../mm/mm.js';
import { refcountDecAndTest, refcountIncNotZero } from '../sync/refcount.js';
import { fastPathOrMmapLock, SEQCOUNT_WORDS, seqcountClosed, SeqValidatedDesign, SPECULATIVE_COUNTERS } from './common.js';

/**
 * Phase 2 of the thread: the fault looks its VMA up in the maple tree under RCU and pins it with a per-VMA
 * reference count; the reference, not the mmap_lock, keeps the VMA alive while the fault runs and sleeps.
 *
 *   fault:    rcu_read_lock()
 *             vma = mas_walk(&mm->mm_mt, addr)
 *             if (!vma || !refcount_inc_not_zero(&vma->refcount))  → rcu_read_unlock(); the mmap_lock fault
 *             rcu_read_unlock()
 *             handle_mm_fault(vma, addr)            // may sleep; validates the VMA before each PTE goes in
 *             vma_put(vma)
 *   munmap:   mmap_write_lock(); detach(vma); vma_put(vma) (the tree's reference); mmap_write_unlock()
 *   vma_put:  if (refcount_dec_and_test(&vma->refcount)) call_rcu(vm_area_free)
 *
 * A reader that found the VMA under RCU before it was detached either pins it (and then sees it detached
 * or changed when it validates) or finds the count at zero; the record itself is freed only a grace period
 * after the count reached zero, so refcount_inc_not_zero never touches freed memory. The reference keeps
 * the VMA's memory but not its fields: writers bump its seqcount and the fault validates (common.ts).
 */
export class VmaRefcountDesign extends SeqValidatedDesign {
  /** Where vm_refcnt lives in a VMA record. */
  protected readonly refcount: number;

  constructor(ctx: DesignContext, name = 'vma-refcount') {
    super(ctx, name);
    this.refcount = ctx.mm.vmas.wordOffset('vmRefcount');
  }

  fault(addr: number, flags: number): number {
    return fastPathOrMmapLock(this.ctx, this.stats, this.faultPinned(addr, flags), addr, flags);
  }

  /** The fault on a VMA pinned by its reference count; LOCK_MMAP if it has to be done under the mmap_lock. */
  protected faultPinned(addr: number, flags: number): number {
    const { mm, rcu } = this.ctx;
    rcu.readLock();
    let vma = mm.tree.findValue(addr);
    if (vma !== 0 && !this.vmaTryGet(mm, vma)) vma = 0; // dying: as good as gone
    rcu.readUnlock();
    const r = this.spec.attempt(vma, addr, flags, false, this.stats); // may sleep: the reference holds it
    if (vma !== 0) this.vmaPut(mm, vma);
    return r;
  }

  /** refcount_inc_not_zero(&vma->refcount): a VMA whose count reached zero is already on its way out. */
  protected vmaTryGet(mm: MmStruct, vma: number): boolean {
    return refcountIncNotZero(mm.vmas.i32, mm.vmas.word(vma, this.refcount));
  }

  private vmaPut(mm: MmStruct, vma: number): void {
    if (refcountDecAndTest(mm.vmas.i32, mm.vmas.word(vma, this.refcount))) this.ctx.rcu.callRcu(() => mm.vmaFree(vma));
  }

  /** Detached by the mm; drop the tree's reference. */
  retireVma(mm: MmStruct, vma: number): void {
    this.retireSeq(mm, vma);
    this.vmaPut(mm, vma);
  }
}

/** The per-VMA words of the refcount designs: the tree's reference, and vm_sequence for the validation. */
export const REFCOUNT_WORDS = { ...SEQCOUNT_WORDS, vmRefcount: 1 } as const;

/** At quiescence a VMA in the tree holds only the tree's reference, and no write is left open. */
export function refcountQuiescent(mm: MmStruct, vma: number): string | undefined {
  const t = mm.vmas;
  const refs = Atomics.load(t.i32, t.word(vma, t.wordOffset('vmRefcount')));
  if (refs !== 1) return `refcount ${refs} at quiescence (only the tree's reference should be left)`;
  return seqcountClosed(mm, vma);
}

/** Mutant: pins with a plain atomic_inc, not refcount_inc_not_zero() — it can revive a VMA whose free is queued. */
class VmaRefcountNoInc extends VmaRefcountDesign {
  protected override vmaTryGet(mm: MmStruct, vma: number): boolean {
    Atomics.add(mm.vmas.i32, mm.vmas.word(vma, this.refcount), 1);
    return true;
  }
}

export const vmaRefcount: DesignDefinition = {
  name: 'vma-refcount',
  summary: 'phase 2: VMA found under RCU, pinned by a refcount',
  description: 'VMA found under rcu_read_lock and pinned with refcount_inc_not_zero (phase 2)',
  color: '#f28e2b',
  lockless: true,
  counters: SPECULATIVE_COUNTERS,
  vmaWords: REFCOUNT_WORDS,
  unreachable: UNREACHABLE_WHEN_FAULTS_MAY_SLEEP,
  quiescentVma: refcountQuiescent,
  mutants: {
    'vma-refcount-noinc': { summary: 'vma-refcount pinning with atomic_inc, not inc_not_zero', make: (ctx) => new VmaRefcountNoInc(ctx, 'vma-refcount-noinc') },
  },
  make: (ctx) => new VmaRefcountDesign(ctx),
};
