/**
 * What a lab worker thread does, by role, over a shared AddressSpace (will-it-scale's tasks, plus churn):
 *
 *   page_fault1  mmap 128 MiB anonymous, write one byte in every page, munmap — again and again
 *   page_fault2  the same on a private mapping of the worker's own file (every write copies a page-cache page)
 *   page_fault3  the same on a shared mapping of the worker's own file (every write dirties a page-cache page)
 *   mmap1        mmap 128 MiB anonymous and munmap it, touching nothing: the mmap_lock writers alone
 *   mmap2        the same on a private mapping of the worker's own file
 *   trace        a real program's memory calls, replayed and faulted in (src/workloads/trace.ts)
 *   region       write every page of its own slice of one large mapping, then MADV_DONTNEED the slice
 *   churn        mmap 16 KiB anonymous, touch it, mprotect it read-only, munmap: small, unrelated regions
 *   io           read every page of a mapping of a file whose page-cache misses sleep, munmap, drop the
 *                file's cached pages, map it again: faults that are always waiting for "the disk"
 *   lookup       look up the VMA at random addresses of a region of small file mappings and check the file
 *                and offset found (a uprobe hit's question, find_active_uprobe_rcu): VMA lookups, no faults
 *   maps         read /proc/PID/maps whole, again and again, and check that every VMA of a region nobody
 *                changes is in it (a maps scanner, Paul McKenney's test for 6.17's lock_next_vma series)
 *   remap        munmap a random page of a 128 MiB anonymous range, map it again MAP_FIXED and write it
 *                (the test's updater: its munmap latency is what the maps readers cost it)
 *
 * Control words: ctl[0] 0 warm-up, 1 measuring, 2 stop; ctl[1] counts the workers that have started; ctl[2]
 * counts io faults in flight (an io worker adds itself around each access). A worker publishes its running
 * totals — ops, faults, churn calls, the design's counters — in its words of `tally` whenever it looks at
 * ctl[0] (at least every 64 pages), so the runner can cut the measured interval into samples without
 * stopping anyone; munmap latencies are kept for the measured interval only.
 */
import { PAGE_SIZE } from '../mm/frames.js';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../mm/uapi.js';
import { sysMadvise } from '../mm/madvise.js';
import { sysMmap, sysMunmap } from '../mm/mmap.js';
import { sysMprotect } from '../mm/mprotect.js';
import { readMapsVmas } from '../mm/proc-maps.js';
import type { AddressSpace } from '../designs/address-space.js';
import { VmaLookup } from '../mm/design.js';
import { hex } from '../util/hex.js';
import { Prng } from '../util/prng.js';
import { TraceReplayer, type TraceProgram } from './trace.js';

export type Role = 'page_fault1' | 'page_fault2' | 'page_fault3' | 'mmap1' | 'mmap2' | 'region' | 'churn' | 'io' | 'trace' | 'lookup' | 'maps' | 'remap';

/**
 * Roles that change the address space beside the workload's own (churn, remap): their calls go to the
 * churn word of the tally, not to the workload's operations.
 */
export function isUpdater(role: Role): boolean {
  return role === 'churn' || role === 'remap';
}

export interface RoleParams {
  role: Role;
  /** page_fault*, io: bytes mapped per pass; region, lookup, maps, remap: the region's length. */
  bytes: number;
  /** region, lookup, maps, remap: where the region starts (inside a mapping the runner made). */
  start: number;
  /** page_fault2, page_fault3, mmap2, io, lookup: the file (an id of the address space's page cache). */
  file: number;
  /** trace: the program, the page-cache file of each of its files, and how many pages a pass may touch. */
  trace?: { program: TraceProgram; fileIds: number[]; pagesPerPass: number };
  /** lookup, remap: the seed of the addresses it picks (each worker its own, the same in every run). */
  seed?: number;
  /** Time only the munmaps that begin while an io fault is in flight (ctl[2] > 0). */
  timeWhileIoInFlight?: boolean;
}

/**
 * The words of a worker's tally, each a running total wrapping at 2^32: operations, faults, churn calls, and
 * the design's counters (vma_lock_success, _retry, the fallbacks, then its own extra counters in the order
 * of RoleResult.extraNames), so that the runner can cut every figure, counts included, at the same instants.
 */
export const TALLY_OPS = 0;
export const TALLY_FAULTS = 1;
export const TALLY_CHURN = 2;
export const TALLY_FAST_PATH = 3;
export const TALLY_RETRY = 4;
export const TALLY_FALLBACK = 5;
export const TALLY_EXTRA = 6;
/**
 * A seqcount around the worker's writes of its words, odd while it writes them: the runner reads them as
 * of one instant (crewTotals). Without it a fault counted in the faults word and not yet in the fast-path
 * word, or the other way round, put a sample's counters one off the faults beside it.
 */
export const TALLY_SEQ = 15;
/** Words per worker in the tally (one cache line, so that workers do not share one). */
export const TALLY_STRIDE = 16;
const MAX_EXTRA = TALLY_SEQ - TALLY_EXTRA;

