import { sharedBuffer } from '../shm/buffers.js';
import { Arena, type ArenaHandle } from '../shm/arena.js';
import { RB, RB_BLACK, RB_MAX, RB_NODE, RB_RED } from './layout.js';
import * as uapi from '../mm/uapi.js';

/** -EEXIST, what insertRange returns when part of the range is occupied. */
export const EEXIST = -uapi.EEXIST;

export interface RbEntry {
  first: number;
  last: number;
  value: number;
}

export interface RbTreeOptions {
  /** Nodes in the arena (record 0 is reserved for NULL). Default 16384 (64 bytes each). */
  capacity?: number;
  /** Poison freed nodes (the arena's debug mode). */
  debug?: boolean;
  /** Name shown in errors. */
  name?: string;
  /** Attach to an existing tree instead of creating one (what RbTree.attach does). */
  attach?: RbTreeHandle;
}

/** What a worker needs to attach to a tree (post it in workerData). */
export interface RbTreeHandle {
  readonly kind: 'mmsplit.rbtree';
  readonly name: string;
  readonly header: SharedArrayBuffer;
  readonly arena: ArenaHandle;
}

export class RbTreeError extends Error {
  override name = 'RbTreeError';
}

// Header words (Int32, shared): mm->mm_rb, map_count, mm->mmap and the highest VMA.
const enum HD {
  ROOT = 0,
  SIZE = 1,
  FIRST = 2, // lowest node (mm->mmap, the head of the vm_next list)
  LAST = 3, // highest node (its last + 1 is mm->highest_vm_end)
  WORDS = 4,
}

/**
 * The augmented red-black tree the kernel kept VMAs in before 6.1 (mm->mm_rb): lib/rbtree.c's insert and
 * erase with the RB_DECLARE_CALLBACKS_MAX callbacks of mm/mmap.c (vma_gap_callbacks), over disjoint ranges
 * [first, last] of [0, 2^53 - 1], each holding a positive 31-bit value. Nodes are records of an Arena in a
 * SharedArrayBuffer, so workers can attach and look up.
 *
 * Gap convention (mm/mmap.c vma_compute_gap, with inclusive indices): a node's `gap` is the number of free
 * indices just below it, first - (prev ? prev.last + 1 : 0), i.e. the hole [prev.last + 1, first - 1]
 * (for the lowest node, [0, first - 1]); its `subtreeGap` (rb_subtree_gap) is the largest gap in its
 * subtree. The hole above the highest node, [last + 1, 2^53 - 1], belongs to no node — the kernel's
 * mm->highest_vm_end — and the gap searches look at it separately, as unmapped_area{,_topdown} do.
 * Each node also links to its neighbours (vm_prev / vm_next), so a node's gap and the successor whose gap
 * an insert or erase changes are found in O(1).
 *
 * Concurrency: one writer at a time; readers (load, find, emptyArea, entries …, on any thread) must hold the
 * caller's lock against the writer — the rbtree is not RCU-safe (that is the point of the maple tree), so
 * plain typed-array reads and writes suffice and the lock's atomics order them.
 */
export class RbTree {
  readonly name: string;
  readonly arena: Arena;
  private readonly header: SharedArrayBuffer;
  private readonly hdr: Int32Array;
  private readonly f64: Float64Array;
  private readonly i32: Int32Array;

  /** The range of the entry found by the last findValue()/findRevValue()/walk() of this object. */
  rangeFirst = 0;
  rangeLast = 0;
  /** Nodes visited by the last emptyArea()/emptyAreaRev() of this object (to check they stay O(log n)). */
  searchSteps = 0;

  constructor(opts: RbTreeOptions = {}) {
    const h = opts.attach;
    if (h !== undefined) {
      if (h?.kind !== 'mmsplit.rbtree') throw new RbTreeError('not an rbtree handle');
      this.name = h.name;
      this.arena = Arena.attach(h.arena);
      this.header = h.header;
    } else {
      const capacity = opts.capacity ?? 16384;
      if (!Number.isInteger(capacity) || capacity < 2 || capacity >= 2 ** 31) {
        throw new RbTreeError('rbtree: capacity must be an integer in [2, 2^31)');
      }
      this.name = opts.name ?? 'rbtree';
      this.arena = Arena.create({ name: `${this.name}.rb_node`, capacity, layout: RB_NODE, debug: opts.debug ?? false });
      this.header = sharedBuffer(4 * HD.WORDS);
    }
    this.hdr = new Int32Array(this.header);
    this.f64 = this.arena.f64;
    this.i32 = this.arena.i32;
  }

  static create(opts: Omit<RbTreeOptions, 'attach'> = {}): RbTree {
    return new RbTree(opts);
  }

  /** Attaches to a tree created on another thread (readers must hold the caller's lock). */
  static attach(handle: RbTreeHandle): RbTree {
    return new RbTree({ attach: handle });
  }

  handle(): RbTreeHandle {
    return { kind: 'mmsplit.rbtree', name: this.name, header: this.header, arena: this.arena.handle() };
  }

  /** Entries in the tree (map_count). */
  get size(): number {
    return this.hdr[HD.SIZE]!;
  }

