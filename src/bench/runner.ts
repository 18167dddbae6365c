/**
 * Runs one (design, workload, threads) point of the lab: a fresh address space per repetition, the
 * workload's roles on real worker threads, a warm-up, a measured interval, and the samples, counters and
 * munmap latencies the results format (docs/results-format.md) wants.
 */
import { Worker } from 'node:worker_threads';
import { AddressSpace } from '../designs/address-space.js';
import { PAGE_SIZE } from '../mm/frames.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, sysMmap } from '../mm/mmap.js';
import type { RoleParams, RoleResult } from '../workloads/roles.js';
import { median, type ChurnInfo, type Counters, type DesignName, type Entry, type LatencyPercentiles, type Sample, type WorkloadName } from './results.js';

export interface RunOptions {
  durationMs: number;
  warmupMs: number;
  repetitions: number;
  /** How long any one wait may last before the run fails (a lost wake-up). */
  waitLimitMs?: number;
}

/** Workloads the runner knows (the rest of WORKLOAD_NAMES are not built yet). */
export const RUNNABLE_WORKLOADS: readonly WorkloadName[] = ['page_fault1', 'page_fault2', 'churn', 'io'];

const MiB = 1024 * 1024;
/** will-it-scale's page_fault size. */
const PF_BYTES = 128 * MiB;
/** churn: each fault worker's slice of the large mapping. */
const SLICE_BYTES = 64 * MiB;
/** io: the file's size, and how long each of its page-cache misses sleeps. */
const IO_BYTES = 16 * MiB;
const IO_LATENCY_US = 500;

interface Plan {
  roles: RoleParams[];
  frames: number;
  cachePages: number;
  /** Roles whose munmaps make the entry's latency percentiles. */
  timed: (r: RoleParams) => boolean;
  setup(as: AddressSpace): void;
}

