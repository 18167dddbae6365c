import { MapleTree, type MapleTreeHandle } from '../maple/tree.js';
import { RbTree, type RbTreeHandle } from '../rbtree/tree.js';
import type { Rcu } from '../sync/rcu.js';

/**
 * Where an mm keeps its VMAs, keyed by byte ranges [vm_start, vm_end - 1] with VMA record indices as
 * values: the maple tree (Linux 6.1 on, phase 1 of the thread) or the augmented rbtree it replaced — so
 * that the baseline design can be measured on both. The mm uses the maple tree's normal API.
 */
export interface VmaIndex {
  /** mtree_load(): the value of the range containing index, or 0 (vma_lookup, mas_walk). */
  load(index: number): number;
  /** mt_find(): the first value at or after index, up to max, or 0 (find_vma). */
  findValue(index: number, max?: number): number;
  findRevValue(index: number, min?: number): number;
  /** Stores value over [first, last], trimming or splitting what overlaps; value 0 erases. */
  storeRange(first: number, last: number, value: number): unknown;
  forEach(fn: (first: number, last: number, value: number) => void): void;
  emptyArea(min: number, max: number, size: number): number;
  emptyAreaRev(min: number, max: number, size: number): number;
  validate(): void;
  setInRcu(rcu: Rcu): void;
}

export type VmaIndexKind = 'maple' | 'rbtree';
export type VmaIndexHandle = { index: 'maple'; tree: MapleTreeHandle } | { index: 'rbtree'; tree: RbTreeHandle };

/**
 * The rbtree behind the maple tree's storeRange(): the rbtree only inserts into holes (as the kernel's
 * vma_link did), so a store first erases what overlaps and re-inserts the parts that stay. Readers hold the
 * mmap_lock: the rbtree has no RCU mode.
 */
export class RbVmaIndex implements VmaIndex {
  constructor(readonly rb: RbTree) {}

  load(index: number): number {
    return this.rb.load(index);
  }

  findValue(index: number, max?: number): number {
    return this.rb.findValue(index, max);
  }

  findRevValue(index: number, min?: number): number {
    return this.rb.findRevValue(index, min);
  }

  storeRange(first: number, last: number, value: number): void {
    const rb = this.rb;
    for (let v = rb.findValue(first, last); v !== 0; v = rb.findValue(first, last)) {
      const a = rb.rangeFirst;
      const b = rb.rangeLast;
      rb.erase(a);
      if (a < first) rb.storeRange(a, first - 1, v);
      if (b > last) rb.storeRange(last + 1, b, v);
    }
    if (value !== 0) rb.storeRange(first, last, value);
  }

  forEach(fn: (first: number, last: number, value: number) => void): void {
    this.rb.forEach(fn);
  }

  emptyArea(min: number, max: number, size: number): number {
    return this.rb.emptyArea(min, max, size);
  }

  emptyAreaRev(min: number, max: number, size: number): number {
    return this.rb.emptyAreaRev(min, max, size);
  }

  validate(): void {
    this.rb.validate();
  }

  setInRcu(): void {
    throw new Error('the rbtree has no RCU mode: lockless VMA lookup needs the maple tree');
  }
}

export function createVmaIndex(kind: VmaIndexKind, capacity: number): { index: VmaIndex; handle: VmaIndexHandle } {
  if (kind === 'rbtree') {
    const rb = new RbTree({ capacity, name: 'mm_rb' });
    return { index: new RbVmaIndex(rb), handle: { index: 'rbtree', tree: rb.handle() } };
  }
  const mt = new MapleTree({ allocRange: true, capacity, name: 'mm_mt' });
  return { index: mt, handle: { index: 'maple', tree: mt.handle() } };
}

export function attachVmaIndex(h: VmaIndexHandle): VmaIndex {
  return h.index === 'rbtree' ? new RbVmaIndex(RbTree.attach(h.tree)) : MapleTree.attach(h.tree);
}