  /** Nodes on the longest root-to-leaf path (0 when empty); an O(n) walk, for statistics and tests. */
  get height(): number {
    return this.depth(this.hdr[HD.ROOT]!);
  }

  private depth(n: number): number {
    if (n === 0) return 0;
    const i32 = this.i32;
    const a = this.depth(i32[n * RB.I32 + RB.LEFT]!);
    const b = this.depth(i32[n * RB.I32 + RB.RIGHT]!);
    return 1 + (a > b ? a : b);
  }

  // ======================================================================================== readers

  /** The node whose range contains `index`, or 0 (find_vma_intersection for one index). */
  private lookup(index: number): number {
    const f64 = this.f64;
    const i32 = this.i32;
    let n = this.hdr[HD.ROOT]!;
    while (n !== 0) {
      if (index < f64[n * RB.F64 + RB.FIRST]!) n = i32[n * RB.I32 + RB.LEFT]!;
      else if (index > f64[n * RB.F64 + RB.LAST]!) n = i32[n * RB.I32 + RB.RIGHT]!;
      else return n;
    }
    return 0;
  }

  /** The value whose range contains `index`, or 0. */
  load(index: number): number {
    if (!(index >= 0 && index <= RB_MAX)) return 0;
    const n = this.lookup(index);
    return n === 0 ? 0 : this.i32[n * RB.I32 + RB.VALUE]!;
  }

  /** Like load, and sets rangeFirst/rangeLast to the entry's range (left alone when there is none). */
  walk(index: number): number {
    if (!(index >= 0 && index <= RB_MAX)) return 0;
    const n = this.lookup(index);
    if (n === 0) return 0;
    this.rangeFirst = this.f64[n * RB.F64 + RB.FIRST]!;
    this.rangeLast = this.f64[n * RB.F64 + RB.LAST]!;
    return this.i32[n * RB.I32 + RB.VALUE]!;
  }

  /**
   * find_vma(): the value of the first entry ending at or after `index` and starting at or before `max`,
   * or 0; its range is left in rangeFirst/rangeLast. Allocates nothing.
   */
  findValue(index: number, max: number = RB_MAX): number {
    if (!(index >= 0 && index <= RB_MAX)) return 0;
    const f64 = this.f64;
    const i32 = this.i32;
    let n = this.hdr[HD.ROOT]!;
    let best = 0;
    while (n !== 0) {
      if (f64[n * RB.F64 + RB.LAST]! >= index) {
        best = n;
        if (f64[n * RB.F64 + RB.FIRST]! <= index) break;
        n = i32[n * RB.I32 + RB.LEFT]!;
      } else {
        n = i32[n * RB.I32 + RB.RIGHT]!;
      }
    }
    if (best === 0 || f64[best * RB.F64 + RB.FIRST]! > max) return 0;
    this.rangeFirst = f64[best * RB.F64 + RB.FIRST]!;
    this.rangeLast = f64[best * RB.F64 + RB.LAST]!;
    return i32[best * RB.I32 + RB.VALUE]!;
  }

  /** The first entry ending at or after `index` and starting at or before `max`, or undefined. */
  find(index: number, max: number = RB_MAX): RbEntry | undefined {
    const v = this.findValue(index, max);
    return v === 0 ? undefined : { first: this.rangeFirst, last: this.rangeLast, value: v };
  }

  /** The value of the last entry starting at or before `index` and ending at or after `min`, or 0. */
  findRevValue(index: number, min = 0): number {
    if (!(index >= 0)) return 0;
    if (index > RB_MAX) index = RB_MAX;
    const f64 = this.f64;
    const i32 = this.i32;
    let n = this.hdr[HD.ROOT]!;
    let best = 0;
    while (n !== 0) {
      if (f64[n * RB.F64 + RB.FIRST]! <= index) {
        best = n;
        if (f64[n * RB.F64 + RB.LAST]! >= index) break;
        n = i32[n * RB.I32 + RB.RIGHT]!;
      } else {
        n = i32[n * RB.I32 + RB.LEFT]!;
      }
    }
    if (best === 0 || f64[best * RB.F64 + RB.LAST]! < min) return 0;
    this.rangeFirst = f64[best * RB.F64 + RB.FIRST]!;
    this.rangeLast = f64[best * RB.F64 + RB.LAST]!;
    return i32[best * RB.I32 + RB.VALUE]!;
  }

  /** The last entry starting at or before `index` and ending at or after `min`, or undefined. */
  findRev(index: number, min = 0): RbEntry | undefined {
    const v = this.findRevValue(index, min);
    return v === 0 ? undefined : { first: this.rangeFirst, last: this.rangeLast, value: v };
  }

  /** Calls fn for each entry overlapping [from, to], in index order (the vm_next list). */
  forEach(fn: (first: number, last: number, value: number) => void, from = 0, to: number = RB_MAX): void {
    const f64 = this.f64;
    const i32 = this.i32;
    if (this.findValue(from, to) === 0) return;
    let n = this.lookup(this.rangeFirst);
    while (n !== 0 && f64[n * RB.F64 + RB.FIRST]! <= to) {
      fn(f64[n * RB.F64 + RB.FIRST]!, f64[n * RB.F64 + RB.LAST]!, i32[n * RB.I32 + RB.VALUE]!);
      n = i32[n * RB.I32 + RB.NEXT]!;
    }
  }

