/**
 * The index window of the maple RCU concurrency test and its value encoding. The window is BLOCKS blocks of
 * BLOCK indices from BASE (a 41-bit index, so pivots need the Float64 words). Each block starts with a
 * permanent entry of PERM_LEN indices the writer never touches; everything else churns. Every value
 * encodes the range it was stored over, so a reader can tell a real answer from a torn or invented one.
 */
export const BASE = 2 ** 40;
export const BLOCK = 1024;
export const BLOCKS = 32;
export const PERM_LEN = 8;

export function encode(first: number, last: number): number {
  return (first - BASE) * BLOCK + (last - first) + 1;
}

export function decodeFirst(v: number): number {
  return BASE + Math.floor((v - 1) / BLOCK);
}

export function decodeLast(v: number): number {
  return decodeFirst(v) + ((v - 1) % BLOCK);
}

export function permValue(k: number): number {
  const first = BASE + k * BLOCK;
  return encode(first, first + PERM_LEN - 1);
}
