import { defineLayout } from '../shm/layout.js';

/**
 * The maple node record, laid out after the kernel's `struct maple_node`, in one 256-byte arena record.
 *
 *   maple_leaf_64 / maple_range_64 (16 slots, 15 pivots):
 *     f64 words 0..15   pivot[0..15]   pivot[i] = last index of slot i; pivot[end] = the node's max
 *   maple_arange_64 (10 slots, 9 pivots, 10 gaps):
 *     f64 words 0..9    pivot[0..9]    the same, pivot[end] = the node's max
 *     f64 words 10..19  gap[0..9]      the largest empty range below child i (ma_gaps)
 *     f64 words 20..21  (padding to 256 bytes)
 *   i32 words 44..59    slot[0..15]    leaf: the value (0 = NULL); internal: the child's record index
 *   i32 word  60        parent         parent's record (0 for the root; the node itself once dead)
 *   i32 word  61        pslot          offset of this node in its parent (the kernel packs it in the parent pointer)
 *   i32 word  62        end            offset of the last used slot (ma_meta_end)
 *   i32 word  63        gapOff         offset of the largest gap (ma_meta_gap), arange nodes only
 *
 * The kernel's last pivot is implicit (the parent's pivot); we always store it, at pivot[end], because that
 * word is free in every node (15 pivots + 1 in leaves, 9 + 1 in arange nodes): a walk (mas_walk) then scans
 * `while (pivot[i] < index) i++` without a bound check, and a reader learns a child's max from one word.
 * Pivots and gaps are Float64 (exact to 2^53 - 1); slots and metadata are Int32, the words Atomics reach.
 */
export const MAPLE_NODE = defineLayout({
  f64: ['pivot[10]', 'gap[10]', 'pad[2]'],
  i32: ['slot[16]', 'parent', 'pslot', 'end', 'gapOff'],
});

/** Numeric offsets of MAPLE_NODE, as a const enum so that the compiler inlines them into the hot walks. */
export const enum MN {
  F64 = 32, // f64 words per record (256 bytes, the kernel's node size: strides are shifts, nodes line up)
  I32 = 64, // i32 words per record
  GAP = 10, // arange: gap[i] at f64 word GAP + i
  SLOT = 44,
  PARENT = 60,
  PSLOT = 61,
  END = 62,
  GAPOFF = 63,
  STRIDE = 256,
}

/** Slots per node type (MAPLE_RANGE64_SLOTS, MAPLE_ARANGE64_SLOTS). */
export const MAPLE_RANGE64_SLOTS = 16;
export const MAPLE_ARANGE64_SLOTS = 10;
/** Fewest slots a non-root node may use, after the kernel's mt_min_slots (slots / 2 - 2, arange slots / 2 - 1). */
export const MAPLE_RANGE64_MIN = 6;
export const MAPLE_ARANGE64_MIN = 4;

/** The largest index, our ULONG_MAX: every tree spans [0, MAPLE_MAX]. */
export const MAPLE_MAX = Number.MAX_SAFE_INTEGER;

// The const enum must agree with the layout the arena is built from.
{
  const L = MAPLE_NODE;
  const ok =
    L.stride === MN.STRIDE &&
    L.f64Stride === MN.F64 &&
    L.i32Stride === MN.I32 &&
    L.f64.gap === MN.GAP &&
    L.i32.slot === MN.SLOT &&
    L.i32.parent === MN.PARENT &&
    L.i32.pslot === MN.PSLOT &&
    L.i32.end === MN.END &&
    L.i32.gapOff === MN.GAPOFF;
  if (!ok) throw new Error('maple: MAPLE_NODE layout and MN offsets disagree');
}

/** Words of the tree header (a small Int32 SharedArrayBuffer beside the arena). */
export const enum MH {
  ROOT = 0, // (root record << 4) | height, 0 for an empty tree; published with Atomics.store
  FLAGS = 1,
  SIZE = 2, // entries (non-NULL ranges)
  NODES = 3, // nodes in the tree
  SEQ = 4, // bumped by every write outside RCU mode: iterators walk again when it moved
  WORDS = 8,
}
