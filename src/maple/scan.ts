/**
 * The offset of the slot holding `x` in an arange_64 node (10 slots): the number of pivots below x, all
 * nine compared at once (unused words hold MAPLE_MAX). Here that measured faster than a binary search
 * like slot16's: the nine loads issue together, where a binary search waits on four loads in a row.
 */
export function count10(f64: Float64Array, pb: number, x: number): number {
  return (
    +(f64[pb]! < x) + +(f64[pb + 1]! < x) + (+(f64[pb + 2]! < x) + +(f64[pb + 3]! < x)) +
    (+(f64[pb + 4]! < x) + +(f64[pb + 5]! < x) + (+(f64[pb + 6]! < x) + +(f64[pb + 7]! < x))) +
    +(f64[pb + 8]! < x)
  );
}

/**
 * The offset of the slot holding `x` in a node with 16 slots (leaf_64 / range_64): the first i with
 * pivot[i] >= x. A branch-free binary search over pivot words 0..14 (word 15 and every unused word hold
 * the node's max or MAPLE_MAX, see writeNode): four dependent loads instead of a linear scan, whose
 * data-dependent loop exit a random lookup mispredicts at every level, and few enough operations that
 * the CPU overlaps consecutive lookups.
 */
export function slot16(f64: Float64Array, pb: number, x: number): number {
  let i = +(f64[pb + 7]! < x) << 3;
  i += +(f64[pb + i + 3]! < x) << 2;
  i += +(f64[pb + i + 1]! < x) << 1;
  return i + +(f64[pb + i]! < x);
}