  /** Every entry in index order. */
  *entries(): IterableIterator<RbEntry> {
    const f64 = this.f64;
    const i32 = this.i32;
    for (let n = this.hdr[HD.FIRST]!; n !== 0; n = i32[n * RB.I32 + RB.NEXT]!) {
      yield { first: f64[n * RB.F64 + RB.FIRST]!, last: f64[n * RB.F64 + RB.LAST]!, value: i32[n * RB.I32 + RB.VALUE]! };
    }
  }

  [Symbol.iterator](): IterableIterator<RbEntry> {
    return this.entries();
  }

  /**
   * unmapped_area_topdown(): the highest s such that [s, s + size - 1] is empty and within [min, max], or -1.
   *
   * Checks the hole above the highest node first (mm->highest_vm_end), then walks the tree in descending
   * address order — right subtree, the node's own gap, left subtree — entering a subtree only if its
   * rb_subtree_gap can hold `size` and (right side) its holes can start low enough; it stops at the first
   * hole that ends below min + size - 1, since all later ones are lower. At most the two holes that straddle
   * min or max are too small once clipped, so this is O(log n).
   */
  emptyAreaRev(min: number, max: number, size: number): number {
    this.searchSteps = 0;
    if (!(min >= 0 && min <= max && max <= RB_MAX && size >= 1) || max - min + 1 < size) return -1;
    const hiS = max - size + 1; // highest allowed start
    const loE = min + size - 1; // lowest allowed end
    const hdr = this.hdr;
    const root = hdr[HD.ROOT]!;
    if (root === 0) return hiS;
    const f64 = this.f64;
    const i32 = this.i32;
    const top = hdr[HD.LAST]!;
    const topLast = f64[top * RB.F64 + RB.LAST]!;
    if (topLast < RB_MAX && topLast + 1 <= hiS) return hiS; // the hole [topLast + 1, RB_MAX] covers [hiS, max]
    if (f64[root * RB.F64 + RB.SUBTREE_GAP]! < size) return -1;
    let n = root;
    let descend = true;
    let steps = 0;
    for (;;) {
      this.searchSteps = ++steps;
      if (descend) {
        // The right subtree's holes start at last + 1 or above.
        const r = i32[n * RB.I32 + RB.RIGHT]!;
        if (r !== 0 && f64[n * RB.F64 + RB.LAST]! + 1 <= hiS && f64[r * RB.F64 + RB.SUBTREE_GAP]! >= size) {
          n = r;
          continue;
        }
      }
      // check_current: the hole [a, b] below n.
      const first = f64[n * RB.F64 + RB.FIRST]!;
      const b = first - 1;
      if (b < loE) return -1;
      const a = first - f64[n * RB.F64 + RB.GAP]!;
      if (a <= hiS) {
        const s = (b < max ? b : max) - size + 1;
        if (s >= a) return s; // and s >= min, since b >= loE
      }
      const l = i32[n * RB.I32 + RB.LEFT]!;
      if (l !== 0 && f64[l * RB.F64 + RB.SUBTREE_GAP]! >= size) {
        n = l;
        descend = true;
        continue;
      }
      // Back up until we leave a right subtree: that parent's own hole and left subtree come next.
      for (;;) {
        this.searchSteps = ++steps;
        const p = i32[n * RB.I32 + RB.PARENT]!;
        if (p === 0) return -1;
        const fromRight = i32[p * RB.I32 + RB.RIGHT] === n;
        n = p;
        if (fromRight) break;
      }
      descend = false;
    }
  }

  /**
   * unmapped_area(): the lowest s >= min such that [s, s + size - 1] is empty and within [min, max], or -1.
   * The mirror of emptyAreaRev: left subtree, own gap, right subtree, then the hole above the highest node.
   */
  emptyArea(min: number, max: number, size: number): number {
    this.searchSteps = 0;
    if (!(min >= 0 && min <= max && max <= RB_MAX && size >= 1) || max - min + 1 < size) return -1;
    const hiS = max - size + 1;
    const loE = min + size - 1;
    const hdr = this.hdr;
    const root = hdr[HD.ROOT]!;
    if (root === 0) return min;
    const f64 = this.f64;
    const i32 = this.i32;
    if (f64[root * RB.F64 + RB.SUBTREE_GAP]! >= size) {
      let n = root;
      let descend = true;
      let steps = 0;
      walk: for (;;) {
        this.searchSteps = ++steps;
        if (descend) {
          // The left subtree's holes end at prev.first - 1 or below (prev is that subtree's highest node).
          const l = i32[n * RB.I32 + RB.LEFT]!;
          if (
            l !== 0 &&
            f64[l * RB.F64 + RB.SUBTREE_GAP]! >= size &&
            f64[i32[n * RB.I32 + RB.PREV]! * RB.F64 + RB.FIRST]! - 1 >= loE
          ) {
            n = l;
            continue;
          }
        }
        const first = f64[n * RB.F64 + RB.FIRST]!;
        const a = first - f64[n * RB.F64 + RB.GAP]!;
        if (a > hiS) return -1; // this hole and all later ones start too high
        const b = first - 1;
        if (b >= loE) {
          const s = a > min ? a : min;
          // Not s + size - 1 <= e: that sum can pass 2^53 and round.
          if (s <= (b < max ? b : max) - size + 1) return s;
        }
        const r = i32[n * RB.I32 + RB.RIGHT]!;
        if (r !== 0 && f64[r * RB.F64 + RB.SUBTREE_GAP]! >= size) {
          n = r;
          descend = true;
          continue;
        }
        for (;;) {
          this.searchSteps = ++steps;
          const p = i32[n * RB.I32 + RB.PARENT]!;
          if (p === 0) break walk;
          const fromLeft = i32[p * RB.I32 + RB.LEFT] === n;
          n = p;
          if (fromLeft) break;
        }
        descend = false;
      }
    }
    const topLast = f64[hdr[HD.LAST]! * RB.F64 + RB.LAST]!;
    if (topLast === RB_MAX) return -1;
    const s = topLast + 1 > min ? topLast + 1 : min;
    return s <= hiS ? s : -1;
  }

