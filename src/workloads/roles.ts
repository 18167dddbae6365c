/**
 * What a lab worker thread does, by role, over a shared AddressSpace (will-it-scale's tasks, plus churn):
 *
 *   page_fault1  mmap 128 MiB anonymous, write one byte in every page, munmap — again and again
 *   page_fault2  the same on a private mapping of a file (every write copies a page-cache page)
 *   region       write every page of its own slice of one large mapping, then MADV_DONTNEED the slice
 *   churn        mmap 16 KiB anonymous, touch it, mprotect it read-only, munmap: small, unrelated regions
 *   io           read every page of a mapping of a file whose page-cache misses sleep, munmap, drop the
 *                file's cached pages, map it again: faults that are always waiting for "the disk"
 *
 * Control word ctl[0]: 0 warm-up, 1 measuring, 2 stop. A worker counts only what it did while measuring.
 */
import { PAGE_SIZE } from '../mm/frames.js';
import { MADV_DONTNEED, sysMadvise } from '../mm/madvise.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, sysMmap, sysMunmap } from '../mm/mmap.js';
import { sysMprotect } from '../mm/mprotect.js';
import type { AddressSpace } from '../designs/address-space.js';

export type Role = 'page_fault1' | 'page_fault2' | 'region' | 'churn' | 'io';

export interface RoleParams {
  role: Role;
  /** page_fault*, io: bytes mapped per pass; region: the slice's length. */
  bytes: number;
  /** region: where the slice starts (inside a mapping the runner made). */
  start: number;
  /** page_fault2, io: the file (an id of the address space's page cache). */
  file: number;
}

export interface RoleResult {
  ops: number;
  faults: number;
  churnOps: number;
  elapsedMs: number;
  /** Every munmap measured, microseconds. */
  munmapUs: Float64Array;
  /** The design's counters over the measured interval (vma_lock_* deltas). */
  counters: { fastPath: number; retry: number; fallback: number; extra: Record<string, number> };
}

type Counters = RoleResult['counters'];

function readCounters(as: AddressSpace): Counters {
  const s = as.design.stats;
  return { fastPath: s.fastPath, retry: s.retry, fallback: s.fallback, extra: { ...s.extra } };
}

function minus(a: Counters, b: Counters): Counters {
  const extra: Record<string, number> = {};
  for (const k of Object.keys(a.extra)) extra[k] = a.extra[k]! - (b.extra[k] ?? 0);
  return { fastPath: a.fastPath - b.fastPath, retry: a.retry - b.retry, fallback: a.fallback - b.fallback, extra };
}

const PHASE_MEASURE = 1;
const PHASE_STOP = 2;
const RW = 3;

/** Runs `role` until ctl[0] says stop; returns what it did while ctl[0] said measure. */
export function runRole(as: AddressSpace, p: RoleParams, ctl: Int32Array): RoleResult {
  const { mm, user } = as;
  let ops = 0;
  let churnOps = 0;
  let faults0 = 0;
  let t0 = 0;
  let measuring = false;
  let counters0 = readCounters(as);
  const lat: number[] = [];
  const munmap = (addr: number, len: number): void => {
    const s = performance.now();
    const r = sysMunmap(mm, addr, len);
    if (measuring) lat.push((performance.now() - s) * 1000);
    if (r !== 0) throw new Error(`${p.role}: munmap failed (${r})`);
  };
  const mmap = (len: number, flags: number, file: number): number => {
    const a = sysMmap(mm, 0, len, RW, flags, file, 0);
    if (a < 0) throw new Error(`${p.role}: mmap failed (${a})`);
    return a;
  };
  /** Follows ctl[0]; false once told to stop. */
  const running = (): boolean => {
    const phase = Atomics.load(ctl, 0);
    if (phase === PHASE_MEASURE && !measuring) {
      measuring = true;
      faults0 = user.faults;
      counters0 = readCounters(as);
      t0 = performance.now();
    }
    return phase !== PHASE_STOP;
  };
  while (running()) {
    let done = 0; // ops this pass
    switch (p.role) {
      case 'page_fault1':
      case 'page_fault2': {
        const a = p.role === 'page_fault1' ? mmap(p.bytes, MAP_PRIVATE | MAP_ANONYMOUS, 0) : mmap(p.bytes, MAP_PRIVATE, p.file);
        for (let off = 0; off < p.bytes; off += PAGE_SIZE) {
          user.store8(a + off, 1);
          if ((off & 0x3ffff) === 0) as.quiescentState();
        }
        done = p.bytes / PAGE_SIZE;
        munmap(a, p.bytes);
        break;
      }
      case 'region': {
        for (let off = 0; off < p.bytes; off += PAGE_SIZE) {
          user.store8(p.start + off, 1);
          if ((off & 0x3ffff) === 0) as.quiescentState();
        }
        done = p.bytes / PAGE_SIZE;
        if (sysMadvise(mm, p.start, p.bytes, MADV_DONTNEED) !== 0) throw new Error('region: madvise failed');
        break;
      }
      case 'churn': {
        const len = 4 * PAGE_SIZE;
        const a = mmap(len, MAP_PRIVATE | MAP_ANONYMOUS, 0);
        user.store8(a, 1);
        if (sysMprotect(mm, a, len, 1) !== 0) throw new Error('churn: mprotect failed');
        munmap(a, len);
        if (measuring) churnOps += 3;
        break;
      }
      case 'io': {
        const a = mmap(p.bytes, MAP_PRIVATE, p.file);
        for (let off = 0; off < p.bytes && running(); off += PAGE_SIZE) { // each fault is slow: follow the phase
          user.load8(a + off);
          if (measuring) ops++;
          as.quiescentState();
        }
        munmap(a, p.bytes);
        as.pages.pagecache.truncate(p.file); // the next pass misses again
        break;
      }
    }
    if (measuring) ops += done;
    as.quiescentState();
  }
  const elapsedMs = performance.now() - t0;
  return { ops, faults: user.faults - faults0, churnOps, elapsedMs, munmapUs: Float64Array.from(lat), counters: minus(readCounters(as), counters0) };
}