/** Which role each thread takes, and what the address space needs. */
export function plan(workload: WorkloadName, threads: number, churnWorkers = workload === 'churn' || workload === 'io' ? 1 : 0): Plan {
  const role = (r: Partial<RoleParams> & Pick<RoleParams, 'role'>): RoleParams => ({ bytes: 0, start: 0, file: 0, ...r });
  const churners = Array.from({ length: churnWorkers }, () => role({ role: 'churn' }));
  const faulters = threads - churnWorkers;
  if (faulters < 1) throw new Error(`${workload} needs at least ${churnWorkers + 1} threads`);
  const pages = (b: number) => b / PAGE_SIZE;
  switch (workload) {
    case 'page_fault1':
      return { roles: Array.from({ length: threads }, () => role({ role: 'page_fault1', bytes: PF_BYTES })), frames: threads * pages(PF_BYTES) + 8192, cachePages: 64, timed: () => true, setup() {} };
    case 'page_fault2': {
      const p: Plan = {
        roles: [], frames: (threads + 1) * pages(PF_BYTES) + 8192, cachePages: pages(PF_BYTES) + 64, timed: () => true,
        setup(as) {
          const file = as.mm.addFile({ path: 'page_fault2', dev: '00:00', inode: 2, writable: true, readable: true, size: PF_BYTES, shmem: false, latencyUs: 0 });
          p.roles = Array.from({ length: threads }, () => role({ role: 'page_fault2', bytes: PF_BYTES, file }));
        },
      };
      return p;
    }
    case 'churn': {
      const p: Plan = {
        roles: [], frames: 2 * faulters * pages(SLICE_BYTES) + 8192 * threads, // a slice zapped waits a grace period to be freed
        cachePages: 64, timed: (r) => r.role === 'churn',
        setup(as) {
          const big = sysMmap(as.mm, 0, faulters * SLICE_BYTES, 3, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
          if (big < 0) throw new Error(`churn: mmap failed (${big})`);
          p.roles = [...Array.from({ length: faulters }, (_, i) => role({ role: 'region', bytes: SLICE_BYTES, start: big + i * SLICE_BYTES })), ...churners];
        },
      };
      return p;
    }
    case 'io': {
      const p: Plan = {
        roles: [], frames: pages(IO_BYTES) * 2 * faulters + 8192 * threads, cachePages: pages(IO_BYTES) * faulters + 64, timed: (r) => r.role === 'churn',
        setup(as) {
          p.roles = [
            ...Array.from({ length: faulters }, (_, i) =>
              role({ role: 'io', bytes: IO_BYTES, file: as.mm.addFile({ path: `io${i}`, dev: '00:00', inode: 10 + i, writable: false, readable: true, size: IO_BYTES, shmem: false, latencyUs: IO_LATENCY_US }) })),
            ...churners,
          ];
        },
      };
      return p;
    }
    default:
      throw new Error(`workload '${workload}' is not built yet (have: ${RUNNABLE_WORKLOADS.join(', ')})`);
  }
}

/** One repetition: returns the sample, the design's counters and the timed munmaps (µs). */
async function runOnce(design: string, p: Plan, opts: RunOptions): Promise<{ sample: Sample; counters: Counters; munmapUs: number[] }> {
  const as = AddressSpace.create({ design, frames: p.frames, cachePages: p.cachePages, tables: Math.ceil(p.frames / 512) * 2 + 4096 }); // tables freed by churn wait a grace period
  p.setup(as);
  const ctl = new SharedArrayBuffer(4);
  const c = new Int32Array(ctl);
  const waitLimitMs = opts.waitLimitMs ?? 60_000;
  const workers = p.roles.map((r) => new Worker(new URL('../workloads/worker.js', import.meta.url), { workerData: { ...r, as: as.handle(), ctl, waitLimitMs } }));
  // This thread only waits from now on: offline, it holds up no grace period.
  as.rcu.threadOffline();
  const results = workers.map((w, i) => new Promise<RoleResult>((resolve, reject) => {
    w.once('message', (m: { ok: boolean; result: RoleResult; error: string }) => (m.ok ? resolve(m.result) : reject(new Error(`${design} ${p.roles[i]!.role} worker: ${m.error}`))));
    w.once('error', reject);
  }));
  try {
    await new Promise((r) => setTimeout(r, opts.warmupMs));
    Atomics.store(c, 0, 1);
    await new Promise((r) => setTimeout(r, opts.durationMs));
  } finally {
    Atomics.store(c, 0, 2);
  }
  const rs = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  as.rcu.threadOnline();
  as.exit();
  const faultRoles = rs.filter((_, i) => p.roles[i]!.role !== 'churn');
  const sample: Sample = {
    elapsedMs: Math.max(...rs.map((r) => r.elapsedMs)),
    ops: faultRoles.reduce((s, r) => s + r.ops, 0),
    faults: faultRoles.reduce((s, r) => s + r.faults, 0),
  };
  const churnOps = rs.reduce((s, r) => s + r.churnOps, 0);
  if (p.roles.some((r) => r.role === 'churn') && p.roles.some((r) => r.role === 'region')) sample.churnOps = churnOps;
  const counters: Counters = { fastPath: 0, retry: 0, fallback: 0, extra: {} };
  for (const r of rs) addCounters(counters, r.counters);
  const munmapUs: number[] = [];
  rs.forEach((r, i) => {
    if (p.timed(p.roles[i]!)) for (const us of r.munmapUs) munmapUs.push(us);
  });
  return { sample, counters, munmapUs };
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

async function repeat(design: string, workload: WorkloadName, threads: number, churnWorkers: number | undefined, opts: RunOptions) {
  const samples: Sample[] = [];
  const counters: Counters = { fastPath: 0, retry: 0, fallback: 0, extra: {} };
  const munmapUs: number[] = [];
  for (let i = 0; i < opts.repetitions; i++) {
    const r = await runOnce(design, plan(workload, threads, churnWorkers), opts);
    samples.push(r.sample);
    addCounters(counters, r.counters);
    for (const us of r.munmapUs) munmapUs.push(us);
  }
  return { samples, counters, munmapUs };
}

/** Runs a point and returns its entry in the results format. */
export async function runPoint(design: DesignName, workload: WorkloadName, threads: number, opts: RunOptions): Promise<Entry> {
  const { samples, counters, munmapUs } = await repeat(design, workload, threads, undefined, opts);
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
    const base = await repeat(design, workload, threads - 1, 0, opts);
    const churn: ChurnInfo = {
      faultWorkers: threads - 1,
      churnWorkers: 1,
      churnOpsPerSec: median(samples.map((s) => (s.churnOps ?? 0) / (s.elapsedMs / 1000))),
      baselineFaultsPerSec: median(base.samples.map((s) => s.faults / (s.elapsedMs / 1000))),
    };
    entry.churn = churn;
  }
  return entry;
}
