/**
 * Runs one (design, workload, threads) point of the lab: a fresh address space per repetition, the
 * workload's roles on real worker threads, a warm-up, a measured interval, and the samples, counters and
 * munmap latencies the results format (docs/results-format.md) wants.
 */
import { Worker } from 'node:worker_threads';
import { AddressSpace } from '../designs/address-space.js';
import { PAGE_SIZE } from '../mm/frames.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, sysMmap } from '../mm/mmap.js';
import { TALLY_CHURN, TALLY_FAULTS, TALLY_OPS, TALLY_STRIDE, type RoleParams, type RoleResult } from '../workloads/roles.js';
import type { TraceProgram } from '../workloads/trace.js';
import { median, type ChurnInfo, type Counters, type DesignName, type Entry, type LatencyPercentiles, type Sample, type WorkloadName } from './results.js';

export interface RunOptions {
  durationMs: number;
  warmupMs: number;
  repetitions: number;
  /** How long any one wait may last before the run fails (a lost wake-up). */
  waitLimitMs?: number;
  /** The program workload 'trace' replays (compileTrace). */
  trace?: TraceProgram;
}

const MiB = 1024 * 1024;
/** will-it-scale's MEMSIZE: page_fault* and mmap* map this much per pass. */
const PF_BYTES = 128 * MiB;
/** churn: each fault worker's slice of the large mapping. */
const SLICE_BYTES = 64 * MiB;
/** io: the file's size, and how long each of its page-cache misses sleeps. */
const IO_BYTES = 16 * MiB;
const IO_LATENCY_US = 500;
/** trace: pages each worker may fault in per pass over the trace (64 MiB). */
const TRACE_PAGES_PER_PASS = 16384;

/** Each workload's parameters, as the results file records them (configuration.workloadParams). */
export function workloadParams(workload: WorkloadName, trace?: TraceProgram): Record<string, string | number | boolean> {
  switch (workload) {
    case 'page_fault1': case 'page_fault2': case 'page_fault3': case 'mmap1': case 'mmap2':
      return { bytesPerPass: PF_BYTES, ...(workload === 'page_fault1' || workload === 'mmap1' ? {} : { filePerWorker: true }) };
    case 'churn': return { sliceBytes: SLICE_BYTES, churnWorkers: 1, churnRegionBytes: 4 * PAGE_SIZE };
    case 'io': return { fileBytes: IO_BYTES, missLatencyUs: IO_LATENCY_US, churnWorkers: 1 };
    case 'trace': return trace ? { trace: trace.source, calls: trace.calls.length, files: trace.files.length, pagesPerPass: TRACE_PAGES_PER_PASS } : { pagesPerPass: TRACE_PAGES_PER_PASS };
  }
}

interface Plan {
  roles: RoleParams[];
  frames: number;
  cachePages: number;
  /** Roles whose munmaps make the entry's latency percentiles. */
  timed: (r: RoleParams) => boolean;
  setup(as: AddressSpace): void;
}

/** A file of `bytes` with no disk behind it (its page-cache misses sleep `latencyUs`). */
function addSyntheticFile(as: AddressSpace, path: string, inode: number, bytes: number, latencyUs: number): number {
  return as.mm.addFile({ path, dev: '00:00', inode, writable: true, readable: true, size: bytes, shmem: false, latencyUs });
}

/**
 * Which role each thread takes, and what the address space needs. `churnWorkers` of the threads run the
 * churn role beside the workload's own (churn and io: 1 by default). `trace` is the program of workload
 * 'trace'.
 */
