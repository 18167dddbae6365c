import type { DesignContext } from '../mm/design.js';
import type { MmStruct } from '../mm/mm.js';
import { refcountDecAndTest, refcountIncNotZero } from '../sync/refcount.js';
import { fastPathOrMmapLock, SeqValidatedDesign } from './common.js';

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
  constructor(ctx: DesignContext, name = 'vma-refcount') {
    super(ctx, name);
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
    return refcountIncNotZero(mm.vmas.i32, mm.vmas.refcountWord(vma));
  }

  private vmaPut(mm: MmStruct, vma: number): void {
    if (refcountDecAndTest(mm.vmas.i32, mm.vmas.refcountWord(vma))) this.ctx.rcu.callRcu(() => mm.vmaFree(vma));
  }

  /** Detached by the mm; drop the tree's reference. */
  retireVma(mm: MmStruct, vma: number): void {
    this.retireSeq(mm, vma);
    this.vmaPut(mm, vma);
  }
}