export interface RoleResult {
  /** The munmaps of the measured interval (with timeWhileIoInFlight, those begun while one was), µs. */
  munmapUs: Float64Array;
  /** Names of the design's extra counters, as laid out from TALLY_EXTRA on. */
  extraNames: string[];
}

const PHASE_MEASURE = 1;
const PHASE_STOP = 2;
/** ctl[IO_IN_FLIGHT]: io faults in progress now. */
export const IO_IN_FLIGHT = 2;
const RW = PROT_READ | PROT_WRITE;

/**
 * Runs `role` until ctl[0] says stop, publishing totals in tally[0..2]; returns the munmap latencies and
 * counters of the measured interval.
 */
export function runRole(as: AddressSpace, p: RoleParams, ctl: Int32Array, tally: Int32Array): RoleResult {
  const { mm, user } = as;
  let ops = 0;
  let churnOps = 0;
  let measuring = false;
  const stats = as.design.stats;
  const extraNames = Object.keys(stats.extra).slice(0, MAX_EXTRA);
  const lat: number[] = [];
  const munmap = (addr: number, len: number): void => {
    const timed = !p.timeWhileIoInFlight || Atomics.load(ctl, IO_IN_FLIGHT) > 0;
    const s = performance.now();
    const r = sysMunmap(mm, addr, len);
    if (measuring && timed) lat.push((performance.now() - s) * 1000);
    if (r !== 0) throw new Error(`${p.role}: munmap failed (${r})`);
  };
  const mmap = (len: number, flags: number, file: number): number => {
    const a = sysMmap(mm, 0, len, RW, flags, file, 0);
    if (a < 0) throw new Error(`${p.role}: mmap failed (${a})`);
    return a;
  };
  /**
   * Publishes the totals a sample is cut from, after every operation (plain stores: cheap, and no point of
   * the checker's or the simulator's). A sample of a few virtual ms on many simulated CPUs holds only a few
   * operations per CPU: totals published every 64 pages or 256 lookups made its figure the publication's
   * steps (per-vma-lock page_fault1 on 64 CPUs: 96 K and 352 K faults/s in two sweeps).
   */
  const publish = (withExtra = false): void => {
    // Plain stores, which x86 and V8 keep in program order: the seqcount's odd value is seen before the
    // words change and its even one after.
    const seq = tally[TALLY_SEQ]! + 1;
    tally[TALLY_SEQ] = seq;
    tally[TALLY_OPS] = ops;
    tally[TALLY_FAULTS] = user.faults;
    tally[TALLY_CHURN] = churnOps;
    tally[TALLY_FAST_PATH] = stats.fastPath;
    tally[TALLY_RETRY] = stats.retry;
    tally[TALLY_FALLBACK] = stats.fallback;
    if (withExtra) for (let i = 0; i < extraNames.length; i++) tally[TALLY_EXTRA + i] = stats.extra[extraNames[i]!]!;
    tally[TALLY_SEQ] = seq + 1;
  };
  /** Publishes every total, the design's own counters too, and follows ctl[0]; false once told to stop. */
  const running = (): boolean => {
    publish(true);
    const phase = Atomics.load(ctl, 0);
    if (phase === PHASE_MEASURE) measuring = true;
    return phase !== PHASE_STOP;
  };
  const found = new VmaLookup();
  const rnd = new Prng(p.seed ?? 1); // lookup's and remap's addresses
  Atomics.add(ctl, 1, 1); // running
  const replayer = p.trace && new TraceReplayer(p.trace.program, p.trace.fileIds, p.trace.pagesPerPass);
  const hooks = {
    store8: (a: number, v: number) => user.store8(a, v),
    load8: (a: number) => user.load8(a),
    munmap: (a: number, len: number) => (munmap(a, len), 0),
    between: () => {
      as.quiescentState();
      const go = running();
      if (go) ops++; // one op per call of the trace, replayed or left out
      return go;
    },
  };
  /**
   * Writes a byte in every page of [a, a + p.bytes): one op per page, as will-it-scale counts. A pass is
   * long: it starts counting as soon as told to, and ends early when told to stop.
   */
  const touchAll = (a: number): void => {
    for (let off = 0; off < p.bytes; off += PAGE_SIZE) {
      user.store8(a + off, 1);
      ops++;
      if ((off & 0x3ffff) === 0) {
        as.quiescentState();
        if (!running()) return;
      } else publish();
    }
  };
  while (running()) {
    switch (p.role) {
      case 'page_fault1':
      case 'page_fault2':
      case 'page_fault3': {
        const a = mmap(p.bytes, p.role === 'page_fault1' ? MAP_PRIVATE | MAP_ANONYMOUS : p.role === 'page_fault2' ? MAP_PRIVATE : MAP_SHARED, p.role === 'page_fault1' ? 0 : p.file);
        touchAll(a);
        munmap(a, p.bytes);
        break;
      }
      case 'mmap1':
      case 'mmap2': {
        munmap(p.role === 'mmap1' ? mmap(p.bytes, MAP_PRIVATE | MAP_ANONYMOUS, 0) : mmap(p.bytes, MAP_PRIVATE, p.file), p.bytes);
        ops++;
        break;
      }
      case 'trace': {
        replayer!.runPass(mm, hooks);
        break;
      }
      case 'region': {
        touchAll(p.start);
        if (sysMadvise(mm, p.start, p.bytes, MADV_DONTNEED) !== 0) throw new Error('region: madvise failed');
        break;
      }
      case 'churn': {
        const len = 4 * PAGE_SIZE;
        const a = mmap(len, MAP_PRIVATE | MAP_ANONYMOUS, 0);
        user.store8(a, 1);
        if (sysMprotect(mm, a, len, PROT_READ) !== 0) throw new Error('churn: mprotect failed');
        munmap(a, len);
        churnOps += 3;
        break;
      }
      case 'lookup': {
        const pages = p.bytes / PAGE_SIZE;
        for (let k = 0; k < 256; k++) {
          const page = rnd.below(pages);
          const a = p.start + page * PAGE_SIZE;
          const ok = as.lookupVma(a, found);
          if (!ok || found.file !== p.file || found.pgoff !== lookupPgoff(page)) {
            throw new Error(`lookup: the VMA lookup of ${hex(a)} found ${!ok ? 'nothing' : `page ${found.pgoff} of file ${found.file}`}, not page ${lookupPgoff(page)} of file ${p.file}`);
          }
          ops++;
          publish();
          if ((k & 31) === 31) as.quiescentState();
        }
        break;
      }
      case 'maps': {
        let seen = 0; // the region's VMAs in this read: each one once, none of them ever changes
        const end = p.start + p.bytes;
        readMapsVmas(mm, (v) => {
          if (mm.vmas.start(v) >= p.start && mm.vmas.end(v) <= end) seen++;
        });
        if (seen !== LOOKUP_VMAS) throw new Error(`maps: a read of /proc/PID/maps reported ${seen} of the ${LOOKUP_VMAS} VMAs of a region nobody changed`);
        ops++;
        break;
      }
      case 'remap': {
        const a = p.start + rnd.below(p.bytes / PAGE_SIZE) * PAGE_SIZE;
        munmap(a, PAGE_SIZE);
        if (sysMmap(mm, a, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0, 0) !== a) throw new Error(`remap: mmap MAP_FIXED at ${hex(a)} failed`);
        user.store8(a, 1);
        churnOps += 2;
        break;
      }
      case 'io': {
        const a = mmap(p.bytes, MAP_PRIVATE, p.file);
        for (let off = 0; off < p.bytes && running(); off += PAGE_SIZE) { // each fault is slow: follow the phase
          Atomics.add(ctl, IO_IN_FLIGHT, 1);
          user.load8(a + off);
          Atomics.sub(ctl, IO_IN_FLIGHT, 1);
          ops++;
          as.quiescentState();
        }
        munmap(a, p.bytes);
        as.pages.pagecache.truncate(p.file); // the next pass misses again
        break;
      }
    }
    as.quiescentState();
  }
  running();
  return { munmapUs: Float64Array.from(lat), extraNames };
}