  // ======================================================================================== writers

  /** Stores `value` over [first, last], which must be empty (the VMA code only inserts into holes). */
  storeRange(first: number, last: number, value: number): void {
    checkRange(first, last);
    checkValue(value);
    if (this.link(first, last, value) !== 0) {
      throw new RbTreeError(`${this.name}: storeRange [${first}, ${last}] overlaps an entry`);
    }
  }

  store(index: number, value: number): void {
    this.storeRange(index, index, value);
  }

  /** Stores only if [first, last] is wholly empty: 0, or EEXIST (-17). Throws if the arena is full. */
  insertRange(first: number, last: number, value: number): number {
    checkRange(first, last);
    checkValue(value);
    return this.link(first, last, value);
  }

  /** Removes the whole entry containing `index`; returns its value, or 0. */
  erase(index: number): number {
    if (!(index >= 0 && index <= RB_MAX)) return 0;
    const n = this.lookup(index);
    if (n === 0) return 0;
    const f64 = this.f64;
    const i32 = this.i32;
    const hdr = this.hdr;
    const value = i32[n * RB.I32 + RB.VALUE]!;
    const prev = i32[n * RB.I32 + RB.PREV]!;
    const next = i32[n * RB.I32 + RB.NEXT]!;
    this.rbErase(n);
    // __vma_unlink_list, then vma_gap_update(next): next's hole now reaches down to prev.
    if (prev !== 0) i32[prev * RB.I32 + RB.NEXT] = next;
    else hdr[HD.FIRST] = next;
    if (next !== 0) {
      i32[next * RB.I32 + RB.PREV] = prev;
      f64[next * RB.F64 + RB.GAP] = f64[next * RB.F64 + RB.FIRST]! - (prev !== 0 ? f64[prev * RB.F64 + RB.LAST]! + 1 : 0);
      this.propagate(next, 0);
    } else {
      hdr[HD.LAST] = prev;
    }
    hdr[HD.SIZE] = hdr[HD.SIZE]! - 1;
    this.arena.free(n);
    return value;
  }

  /** Removes every entry. */
  clear(): void {
    const i32 = this.i32;
    let n = this.hdr[HD.FIRST]!;
    while (n !== 0) {
      const next = i32[n * RB.I32 + RB.NEXT]!;
      this.arena.free(n);
      n = next;
    }
    this.hdr.fill(0);
  }

  /** vma_link(): find the hole, link the node as a leaf and into the list, fix the gaps, rebalance. */
  private link(first: number, last: number, value: number): number {
    const f64 = this.f64;
    const i32 = this.i32;
    const hdr = this.hdr;
    let parent = 0;
    let left = false;
    let prev = 0;
    let next = 0;
    // find_vma_links(): the last node we went right from is the predecessor, the last we went left from
    // the successor; meeting a node that overlaps means the range is not a hole.
    for (let n = hdr[HD.ROOT]!; n !== 0; ) {
      parent = n;
      if (last < f64[n * RB.F64 + RB.FIRST]!) {
        next = n;
        left = true;
        n = i32[n * RB.I32 + RB.LEFT]!;
      } else if (first > f64[n * RB.F64 + RB.LAST]!) {
        prev = n;
        left = false;
        n = i32[n * RB.I32 + RB.RIGHT]!;
      } else {
        return EEXIST;
      }
    }
    const node = this.arena.alloc();
    if (node < 0) throw new RbTreeError(`${this.name}: out of nodes (ENOMEM), capacity ${this.arena.capacity}`);
    const fb = node * RB.F64;
    const ib = node * RB.I32;
    const gap = first - (prev !== 0 ? f64[prev * RB.F64 + RB.LAST]! + 1 : 0);
    f64[fb + RB.FIRST] = first;
    f64[fb + RB.LAST] = last;
    f64[fb + RB.GAP] = gap;
    f64[fb + RB.SUBTREE_GAP] = gap;
    i32[ib + RB.PARENT] = parent;
    i32[ib + RB.LEFT] = 0;
    i32[ib + RB.RIGHT] = 0;
    i32[ib + RB.COLOR] = RB_RED;
    i32[ib + RB.VALUE] = value;
    i32[ib + RB.PREV] = prev;
    i32[ib + RB.NEXT] = next;
    if (parent === 0) hdr[HD.ROOT] = node;
    else i32[parent * RB.I32 + (left ? RB.LEFT : RB.RIGHT)] = node;
    if (prev !== 0) i32[prev * RB.I32 + RB.NEXT] = node;
    else hdr[HD.FIRST] = node;
    if (next !== 0) i32[next * RB.I32 + RB.PREV] = node;
    else hdr[HD.LAST] = node;
    // The new leaf's gap may raise its ancestors' subtree gaps (vma_gap_update(vma)); the successor's gap
    // shrank (vma_gap_update(vma->vm_next)). Both neighbours are ancestors of the leaf. Each propagate stops
    // where a value does not change, which is safe in either order: every node off the two paths is right.
    this.propagate(parent, 0);
    if (next !== 0) {
      f64[next * RB.F64 + RB.GAP] = f64[next * RB.F64 + RB.FIRST]! - (last + 1);
      this.propagate(next, 0);
    }
    this.insertColor(node);
    hdr[HD.SIZE] = hdr[HD.SIZE]! + 1;
    return 0;
  }

