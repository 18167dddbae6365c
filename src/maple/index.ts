/**
 * mmsplit/maple: the maple tree (lib/maple_tree.c) in SharedArrayBuffers.
 *
 *   const mt = new MapleTree({ allocRange: true });        // MT_FLAGS_ALLOC_RANGE, like mm->mm_mt
 *   mt.storeRange(start >> 12, (end >> 12) - 1, vmaIndex);  // page-granular keys, 31-bit values
 *   mt.load(addr >> 12); mt.find(addr >> 12);                // mtree_load, mt_find (find_vma)
 *   mt.emptyAreaRev(lowPage, highPage, pages);               // mas_empty_area_rev (get_unmapped_area)
 *   mt.setInRcu(rcu);                                        // mt_set_in_rcu: lockless readers from now on
 *   // on a worker: MapleTree.attach(mt.handle()).load(page) inside rcu.readLock()/readUnlock()
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
