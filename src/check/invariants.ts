/**
 * What every run must leave behind, whatever the scenario, checked on the controller once the threads are
 * done: the maple tree and VMA set validate; every mapped PTE lies inside a live VMA that allows it and maps
 * a live frame; freed records still hold their poison (nobody wrote to them after the free) and the
 * generation numbers agree with the allocation bitmaps; the mmap_lock, every VMA lock, PTE lock and
 * seqcount is released, every live VMA's design words are as the design says they are at rest; RCU and SRCU are idle. Then the
 * teardown: once the scenario's ranges are unmapped and every deferred free has run, no VMA, frame or page
 * table is left over.
 */
import type { AddressSpace } from '../designs/address-space.js';
import { PAGE_SIZE } from '../mm/frames.js';
import { sysMunmap } from '../mm/mmap.js';
import { designInfo } from '../designs/registry.js';
import { rwsemValidateIdle } from '../sync/rwsem.js';
import { violation } from './scenarios.js';

/** Throws CheckViolation naming the first broken invariant. */
export function checkQuiescent(as: AddressSpace): void {
  const { mm, pages } = as;
  guard('the VMA tree', () => mm.validate(false));
  guard('the page tables', () => pages.validate());
  guard('the mmap_lock', () => rwsemValidateIdle(mm.words, mm.mmapLockWord, 'mmap_lock'));
  const t = mm.vmas;
  const quiescentVma = designInfo(as.designName).quiescentVma;
  mm.tree.forEach((_first, _last, v) => {
    const at = `VMA ${t.start(v).toString(16)}-${t.end(v).toString(16)}`;
    const wrong = quiescentVma?.(mm, v);
    if (wrong !== undefined) violation(`${at}: ${wrong}`);
    if (t.isDetached(v)) violation(`${at}: in the tree but marked detached`);
  });
  const pt = pages.pt;
  pt.forEachPte((addr) => {
    if (Atomics.load(pt.i32, pt.ptlOf(pt.pteSlot(addr))) !== 0) violation(`the PTE lock of 0x${addr.toString(16)} is still held`);
  });
  guard('SRCU', () => as.srcu.validate());
  guard('RCU', () => as.rcu.validate());
  guard('the VMA records', () => t.arena.validate());
}

/**
 * Unmaps the scenario's ranges and ends the controller's thread of the address space (waiting for every
 * deferred free), then throws if anything is left: VMAs, frames beyond the page cache's, page tables
 * beyond the top level. Last, with nothing written after it, `retire` (BufferSet.retire) checks every
 * arena's bitmap and the poison of every free record, VMAs, frames, tables and maple nodes alike, as the
 * buffers go back for the next run (which then poisons only what was live here).
 */
export function checkTeardown(as: AddressSpace, ranges: readonly [number, number][], tablesBefore: number, retire: () => void): void {
  const { mm, pages } = as;
  for (const [s, e] of ranges) if (sysMunmap(mm, s, e - s) !== 0) violation(`teardown: munmap(0x${s.toString(16)}, ${(e - s) / PAGE_SIZE} pages) failed`);
  if (mm.mapCount !== 0) violation(`teardown: ${mm.mapCount} VMAs still mapped`);
  as.exit();
  const vmas = mm.vmas.arena.inUse();
  if (vmas !== 0) violation(`teardown: ${vmas} VMA records leaked`);
  const frames = pages.frames.arena.inUse();
  const cached = pages.pagecache.cachedPages();
  if (frames !== cached) violation(`teardown: ${frames} frames in use but the page cache holds ${cached}: ${frames - cached} leaked`);
  const tables = pages.pt.tablesInUse();
  if (tables > tablesBefore) violation(`teardown: ${tables - tablesBefore} page-table pages leaked`);
  guard('the frames', () => pages.frames.validateRefcounts());
  guard('the freed records', retire);
}

function guard(what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if ((e as Error).name === 'CheckViolation') throw e;
    violation(`${what}: ${(e as Error).message}`);
  }
}
