import type { DesignContext, LockingDesign } from '../mm/design.js';
import type { VmaIndexKind } from '../mm/vma-index.js';
import { MmapLockDesign } from './mmap-lock.js';

export interface DesignInfo {
  /** Where the mm keeps its VMAs for this design. */
  readonly index: VmaIndexKind;
  readonly make: (ctx: DesignContext) => LockingDesign;
}

/** The designs by name, as the lab and the checker select them. */
export const DESIGNS: Readonly<Record<string, DesignInfo>> = {
  'mmap-lock': { index: 'maple', make: (ctx) => new MmapLockDesign(ctx, 'mmap-lock') },
  // The same design on the rbtree the kernel used before 6.1: the "before phase 1" point.
  'mmap-lock-rbtree': { index: 'rbtree', make: (ctx) => new MmapLockDesign(ctx, 'mmap-lock-rbtree') },
};

export function designInfo(name: string): DesignInfo {
  const d = DESIGNS[name];
  if (!d) throw new Error(`unknown design '${name}' (have: ${Object.keys(DESIGNS).join(', ')})`);
  return d;
}

export function createDesign(name: string, ctx: DesignContext): LockingDesign {
  return designInfo(name).make(ctx);
}

export { MmapLockDesign };