  // ------------------------------------------------------------------ augmented callbacks (mm/mmap.c)

  /** vma_compute_subtree_gap(): max of the node's own gap and its children's subtree gaps. */
  private compute(n: number): number {
    const f64 = this.f64;
    const i32 = this.i32;
    let max = f64[n * RB.F64 + RB.GAP]!;
    const l = i32[n * RB.I32 + RB.LEFT]!;
    const r = i32[n * RB.I32 + RB.RIGHT]!;
    if (l !== 0 && f64[l * RB.F64 + RB.SUBTREE_GAP]! > max) max = f64[l * RB.F64 + RB.SUBTREE_GAP]!;
    if (r !== 0 && f64[r * RB.F64 + RB.SUBTREE_GAP]! > max) max = f64[r * RB.F64 + RB.SUBTREE_GAP]!;
    return max;
  }

  /** propagate: recompute upwards from n until `stop`, or until a node's value does not change. */
  private propagate(n: number, stop: number): void {
    const f64 = this.f64;
    const i32 = this.i32;
    while (n !== stop) {
      const v = this.compute(n);
      if (f64[n * RB.F64 + RB.SUBTREE_GAP] === v) break;
      f64[n * RB.F64 + RB.SUBTREE_GAP] = v;
      n = i32[n * RB.I32 + RB.PARENT]!;
    }
  }

  /** rotate: `nw` took `old`'s place, so it takes its subtree gap; old's is recomputed. */
  private augRotate(old: number, nw: number): void {
    const f64 = this.f64;
    f64[nw * RB.F64 + RB.SUBTREE_GAP] = f64[old * RB.F64 + RB.SUBTREE_GAP]!;
    f64[old * RB.F64 + RB.SUBTREE_GAP] = this.compute(old);
  }

  // ------------------------------------------------------------------ lib/rbtree.c

  private changeChild(old: number, nw: number, parent: number): void {
    const i32 = this.i32;
    if (parent === 0) this.hdr[HD.ROOT] = nw;
    else if (i32[parent * RB.I32 + RB.LEFT] === old) i32[parent * RB.I32 + RB.LEFT] = nw;
    else i32[parent * RB.I32 + RB.RIGHT] = nw;
  }

  /** __rb_rotate_set_parents(): nw takes old's parent and colour; old hangs below nw with `color`. */
  private rotateSetParents(old: number, nw: number, color: number): void {
    const i32 = this.i32;
    const parent = i32[old * RB.I32 + RB.PARENT]!;
    i32[nw * RB.I32 + RB.PARENT] = parent;
    i32[nw * RB.I32 + RB.COLOR] = i32[old * RB.I32 + RB.COLOR]!;
    i32[old * RB.I32 + RB.PARENT] = nw;
    i32[old * RB.I32 + RB.COLOR] = color;
    this.changeChild(old, nw, parent);
  }

  private setParentColor(n: number, parent: number, color: number): void {
    this.i32[n * RB.I32 + RB.PARENT] = parent;
    this.i32[n * RB.I32 + RB.COLOR] = color;
  }