/** lookup's region: VMAs of LOOKUP_VMA_PAGES pages, the k-th mapping the file from page k × LOOKUP_FILE_STRIDE (so no two merge). */
export const LOOKUP_VMAS = 256;
export const LOOKUP_VMA_PAGES = 4;
const LOOKUP_FILE_STRIDE = 8;
/** The region's length (lookup's, and maps-read's VMAs that nobody changes). */
export const LOOKUP_REGION_BYTES = LOOKUP_VMAS * LOOKUP_VMA_PAGES * PAGE_SIZE;

/** The file page a lookup of the region's page `page` must find. */
export function lookupPgoff(page: number): number {
  return Math.floor(page / LOOKUP_VMA_PAGES) * LOOKUP_FILE_STRIDE + (page % LOOKUP_VMA_PAGES);
}

/** Maps lookup's region (read-only mappings of `file`) and returns where it starts. */
export function mapLookupRegion(as: AddressSpace, file: number): number {
  const vmaBytes = LOOKUP_VMA_PAGES * PAGE_SIZE;
  const base = sysMmap(as.mm, 0, LOOKUP_REGION_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0); // the room
  if (base < 0) throw new Error(`lookup: mmap failed (${base})`);
  for (let k = 0; k < LOOKUP_VMAS; k++) {
    const a = sysMmap(as.mm, base + k * vmaBytes, vmaBytes, PROT_READ, MAP_PRIVATE | MAP_FIXED, file, lookupPgoff(k * LOOKUP_VMA_PAGES) * PAGE_SIZE);
    if (a !== base + k * vmaBytes) throw new Error(`lookup: mmap of the region's VMA ${k} failed (${a})`);
  }
  return base;
}
