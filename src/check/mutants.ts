/**
 * Mutants: each real design with one bug the thread warns about, selectable by name in `mmsplit check`
 * (never in the lab). The checker must catch every one of them; a mutant it cannot catch shows a scenario
 * or an invariant missing.
 *
 *   spf-novalidate      no re-check under the PTE lock: the PTE goes in even if the VMA changed or left
 *   srcu-early-free     munmap frees the VMA at once instead of handing it to call_srcu()
 *   vma-refcount-noinc  pins the VMA with a plain atomic_inc, not refcount_inc_not_zero(): it can revive
 *                       a VMA whose last reference is gone and whose free is already queued
 *   per-vma-lock-noseq  vma_start_read() skips the vm_lock_seq checks, so it read-locks a VMA that the
 *                       current mmap_write_lock section has write-marked and is changing
 *   rcu-fault-sleep     the fault under rcu_read_lock() may sleep (GFP_KERNEL, page-cache reads)
 */
import { SpeculativeFault } from '../designs/common.js';
import type { FaultVma } from '../mm/fault.js';
import { PerVmaLockDesign } from '../designs/per-vma-lock.js';
import { RcuFaultDesign } from '../designs/rcu-fault.js';
import { registerDesign, type DesignInfo } from '../designs/registry.js';
import { SpfDesign } from '../designs/spf.js';
import { SrcuDesign } from '../designs/srcu.js';
import { VmaRefcountDesign } from '../designs/vma-refcount.js';
import type { MmStruct } from '../mm/mm.js';
import { downReadTrylock } from '../sync/rwsem.js';

class NoRevalidation extends SpeculativeFault {
  override revalidate(_v: FaultVma): boolean {
    return true;
  }
}

class SrcuEarlyFree extends SrcuDesign {
  override retireVma(mm: MmStruct, vma: number): void {
    this.retireSeq(mm, vma);
    mm.vmaFree(vma);
  }
}

class VmaRefcountNoInc extends VmaRefcountDesign {
  protected override vmaTryGet(mm: MmStruct, vma: number): boolean {
    Atomics.add(mm.vmas.i32, mm.vmas.refcountWord(vma), 1);
    return true;
  }
}

class PerVmaLockNoSeq extends PerVmaLockDesign {
  protected override vmaStartRead(mm: MmStruct, vma: number): boolean {
    return downReadTrylock(mm.vmas.i32, mm.vmas.vmLockWord(vma));
  }
}

class RcuFaultSleep extends RcuFaultDesign {
  protected override readonly gfpNowait = false;
}

const mutant = (summary: string, make: DesignInfo['make']): DesignInfo => ({ index: 'maple', lockless: true, summary, make });

/** The mutants by name; of: the real design each one breaks. */
export const MUTANTS: Readonly<Record<string, DesignInfo & { of: string }>> = {
  'spf-novalidate': { of: 'spf', ...mutant('spf without the re-check under the PTE lock', (ctx) => new SpfDesign(ctx, 'spf-novalidate', new NoRevalidation(ctx))) },
  'srcu-early-free': { of: 'srcu', ...mutant('srcu freeing removed VMAs without call_srcu', (ctx) => new SrcuEarlyFree(ctx, 'srcu-early-free')) },
  'vma-refcount-noinc': { of: 'vma-refcount', ...mutant('vma-refcount pinning with atomic_inc, not inc_not_zero', (ctx) => new VmaRefcountNoInc(ctx, 'vma-refcount-noinc')) },
  'per-vma-lock-noseq': { of: 'per-vma-lock', ...mutant('per-vma-lock without the vm_lock_seq checks', (ctx) => new PerVmaLockNoSeq(ctx, 'per-vma-lock-noseq')) },
  'rcu-fault-sleep': { of: 'rcu-fault', ...mutant('rcu-fault sleeping inside its RCU section', (ctx) => new RcuFaultSleep(ctx, 'rcu-fault-sleep')) },
};

for (const [name, info] of Object.entries(MUTANTS)) registerDesign(name, info);