export function plan(workload: WorkloadName, threads: number, churnWorkers = workload === 'churn' || workload === 'io' ? 1 : 0, trace?: TraceProgram): Plan {
  const role = (r: Partial<RoleParams> & Pick<RoleParams, 'role'>): RoleParams => ({ bytes: 0, start: 0, file: 0, ...r });
  // io: the latency that matters is munmap's while a fault waits for the disk, not in the moments between.
  const churners = Array.from({ length: churnWorkers }, () => role({ role: 'churn', timeWhileIoInFlight: workload === 'io' }));
  const faulters = threads - churnWorkers;
  if (faulters < 1) throw new Error(`${workload} needs at least ${churnWorkers + 1} threads`);
  const pages = (b: number) => b / PAGE_SIZE;
  const each = (make: (as: AddressSpace, i: number) => RoleParams) => (as: AddressSpace): RoleParams[] => [...Array.from({ length: faulters }, (_, i) => make(as, i)), ...churners];
  const plain = (roles: (as: AddressSpace) => RoleParams[], frames: number, cachePages: number, timed: Plan['timed'] = () => true): Plan => {
    const p: Plan = { roles: [], frames: frames + 8192 * threads, cachePages: cachePages + 64, timed, setup(as) { p.roles = roles(as); } };
    return p;
  };
  switch (workload) {
    case 'page_fault1':
      return plain(each(() => role({ role: 'page_fault1', bytes: PF_BYTES })), faulters * pages(PF_BYTES), 0);
    case 'mmap1':
      return plain(each(() => role({ role: 'mmap1', bytes: PF_BYTES })), 0, 0);
    case 'page_fault2':
    case 'page_fault3':
    case 'mmap2': // will-it-scale: each task maps its own temporary file
      return plain(each((as, i) => role({ role: workload, bytes: PF_BYTES, file: addSyntheticFile(as, `/tmp/willitscale.${workload}.${i}`, 100 + i, PF_BYTES, 0) })),
        (workload === 'mmap2' ? 0 : 2) * faulters * pages(PF_BYTES), (workload === 'mmap2' ? 0 : 1) * faulters * pages(PF_BYTES));
    case 'churn': {
      // a slice zapped waits a grace period to be freed: room for two
      return plain((as) => {
        const big = sysMmap(as.mm, 0, faulters * SLICE_BYTES, 3, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
        if (big < 0) throw new Error(`churn: mmap failed (${big})`);
        return each((_, i) => role({ role: 'region', bytes: SLICE_BYTES, start: big + i * SLICE_BYTES }))(as);
      }, 2 * faulters * pages(SLICE_BYTES), 0, (r) => r.role === 'churn');
    }
    case 'io':
      return plain(each((as, i) => role({ role: 'io', bytes: IO_BYTES, file: addSyntheticFile(as, `io${i}`, 10 + i, IO_BYTES, IO_LATENCY_US) })),
        2 * faulters * pages(IO_BYTES), faulters * pages(IO_BYTES), (r) => r.role === 'churn');
    case 'trace': {
      if (!trace) throw new Error('workload trace needs a trace (--trace FILE)');
      return plain((as) => {
        const fileIds = trace.files.map((path, i) => addSyntheticFile(as, path, 1000 + i, Infinity, 0));
        return each(() => role({ role: 'trace', trace: { program: trace, fileIds, pagesPerPass: TRACE_PAGES_PER_PASS } }))(as);
      }, 2 * faulters * TRACE_PAGES_PER_PASS + TRACE_PAGES_PER_PASS, TRACE_PAGES_PER_PASS);
    }
  }
}

/**
 * One run of a point: a fresh address space, the plan's workers, a warm-up, then `repetitions` measured
 * intervals back to back — the workers keep running across them, as will-it-scale's do, so each sample is
 * taken from warm code and a settled address space. Returns the samples, the design's counters and the
 * timed munmaps (µs) of the measured intervals.
 */
async function runSamples(design: string, p: Plan, opts: RunOptions): Promise<{ samples: Sample[]; counters: Counters; munmapUs: number[] }> {
  const as = AddressSpace.create({ design, frames: p.frames, cachePages: p.cachePages, tables: Math.ceil(p.frames / 512) * 2 + 4096 }); // tables freed by churn wait a grace period
  p.setup(as);
  const ctl = new SharedArrayBuffer(12); // [phase, workers running, io faults in flight]
  const c = new Int32Array(ctl);
  const tallyBuf = new SharedArrayBuffer(p.roles.length * TALLY_STRIDE * 4);
  const tally = new Int32Array(tallyBuf);
  const waitLimitMs = opts.waitLimitMs ?? 60_000;
  const workers = p.roles.map((r, index) => new Worker(new URL('../workloads/worker.js', import.meta.url), { workerData: { ...r, as: as.handle(), ctl, tally: tallyBuf, index, waitLimitMs } }));
  // This thread only waits from now on: offline, it holds up no grace period.
  as.rcu.threadOffline();
  let failed: Error | undefined;
  const results = workers.map((w, i) => new Promise<RoleResult>((resolve, reject) => {
    const fail = (e: Error) => {
      failed ??= e;
      Atomics.store(c, 0, 2); // stop the others
      reject(e);
    };
    w.once('message', (m: { ok: boolean; result: RoleResult; error: string }) => (m.ok ? resolve(m.result) : fail(new Error(`${design} ${p.roles[i]!.role} worker: ${m.error}`))));
    w.once('error', fail);
  }));
  results.forEach((r) => r.catch(() => {})); // awaited below; a failure must not go unhandled meanwhile
  const isFault = p.roles.map((r) => r.role !== 'churn');
  const read = () => {
    const t = performance.now();
    let ops = 0, faults = 0, churnOps = 0;
    for (let i = 0; i < p.roles.length; i++) {
      const b = i * TALLY_STRIDE;
      if (isFault[i]) {
        ops += tally[b + TALLY_OPS]! >>> 0;
        faults += tally[b + TALLY_FAULTS]! >>> 0;
      } else {
        churnOps += tally[b + TALLY_CHURN]! >>> 0;
      }
    }
    return { t, ops, faults, churnOps };
  };
  const wrap = (d: number) => (d < 0 ? d + 2 ** 32 : d); // totals are 32-bit words
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const samples: Sample[] = [];
  const withChurn = p.roles.some((r) => r.role === 'churn') && p.roles.some((r) => r.role === 'region');
  try {
    // A worker needs a while to load its modules and attach: the warm-up starts once every one runs.
    while (Atomics.load(c, 1) < p.roles.length && !failed) await sleep(2);
    await sleep(opts.warmupMs);
    Atomics.store(c, 0, 1);
    let prev = read();
    for (let i = 0; i < opts.repetitions && !failed; i++) {
      await sleep(opts.durationMs);
      const now = read();
      const s: Sample = { elapsedMs: now.t - prev.t, ops: wrap(now.ops - prev.ops), faults: wrap(now.faults - prev.faults) };
      if (withChurn) s.churnOps = wrap(now.churnOps - prev.churnOps);
      samples.push(s);
      prev = now;
    }
  } finally {
    Atomics.store(c, 0, 2);
  }
  const rs = await Promise.all(results).finally(() => Promise.all(workers.map((w) => w.terminate())));
  as.rcu.threadOnline();
  as.exit();
  const counters: Counters = { fastPath: 0, retry: 0, fallback: 0, extra: {} };
  for (const r of rs) addCounters(counters, r.counters);
  const munmapUs: number[] = [];
  rs.forEach((r, i) => {
    if (p.timed(p.roles[i]!)) for (const us of r.munmapUs) munmapUs.push(us);
  });
  return { samples, counters, munmapUs };
}

function addCounters(into: Counters, c: Counters): void {
  into.fastPath += c.fastPath;
  into.retry += c.retry;
  into.fallback += c.fallback;
  for (const [k, v] of Object.entries(c.extra ?? {})) into.extra![k] = (into.extra![k] ?? 0) + v;
}

export function percentiles(us: number[]): LatencyPercentiles | undefined {
  if (us.length === 0) return undefined;
  const s = Float64Array.from(us).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { count: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]! };
}