  /** __rb_insert(): rebalance after linking the red leaf `node`. */
  private insertColor(node: number): void {
    const i32 = this.i32;
    const P = RB.PARENT;
    const L = RB.LEFT;
    const R = RB.RIGHT;
    const C = RB.COLOR;
    const S = RB.I32;
    let parent = i32[node * S + P]!;
    for (;;) {
      // Loop invariant: node is red.
      if (parent === 0) {
        // The inserted node is root (or case 1 recursed up to it): make it black.
        i32[node * S + C] = RB_BLACK;
        break;
      }
      // A black parent: nothing to do (the new red node breaks no rule).
      if (i32[parent * S + C] === RB_BLACK) break;
      const gparent = i32[parent * S + P]!;
      let tmp = i32[gparent * S + R]!;
      if (parent !== tmp) {
        // parent === gparent.left
        if (tmp !== 0 && i32[tmp * S + C] === RB_RED) {
          // Case 1 — colour flips: uncle and parent black, gparent red, recurse at gparent.
          i32[tmp * S + C] = RB_BLACK;
          i32[parent * S + C] = RB_BLACK;
          node = gparent;
          parent = i32[node * S + P]!;
          i32[node * S + C] = RB_RED;
          continue;
        }
        tmp = i32[parent * S + R]!;
        if (node === tmp) {
          // Case 2 — node is the right child: left rotate at parent, becomes case 3.
          tmp = i32[node * S + L]!;
          i32[parent * S + R] = tmp;
          i32[node * S + L] = parent;
          if (tmp !== 0) this.setParentColor(tmp, parent, RB_BLACK);
          this.setParentColor(parent, node, RB_RED);
          this.augRotate(parent, node);
          parent = node;
          tmp = i32[node * S + R]!;
        }
        // Case 3 — right rotate at gparent.
        i32[gparent * S + L] = tmp;
        i32[parent * S + R] = gparent;
        if (tmp !== 0) this.setParentColor(tmp, gparent, RB_BLACK);
        this.rotateSetParents(gparent, parent, RB_RED);
        this.augRotate(gparent, parent);
        break;
      } else {
        tmp = i32[gparent * S + L]!;
        if (tmp !== 0 && i32[tmp * S + C] === RB_RED) {
          i32[tmp * S + C] = RB_BLACK;
          i32[parent * S + C] = RB_BLACK;
          node = gparent;
          parent = i32[node * S + P]!;
          i32[node * S + C] = RB_RED;
          continue;
        }
        tmp = i32[parent * S + L]!;
        if (node === tmp) {
          tmp = i32[node * S + R]!;
          i32[parent * S + L] = tmp;
          i32[node * S + R] = parent;
          if (tmp !== 0) this.setParentColor(tmp, parent, RB_BLACK);
          this.setParentColor(parent, node, RB_RED);
          this.augRotate(parent, node);
          parent = node;
          tmp = i32[node * S + L]!;
        }
        i32[gparent * S + R] = tmp;
        i32[parent * S + L] = gparent;
        if (tmp !== 0) this.setParentColor(tmp, gparent, RB_BLACK);
        this.rotateSetParents(gparent, parent, RB_RED);
        this.augRotate(gparent, parent);
        break;
      }
    }
  }

  /** __rb_erase_augmented() then __rb_erase_color(): unlink `node` from the tree and rebalance. */
  private rbErase(node: number): void {
    const i32 = this.i32;
    const f64 = this.f64;
    const P = RB.PARENT;
    const L = RB.LEFT;
    const R = RB.RIGHT;
    const C = RB.COLOR;
    const S = RB.I32;
    const child = i32[node * S + R]!;
    let tmp = i32[node * S + L]!;
    let rebalance: number;
    if (tmp === 0) {
      // Case 1: at most one child (the right one). If there is one it is red and node black: recolour.
      const parent = i32[node * S + P]!;
      const pc = i32[node * S + C]!;
      this.changeChild(node, child, parent);
      if (child !== 0) {
        this.setParentColor(child, parent, pc);
        rebalance = 0;
      } else {
        rebalance = pc === RB_BLACK ? parent : 0;
      }
      tmp = parent;
    } else if (child === 0) {
      // Still case 1, with the left child.
      const parent = i32[node * S + P]!;
      this.setParentColor(tmp, parent, i32[node * S + C]!);
      this.changeChild(node, tmp, parent);
      rebalance = 0;
      tmp = parent;
    } else {
      let successor = child;
      let parent: number;
      let child2: number;
      tmp = i32[child * S + L]!;
      if (tmp === 0) {
        // Case 2: node's successor is its right child.
        parent = successor;
        child2 = i32[successor * S + R]!;
        f64[successor * RB.F64 + RB.SUBTREE_GAP] = f64[node * RB.F64 + RB.SUBTREE_GAP]!; // augment copy
      } else {
        // Case 3: node's successor is leftmost under node's right child.
        do {
          parent = successor;
          successor = tmp;
          tmp = i32[tmp * S + L]!;
        } while (tmp !== 0);
        child2 = i32[successor * S + R]!;
        i32[parent * S + L] = child2;
        i32[successor * S + R] = child;
        i32[child * S + P] = successor;
        f64[successor * RB.F64 + RB.SUBTREE_GAP] = f64[node * RB.F64 + RB.SUBTREE_GAP]!;
        this.propagate(parent, successor);
      }
      tmp = i32[node * S + L]!;
      i32[successor * S + L] = tmp;
      i32[tmp * S + P] = successor;
      const np = i32[node * S + P]!;
      const nc = i32[node * S + C]!;
      this.changeChild(node, successor, np);
      if (child2 !== 0) {
        this.setParentColor(child2, parent, RB_BLACK);
        rebalance = 0;
      } else {
        rebalance = i32[successor * S + C] === RB_BLACK ? parent : 0;
      }
      this.setParentColor(successor, np, nc);
      tmp = successor;
    }
    this.propagate(tmp, 0);
    if (rebalance !== 0) this.eraseColor(rebalance);
  }

