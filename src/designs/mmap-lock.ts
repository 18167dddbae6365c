import { UNREACHABLE_WHEN_LOCKED } from '../mm/paths.js';
import { DesignStats, type DesignContext, type DesignDefinition, type LockingDesign } from '../mm/design.js';
import type { MmStruct } from '../mm/mm.js';
import type { VmaIndexKind } from '../mm/vma-index.js';
import { faultUnderMmapLock } from './common.js';

/**
 * The baseline of the thread: every page fault takes the mm-wide mmap_lock for read, so it excludes every
 * mmap/munmap/mprotect/mremap (which take it for write) for as long as it runs — including while it
 * sleeps for I/O. Nothing a fault sees can change under it; nothing removed can still be in use by one.
 *
 *   fault:   mmap_read_lock(mm); vma = find_vma(mm, addr); handle_mm_fault(vma, addr); mmap_read_unlock(mm)
 *   munmap:  mmap_write_lock(mm); detach; zap; free VMAs at once; mmap_write_unlock(mm)
 */
export class MmapLockDesign implements LockingDesign {
  readonly stats = new DesignStats();

  constructor(
    private readonly ctx: DesignContext,
    readonly name = 'mmap-lock',
  ) {}

  fault(addr: number, flags: number): number {
    return faultUnderMmapLock(this.ctx, addr, flags);
  }

  /** The writer holds the mmap_lock for write: no fault runs, nothing to mark. */
  vmaStartWrite(): void {}

  vmaEndWriteAll(): void {}

  /** No fault can hold a VMA the writer removed under the write lock: free it at once. */
  retireVma(mm: MmStruct, vma: number): void {
    mm.vmaFree(vma);
  }
}

/** The baseline, with its VMAs in `index`. */
function mmapLockDefinition(name: string, index: VmaIndexKind, summary: string, description: string, color: string): DesignDefinition {
  return { name, summary, description, baseline: true, color, index, lockless: false, unreachable: UNREACHABLE_WHEN_LOCKED, make: (ctx) => new MmapLockDesign(ctx, name) };
}

export const mmapLock = mmapLockDefinition(
  'mmap-lock', 'maple', 'the baseline: faults take mmap_lock for read',
  'every fault under down_read(&mm->mmap_lock); VMAs in the maple tree (phase 1)', '#4a4a4a',
);

/** The same design on the rbtree the kernel used before 6.1: the "before phase 1" point. */
export const mmapLockRbtree = mmapLockDefinition(
  'mmap-lock-rbtree', 'rbtree', 'the baseline on the pre-6.1 rbtree',
  'the same, with the augmented rbtree Linux used before 6.1', '#a8a8a8',
);
