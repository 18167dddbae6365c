import { defineLayout } from '../shm/layout.js';

/**
 * One rbtree node, after the pre-6.1 `struct vm_area_struct`'s tree part (vm_rb, rb_subtree_gap,
 * vm_next/vm_prev), in one 64-byte arena record:
 *
 *   f64 word 0   first        vm_start (inclusive index)
 *   f64 word 1   last         vm_end - 1 (inclusive index)
 *   f64 word 2   gap          free indices just below this range: first - (prev ? prev.last + 1 : 0)
 *                             (vma_compute_gap, stored rather than recomputed from vm_prev)
 *   f64 word 3   subtreeGap   max of gap over this node's subtree (rb_subtree_gap)
 *   i32 word 8   parent       record of the parent, 0 for the root (the kernel packs it with the colour)
 *   i32 word 9   left         rb_left, 0 = NULL
 *   i32 word 10  right        rb_right
 *   i32 word 11  color        RB_RED (0) or RB_BLACK (1)
 *   i32 word 12  value        the entry, a positive 31-bit integer
 *   i32 word 13  prev         vm_prev: the range just below, 0 for the lowest
 *   i32 word 14  next         vm_next: the range just above, 0 for the highest
 */
export const RB_NODE = defineLayout({
  f64: ['first', 'last', 'gap', 'subtreeGap'],
  i32: ['parent', 'left', 'right', 'color', 'value', 'prev', 'next'],
});

/** Numeric offsets of RB_NODE, a const enum so that the compiler inlines them into the walks. */
export const enum RB {
  F64 = 8, // f64 words per record
  I32 = 16, // i32 words per record
  FIRST = 0,
  LAST = 1,
  GAP = 2,
  SUBTREE_GAP = 3,
  PARENT = 8,
  LEFT = 9,
  RIGHT = 10,
  COLOR = 11,
  VALUE = 12,
  PREV = 13,
  NEXT = 14,
  STRIDE = 64,
}

export const RB_RED = 0;
export const RB_BLACK = 1;

/** The largest index (our ULONG_MAX): ranges live in [0, RB_MAX], as in the maple tree. */
export const RB_MAX = Number.MAX_SAFE_INTEGER;

// The const enum must agree with the layout the arena is built from.
{
  const L = RB_NODE;
  const ok =
    L.stride === RB.STRIDE &&
    L.f64Stride === RB.F64 &&
    L.i32Stride === RB.I32 &&
    L.f64.first === RB.FIRST &&
    L.f64.last === RB.LAST &&
    L.f64.gap === RB.GAP &&
    L.f64.subtreeGap === RB.SUBTREE_GAP &&
    L.i32.parent === RB.PARENT &&
    L.i32.left === RB.LEFT &&
    L.i32.right === RB.RIGHT &&
    L.i32.color === RB.COLOR &&
    L.i32.value === RB.VALUE &&
    L.i32.prev === RB.PREV &&
    L.i32.next === RB.NEXT;
  if (!ok) throw new Error('rbtree: RB const enum disagrees with RB_NODE');
}