  /** ____rb_erase_color(): paths through `parent` on the erased side lack one black node; fix that. */
  private eraseColor(parent: number): void {
    const i32 = this.i32;
    const P = RB.PARENT;
    const L = RB.LEFT;
    const R = RB.RIGHT;
    const C = RB.COLOR;
    const S = RB.I32;
    let node = 0;
    for (;;) {
      // Invariants: node is black (or NULL the first time), node is not the root, and every path through
      // parent and node has one black node fewer than the others.
      let sibling = i32[parent * S + R]!;
      if (node !== sibling) {
        // node === parent.left
        let tmp1: number;
        let tmp2: number;
        if (i32[sibling * S + C] === RB_RED) {
          // Case 1 — left rotate at parent.
          tmp1 = i32[sibling * S + L]!;
          i32[parent * S + R] = tmp1;
          i32[sibling * S + L] = parent;
          this.setParentColor(tmp1, parent, RB_BLACK);
          this.rotateSetParents(parent, sibling, RB_RED);
          this.augRotate(parent, sibling);
          sibling = tmp1;
        }
        tmp1 = i32[sibling * S + R]!;
        if (tmp1 === 0 || i32[tmp1 * S + C] === RB_BLACK) {
          tmp2 = i32[sibling * S + L]!;
          if (tmp2 === 0 || i32[tmp2 * S + C] === RB_BLACK) {
            // Case 2 — sibling colour flip (parent may be either colour).
            i32[sibling * S + C] = RB_RED;
            if (i32[parent * S + C] === RB_RED) {
              i32[parent * S + C] = RB_BLACK;
            } else {
              node = parent;
              parent = i32[node * S + P]!;
              if (parent !== 0) continue;
            }
            break;
          }
          // Case 3 — right rotate at sibling.
          tmp1 = i32[tmp2 * S + R]!;
          i32[sibling * S + L] = tmp1;
          i32[tmp2 * S + R] = sibling;
          i32[parent * S + R] = tmp2;
          if (tmp1 !== 0) this.setParentColor(tmp1, sibling, RB_BLACK);
          this.augRotate(sibling, tmp2);
          tmp1 = sibling;
          sibling = tmp2;
        }
        // Case 4 — left rotate at parent and colour flip.
        tmp2 = i32[sibling * S + L]!;
        i32[parent * S + R] = tmp2;
        i32[sibling * S + L] = parent;
        this.setParentColor(tmp1, sibling, RB_BLACK);
        if (tmp2 !== 0) i32[tmp2 * S + P] = parent;
        this.rotateSetParents(parent, sibling, RB_BLACK);
        this.augRotate(parent, sibling);
        break;
      } else {
        sibling = i32[parent * S + L]!;
        let tmp1: number;
        let tmp2: number;
        if (i32[sibling * S + C] === RB_RED) {
          // Case 1 — right rotate at parent.
          tmp1 = i32[sibling * S + R]!;
          i32[parent * S + L] = tmp1;
          i32[sibling * S + R] = parent;
          this.setParentColor(tmp1, parent, RB_BLACK);
          this.rotateSetParents(parent, sibling, RB_RED);
          this.augRotate(parent, sibling);
          sibling = tmp1;
        }
        tmp1 = i32[sibling * S + L]!;
        if (tmp1 === 0 || i32[tmp1 * S + C] === RB_BLACK) {
          tmp2 = i32[sibling * S + R]!;
          if (tmp2 === 0 || i32[tmp2 * S + C] === RB_BLACK) {
            // Case 2 — sibling colour flip.
            i32[sibling * S + C] = RB_RED;
            if (i32[parent * S + C] === RB_RED) {
              i32[parent * S + C] = RB_BLACK;
            } else {
              node = parent;
              parent = i32[node * S + P]!;
              if (parent !== 0) continue;
            }
            break;
          }
          // Case 3 — left rotate at sibling.
          tmp1 = i32[tmp2 * S + L]!;
          i32[sibling * S + R] = tmp1;
          i32[tmp2 * S + L] = sibling;
          i32[parent * S + L] = tmp2;
          if (tmp1 !== 0) this.setParentColor(tmp1, sibling, RB_BLACK);
          this.augRotate(sibling, tmp2);
          tmp1 = sibling;
          sibling = tmp2;
        }
        // Case 4 — right rotate at parent and colour flip.
        tmp2 = i32[sibling * S + R]!;
        i32[parent * S + L] = tmp2;
        i32[sibling * S + R] = parent;
        this.setParentColor(tmp1, sibling, RB_BLACK);
        if (tmp2 !== 0) i32[tmp2 * S + P] = parent;
        this.rotateSetParents(parent, sibling, RB_BLACK);
        this.augRotate(parent, sibling);
        break;
      }
    }
  }

  // ======================================================================================== checks

