import { UNREACHABLE_WHEN_LOCKED } from '../mm/paths.js';
import { DesignStats, type DesignContext, type DesignDefinition, type LockingDesign } from '../mm/design.js';
import { FaultVma } from '../mm/fault.js';
import type { MmStruct } from '../mm/mm.js';
import { schedPoint } from '../sync/relax.js';
import { downReadTrylock, downWrite, rwsemHeldForRead, rwsemValidateIdle, upRead, upWrite } from '../sync/rwsem.js';
import { faultUnderVmaLock, type VmaReadLocking } from './common.js';

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
export class PerVmaLockDesign implements LockingDesign, VmaReadLocking {
  /** abort: lock_vma_under_rcu failed (vma_lock_abort); miss: found detached and walked again. */
  readonly stats = new DesignStats({ miss: 0, abort: 0 });
  private readonly v = new FaultVma();
  /** Where vm_lock (an rwsem word) and vm_lock_seq live in a VMA record. */
  protected readonly vmLock: number;
  protected readonly vmLockSeq: number;

  constructor(
    private readonly ctx: DesignContext,
    readonly name = 'per-vma-lock',
  ) {
    this.vmLock = ctx.mm.vmas.wordOffset('vmLock');
    this.vmLockSeq = ctx.mm.vmas.wordOffset('vmLockSeq');
  }

  fault(addr: number, flags: number): number {
    return faultUnderVmaLock(this.ctx, this, this.stats, this.v, addr, flags);
  }

  /** The VMA containing addr, read-locked; 0 if none could be locked. */
  lockVmaUnderRcu(addr: number): number {
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
    if (Atomics.load(t.i32, t.word(vma, this.vmLockSeq)) === mm.mmLockSeq) return false;
    if (!downReadTrylock(t.i32, t.word(vma, this.vmLock))) return false;
    if (Atomics.load(t.i32, t.word(vma, this.vmLockSeq)) === mm.mmLockSeq) {
      upRead(t.i32, t.word(vma, this.vmLock));
      return false;
    }
    return true;
  }

  vmaEndRead(vma: number): void {
    const t = this.ctx.mm.vmas;
    upRead(t.i32, t.word(vma, this.vmLock));
  }

  /** Called with the mmap_lock held for write, so mm_lock_seq cannot move under it. */
  vmaStartWrite(mm: MmStruct, vma: number): void {
    const t = mm.vmas;
    const seq = mm.mmLockSeq;
    if (Atomics.load(t.i32, t.word(vma, this.vmLockSeq)) === seq) return;
    downWrite(t.i32, t.word(vma, this.vmLock)); // waits for faults that hold it for read
    Atomics.store(t.i32, t.word(vma, this.vmLockSeq), seq);
    upWrite(t.i32, t.word(vma, this.vmLock));
  }

  /** mmap_write_unlock() bumps mm_lock_seq itself (vma_end_write_all). */
  vmaEndWriteAll(): void {}

  retireVma(mm: MmStruct, vma: number): void {
    this.ctx.rcu.callRcu(() => mm.vmaFree(vma));
  }

  // Lockdep-lite's questions read plainly, not with Atomics: an assertion must not be a yield point of the
  // checker's scheduler (it would change the interleavings it explores).

  /** vma_assert_write_locked(): __is_vma_write_locked — vm_lock_seq is the current mm_lock_seq. */
  vmaIsWriteLocked(mm: MmStruct, vma: number): boolean {
    return mm.vmas.i32[mm.vmas.word(vma, this.vmLockSeq)] === mm.words[mm.mmLockSeqWord];
  }

  /** vma_assert_locked(): someone holds vm_lock for read (lockdep-lite cannot tell who). */
  vmaIsLocked(mm: MmStruct, vma: number): boolean {
    return rwsemHeldForRead(mm.vmas.i32, mm.vmas.word(vma, this.vmLock));
  }
}

/** Mutant: vma_start_read() skips the vm_lock_seq checks, so it read-locks a VMA the writer has marked and is changing. */
class PerVmaLockNoSeq extends PerVmaLockDesign {
  protected override vmaStartRead(mm: MmStruct, vma: number): boolean {
    return downReadTrylock(mm.vmas.i32, mm.vmas.word(vma, this.vmLock));
  }
}

export const perVmaLock: DesignDefinition = {
  name: 'per-vma-lock',
  summary: 'Linux 6.4: per-VMA locks, lock_vma_under_rcu',
  description: 'Linux 6.4: lock_vma_under_rcu, vm_lock_seq against mm_lock_seq',
  color: '#b07aa1',
  lockless: true,
  counters: {
    miss: 'vma_lock_miss: lock_vma_under_rcu found the VMA detached and walked again',
    abort: 'vma_lock_abort: no VMA could be read-locked (none there, write-locked, or outside it): done under the mmap_lock',
  },
  unreachable: UNREACHABLE_WHEN_LOCKED,
  // vm_lock_seq starts at -1: no mm_lock_seq ever equals it, so a new VMA is not write-locked.
  vmaWords: { vmLock: 0, vmLockSeq: -1 },
  quiescentVma: (mm, vma) => {
    try {
      rwsemValidateIdle(mm.vmas.i32, mm.vmas.word(vma, mm.vmas.wordOffset('vmLock')), 'vm_lock');
    } catch (e) {
      return (e as Error).message;
    }
    return undefined;
  },
  mutants: {
    'per-vma-lock-noseq': { summary: 'per-vma-lock without the vm_lock_seq checks', make: (ctx) => new PerVmaLockNoSeq(ctx, 'per-vma-lock-noseq') },
  },
  make: (ctx) => new PerVmaLockDesign(ctx),
};