/** Runs a point and returns its entry in the results format. */
export async function runPoint(design: DesignName, workload: WorkloadName, threads: number, opts: RunOptions): Promise<Entry> {
  const { samples, counters, munmapUs } = await runSamples(design, plan(workload, threads, undefined, opts.trace), opts);
  const entry: Entry = {
    design,
    workload,
    threads,
    samples,
    median: { opsPerSec: median(samples.map((s) => s.ops / (s.elapsedMs / 1000))), faultsPerSec: median(samples.map((s) => s.faults / (s.elapsedMs / 1000))) },
    counters,
  };
  const lat = percentiles(munmapUs);
  if (lat) entry.munmapLatencyUs = lat;
  if (workload === 'churn') {
    // The churn-free baseline: the same fault workers, no churn worker.
    const base = await runSamples(design, plan(workload, threads - 1, 0, opts.trace), opts);
    const churn: ChurnInfo = {
      faultWorkers: threads - 1,
      churnWorkers: 1,
      churnOpsPerSec: median(samples.map((s) => (s.churnOps ?? 0) / (s.elapsedMs / 1000))),
      baselineFaultsPerSec: median(base.samples.map((s) => s.faults / (s.elapsedMs / 1000))),
      baselineSamples: base.samples,
    };
    entry.churn = churn;
  }
  return entry;
}
