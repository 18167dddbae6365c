/**
 * mmsplit/maple: the maple tree (lib/maple_tree.c) in SharedArrayBuffers.
 *
 *   import { MapleTree } from 'mmsplit/maple';
 *   import { Rcu } from 'mmsplit/sync';
 *
 *   const mt = new MapleTree({ allocRange: true });          // MT_FLAGS_ALLOC_RANGE, like mm->mm_mt
 *   const start = 0x7fff_f7ff_f000, end = 0x7fff_f800_1000;  // keys: byte addresses, as the mm's, up to 2^53 - 1
 *   mt.storeRange(start, end - 1, 7);                        // [vm_start, vm_end - 1] → a positive 31-bit value
 *   mt.load(start + 0x800);                                  // mtree_load: 7
 *   mt.find(start);                                          // mt_find (find_vma): { first: start, last: end - 1, value: 7 }
 *   mt.emptyAreaRev(0x1000, start - 1, 0x4000);              // mas_empty_area_rev (get_unmapped_area): start - 0x4000
 *   const rcu = Rcu.create();
 *   mt.setInRcu(rcu);                                        // mt_set_in_rcu: lockless readers from now on
 *   // on a worker: MapleTree.attach(handle).load(addr) inside rcu.readLock()/readUnlock() (README: "Sharing a tree")
 *
 * Page numbers, if you want them, are Math.floor(addr / 4096): JavaScript's shifts (addr >> 12) are 32-bit and
 * turn an address above 2^31 into garbage.
 *
 * MapleMap<T> wraps a tree for plain JavaScript values on one thread.
 */
// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export { MapleTree, MapleTreeError, EEXIST, type MapleEntry, type MapleTreeHandle, type MapleTreeOptions } from './tree.js';
export { MapleMap, type MapleMapEntry } from './map.js';
export {
  MAPLE_MAX,
  MAPLE_NODE,
  MAPLE_RANGE64_SLOTS,
  MAPLE_ARANGE64_SLOTS,
  MAPLE_RANGE64_MIN,
  MAPLE_ARANGE64_MIN,
} from './layout.js';
