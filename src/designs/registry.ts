import type { DesignContext, LockingDesign } from '../mm/design.js';
import type { VmaIndexKind } from '../mm/vma-index.js';
import { MmapLockDesign } from './mmap-lock.js';
import { PerVmaLockDesign } from './per-vma-lock.js';
import { RcuFaultDesign } from './rcu-fault.js';
import { SpfDesign } from './spf.js';
import { SrcuDesign } from './srcu.js';
import { VmaRefcountDesign } from './vma-refcount.js';

export interface DesignInfo {
  /** Where the mm keeps its VMAs for this design. */
  readonly index: VmaIndexKind;
  /** Its faults walk the VMA tree without the mmap_lock: the tree must be in RCU mode. */
  readonly lockless: boolean;
  /** One line for tables and --help. */
  readonly summary: string;
  readonly make: (ctx: DesignContext) => LockingDesign;
}

/** The designs by name, as the lab and the checker select them. */
export const DESIGNS: Readonly<Record<string, DesignInfo>> = {
  'mmap-lock': { index: 'maple', lockless: false, summary: 'the baseline: faults take mmap_lock for read', make: (ctx) => new MmapLockDesign(ctx, 'mmap-lock') },
  // The same design on the rbtree the kernel used before 6.1: the "before phase 1" point.
  'mmap-lock-rbtree': { index: 'rbtree', lockless: false, summary: 'the baseline on the pre-6.1 rbtree', make: (ctx) => new MmapLockDesign(ctx, 'mmap-lock-rbtree') },
  'vma-refcount': { index: 'maple', lockless: true, summary: 'phase 2: VMA found under RCU, pinned by a refcount', make: (ctx) => new VmaRefcountDesign(ctx) },
  'rcu-fault': { index: 'maple', lockless: true, summary: 'phase 3: the whole fault under RCU, GFP_NOWAIT', make: (ctx) => new RcuFaultDesign(ctx, 'rcu-fault') },
  srcu: { index: 'maple', lockless: true, summary: 'the fault under SRCU; munmap frees with call_srcu', make: (ctx) => new SrcuDesign(ctx, 'srcu') },
  'srcu-sync': { index: 'maple', lockless: true, summary: 'the fault under SRCU; munmap waits in synchronize_srcu', make: (ctx) => new SrcuDesign(ctx, 'srcu-sync') },
  spf: { index: 'maple', lockless: true, summary: 'speculative faults validated by a VMA seqcount', make: (ctx) => new SpfDesign(ctx) },
  'per-vma-lock': { index: 'maple', lockless: true, summary: 'Linux 6.4: per-VMA locks, lock_vma_under_rcu', make: (ctx) => new PerVmaLockDesign(ctx) },
};

const others: Record<string, DesignInfo> = {};

/**
 * Makes a design beyond DESIGNS selectable by name (the checker's deliberately broken mutants): every
 * thread that creates or attaches an address space under it must have registered it. The lab never runs it.
 */
export function registerDesign(name: string, info: DesignInfo): void {
  if (DESIGNS[name]) throw new Error(`design '${name}' already exists`);
  others[name] = info;
}

export function designInfo(name: string): DesignInfo {
  const d = DESIGNS[name] ?? others[name];
  if (!d) throw new Error(`unknown design '${name}' (have: ${[...Object.keys(DESIGNS), ...Object.keys(others)].join(', ')})`);
  return d;
}

export function createDesign(name: string, ctx: DesignContext): LockingDesign {
  return designInfo(name).make(ctx);
}

