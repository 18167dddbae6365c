import { DesignStats, type DesignContext, type LockingDesign } from '../mm/design.js';
import { FaultVma, handleMmFault, VM_FAULT_RETRY } from '../mm/fault.js';
import type { MmStruct } from '../mm/mm.js';
import { schedPoint } from '../sync/relax.js';
import { downReadTrylock, downWrite, upRead, upWrite } from '../sync/rwsem.js';
import { faultUnderMmapLock } from './common.js';

/**
 * Per-VMA locks, as Linux merged them in 6.4 (Suren Baghdasaryan): each VMA has a read-write lock; a fault
 * finds its VMA under RCU and read-trylocks it; a writer write-locks each VMA it changes and keeps it so
 * until mmap_write_unlock(), which releases all of them at once by bumping mm_lock_seq.
 *
 *   lock_vma_under_rcu(mm, addr):
 *     rcu_read_lock()
 *     vma = mas_walk(&mm->mm_mt, addr)
 *     vma_start_read(vma):  vm_lock_seq == mm_lock_seq → fail   (write-locked in the current section)
 *                           down_read_trylock(&vma->vm_lock) or fail
 *                           vm_lock_seq == mm_lock_seq → up_read; fail   (locked while we took it)
 *     addr outside [vm_start, vm_end) → vma_end_read; fail
 *     vma detached → vma_end_read; retry the walk
 *     rcu_read_unlock()
 *   fault:   vma = lock_vma_under_rcu(); handle_mm_fault(vma, addr); vma_end_read(vma)
 *            no vma, or VM_FAULT_RETRY → the mmap_lock fault
 *   vma_start_write(vma): if vm_lock_seq != mm_lock_seq:
 *                           down_write(&vma->vm_lock); vm_lock_seq = mm_lock_seq; up_write(&vma->vm_lock)
 *   munmap:  vma_start_write; detach; call_rcu(vm_area_free)
 *
 * A read-locked VMA cannot change, so the fault needs no validation, and its page tables stay.
 */
export class PerVmaLockDesign implements LockingDesign {
  /** abort: lock_vma_under_rcu failed (vma_lock_abort); miss: found detached and walked again. */
  readonly stats = new DesignStats({ miss: 0, abort: 0 });
  private readonly v = new FaultVma();

  constructor(
    private readonly ctx: DesignContext,
    readonly name = 'per-vma-lock',
  ) {}

  fault(addr: number, flags: number): number {
    const vma = this.lockVmaUnderRcu(addr);
    if (vma !== 0) {
      const pages = this.ctx.pages;
      const r = handleMmFault(pages, pages.snapshot(vma, this.v), addr, flags, false);
      this.vmaEndRead(vma);
      if ((r & VM_FAULT_RETRY) === 0) {
        this.stats.fastPath++;
        return r;
      }
      this.stats.retry++;
    } else this.stats.extra.abort++;
    this.stats.fallback++;
    return faultUnderMmapLock(this.ctx, addr, flags);
  }

  /** The VMA containing addr, read-locked; 0 if none could be locked. */
  private lockVmaUnderRcu(addr: number): number {
    const { mm, rcu } = this.ctx;
    const t = mm.vmas;
    rcu.readLock();
    for (;;) {
      const vma = mm.tree.findValue(addr);
      if (vma === 0 || !this.vmaStartRead(mm, vma)) break;
      if (addr < t.start(vma) || addr >= t.end(vma)) {
        this.vmaEndRead(vma);
        break;
      }
      if (t.isDetached(vma)) {
        this.vmaEndRead(vma);
        this.stats.extra.miss++;
        schedPoint('lock_vma_under_rcu: found detached, walk again');
        continue;
      }
      rcu.readUnlock();
      return vma;
    }
    rcu.readUnlock();
    return 0;
  }

  protected vmaStartRead(mm: MmStruct, vma: number): boolean {
    const t = mm.vmas;
    if (Atomics.load(t.i32, t.vmLockSeqWord(vma)) === mm.mmLockSeq) return false;
    if (!downReadTrylock(t.i32, t.vmLockWord(vma))) return false;
    if (Atomics.load(t.i32, t.vmLockSeqWord(vma)) === mm.mmLockSeq) {
      upRead(t.i32, t.vmLockWord(vma));
      return false;
    }
    return true;
  }

  private vmaEndRead(vma: number): void {
    const t = this.ctx.mm.vmas;
    upRead(t.i32, t.vmLockWord(vma));
  }

  /** Called with the mmap_lock held for write, so mm_lock_seq cannot move under it. */
  vmaStartWrite(mm: MmStruct, vma: number): void {
    const t = mm.vmas;
    const seq = mm.mmLockSeq;
    if (Atomics.load(t.i32, t.vmLockSeqWord(vma)) === seq) return;
    downWrite(t.i32, t.vmLockWord(vma)); // waits for faults that hold it for read
    Atomics.store(t.i32, t.vmLockSeqWord(vma), seq);
    upWrite(t.i32, t.vmLockWord(vma));
  }

  /** mmap_write_unlock() bumps mm_lock_seq itself (vma_end_write_all). */
  vmaEndWriteAll(): void {}

  retireVma(mm: MmStruct, vma: number): void {
    const t = mm.vmas;
    if (Atomics.load(t.i32, t.vmLockSeqWord(vma)) !== mm.mmLockSeq) throw new Error(`per-vma-lock: VMA ${vma} detached without vma_start_write()`);
    this.ctx.rcu.callRcu(() => mm.vmaFree(vma));
  }
}