  /**
   * browse_rb() / validate_mm(): throws, naming the node, unless the root is black and parentless, no red
   * node has a red child, every root-to-NULL path has the same number of black nodes, parent links match
   * child links, ranges are in BST order, disjoint and within [0, RB_MAX], the prev/next list is the
   * in-order sequence, every gap and subtree gap is exact, values are positive 31-bit integers, every
   * node is a live arena record, and the size is right. Call with no writer running.
   */
  validate(): void {
    const hdr = this.hdr;
    const root = hdr[HD.ROOT]!;
    if (root === 0) {
      if (hdr[HD.SIZE] !== 0 || hdr[HD.FIRST] !== 0 || hdr[HD.LAST] !== 0) {
        throw new RbTreeError(`${this.name}: empty tree with size ${hdr[HD.SIZE]}, first ${hdr[HD.FIRST]}, last ${hdr[HD.LAST]}`);
      }
      return;
    }
    if (this.i32[root * RB.I32 + RB.PARENT] !== 0) this.fail(root, 'root has a parent');
    if (this.i32[root * RB.I32 + RB.COLOR] !== RB_BLACK) this.fail(root, 'root is red');
    const st = { count: 0, prev: 0 };
    this.check(root, st, 0);
    if (st.prev !== hdr[HD.LAST]) throw new RbTreeError(`${this.name}: last node is ${st.prev}, header says ${hdr[HD.LAST]}`);
    if (st.count !== hdr[HD.SIZE]) throw new RbTreeError(`${this.name}: ${st.count} nodes, size says ${hdr[HD.SIZE]}`);
  }

  /** In-order check of n's subtree; returns its black height. */
  private check(n: number, st: { count: number; prev: number }, depth: number): number {
    if (n === 0) return 1;
    if (depth > 128) this.fail(n, 'tree deeper than 128 (a cycle?)');
    if (!this.arena.isLive(n)) this.fail(n, 'is not a live arena record');
    const f64 = this.f64;
    const i32 = this.i32;
    const l = i32[n * RB.I32 + RB.LEFT]!;
    const r = i32[n * RB.I32 + RB.RIGHT]!;
    const color = i32[n * RB.I32 + RB.COLOR]!;
    if (color !== RB_RED && color !== RB_BLACK) this.fail(n, `bad colour ${color}`);
    for (const c of [l, r]) {
      if (c === 0) continue;
      if (i32[c * RB.I32 + RB.PARENT] !== n) this.fail(c, `parent is ${i32[c * RB.I32 + RB.PARENT]}, not ${n}`);
      if (color === RB_RED && i32[c * RB.I32 + RB.COLOR] === RB_RED) this.fail(c, `red child of red node ${n}`);
    }
    const bl = this.check(l, st, depth + 1);
    // Visit n in order.
    const first = f64[n * RB.F64 + RB.FIRST]!;
    const last = f64[n * RB.F64 + RB.LAST]!;
    if (!(Number.isInteger(first) && Number.isInteger(last) && first >= 0 && first <= last && last <= RB_MAX)) {
      this.fail(n, 'bad range');
    }
    const v = i32[n * RB.I32 + RB.VALUE]!;
    if (!(v > 0)) this.fail(n, `value ${v} is not positive`);
    const prev = st.prev;
    if (i32[n * RB.I32 + RB.PREV] !== prev) this.fail(n, `prev link is ${i32[n * RB.I32 + RB.PREV]}, in-order predecessor is ${prev}`);
    if (prev === 0) {
      if (this.hdr[HD.FIRST] !== n) this.fail(n, `is the lowest node but header's first is ${this.hdr[HD.FIRST]}`);
    } else {
      if (i32[prev * RB.I32 + RB.NEXT] !== n) this.fail(prev, `next link is ${i32[prev * RB.I32 + RB.NEXT]}, in-order successor is ${n}`);
      if (f64[prev * RB.F64 + RB.LAST]! >= first) this.fail(n, `overlaps or precedes its predecessor ${this.describe(prev)}`);
    }
    const gap = first - (prev === 0 ? 0 : f64[prev * RB.F64 + RB.LAST]! + 1);
    if (f64[n * RB.F64 + RB.GAP] !== gap) this.fail(n, `gap is ${f64[n * RB.F64 + RB.GAP]}, should be ${gap}`);
    st.prev = n;
    st.count++;
    const br = this.check(r, st, depth + 1);
    if (bl !== br) this.fail(n, `black heights differ: left ${bl}, right ${br}`);
    const want = this.compute(n);
    if (f64[n * RB.F64 + RB.SUBTREE_GAP] !== want) {
      this.fail(n, `rb_subtree_gap is ${f64[n * RB.F64 + RB.SUBTREE_GAP]}, should be ${want}`);
    }
    if (n === this.hdr[HD.LAST] && i32[n * RB.I32 + RB.NEXT] !== 0) this.fail(n, 'is the highest node but has a next link');
    return bl + (color === RB_BLACK ? 1 : 0);
  }

  private describe(n: number): string {
    return `node ${n} [${this.f64[n * RB.F64 + RB.FIRST]}, ${this.f64[n * RB.F64 + RB.LAST]}]`;
  }

  private fail(n: number, what: string): never {
    throw new RbTreeError(`${this.name}: ${this.describe(n)}: ${what}`);
  }
}

function checkRange(first: number, last: number): void {
  if (!(Number.isInteger(first) && Number.isInteger(last) && first >= 0 && first <= last && last <= RB_MAX)) {
    throw new RbTreeError(`rbtree: bad range [${first}, ${last}]`);
  }
}

function checkValue(value: number): void {
  if (!(Number.isInteger(value) && value > 0 && value <= 0x7fffffff)) {
    throw new RbTreeError(`rbtree: value ${value} is not a positive 31-bit integer`);
  }
}
