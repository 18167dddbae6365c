/**
 * Runs one (design, workload, threads) point of the lab: a fresh address space per repetition, the
 * workload's roles on real worker threads, a warm-up, a measured interval, and the samples, counters and
 * munmap latencies the results format (docs/results-format.md) wants.
 */
import { Worker } from 'node:worker_threads';
import { AddressSpace } from '../designs/address-space.js';
import { PAGE_SIZE } from '../mm/frames.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../mm/uapi.js';
import { sysMmap } from '../mm/mmap.js';
import { isUpdater, LOOKUP_REGION_BYTES, LOOKUP_VMA_PAGES, LOOKUP_VMAS, mapLookupRegion, TALLY_CHURN, TALLY_EXTRA, TALLY_FALLBACK, TALLY_FAST_PATH, TALLY_FAULTS, TALLY_OPS, TALLY_RETRY, TALLY_SEQ, TALLY_STRIDE, type RoleParams, type RoleResult } from '../workloads/roles.js';
import type { TraceProgram } from '../workloads/trace.js';
import { cpuBetween, readCpu } from './cpu.js';
import { interferenceMedians, median, sampleMedians, type Counters, type CpuRun, type DesignName, type Entry, type Failure, type Interference, type LatencyPercentiles, type Sample, type WorkloadName } from './results.js';

export interface RunOptions {
  durationMs: number;
  warmupMs: number;
  /** Measured samples per point, over all its rounds. */
  repetitions: number;
  /** How long any one wait may last before the run fails (a lost wake-up). */
  waitLimitMs?: number;
  /** The program workload 'trace' replays (compileTrace). */
  trace?: TraceProgram;
  /** How often at most, over all its rounds, a point's disturbed rounds are run again (default 0). */
  reruns?: number;
  /** How many crews a point's repetitions are split over, interleaved with the other points' (default 1). */
  rounds?: number;
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
/** maps-read: the anonymous range whose pages the updater unmaps and maps again (McKenney's 128 MB). */
const REMAP_BYTES = 128 * MiB;

/**
 * The fewest threads a workload runs with: churn, io, vma-lookup and maps-read have a thread that changes the
 * address space (churn, or maps-read's updater) beside one doing the workload's own work.
 */
export function minThreadsOf(workload: WorkloadName): number {
  return workload === 'churn' || workload === 'io' || workload === 'vma-lookup' || workload === 'maps-read' ? 2 : 1;
}

/** Each workload's parameters, as the results file records them (configuration.workloadParams). */
export function workloadParams(workload: WorkloadName, trace?: TraceProgram): Record<string, string | number | boolean> {
  switch (workload) {
    case 'page_fault1': case 'page_fault2': case 'page_fault3': case 'mmap1': case 'mmap2':
      return { bytesPerPass: PF_BYTES, ...(workload === 'page_fault1' || workload === 'mmap1' ? {} : { filePerWorker: true }) };
    case 'churn': return { sliceBytes: SLICE_BYTES, churnWorkers: 1, churnRegionBytes: 4 * PAGE_SIZE };
    case 'io': return { fileBytes: IO_BYTES, missLatencyUs: IO_LATENCY_US, churnWorkers: 1 };
    case 'vma-lookup': return { vmas: LOOKUP_VMAS, vmaBytes: LOOKUP_VMA_PAGES * PAGE_SIZE, churnWorkers: 1, churnRegionBytes: 4 * PAGE_SIZE };
    case 'maps-read': return { vmas: LOOKUP_VMAS, vmaBytes: LOOKUP_VMA_PAGES * PAGE_SIZE, updaters: 1, remapBytes: REMAP_BYTES };
    case 'trace': return trace ? { trace: trace.source, calls: trace.calls.length, files: trace.files.length, pagesPerPass: TRACE_PAGES_PER_PASS } : { pagesPerPass: TRACE_PAGES_PER_PASS };
  }
}

export interface Plan {
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
export function plan(workload: WorkloadName, threads: number, churnWorkers = minThreadsOf(workload) - 1, trace?: TraceProgram): Plan {
  const role = (r: Partial<RoleParams> & Pick<RoleParams, 'role'>): RoleParams => ({ bytes: 0, start: 0, file: 0, ...r });
  // io: the latency that matters is munmap's while a fault waits for the disk, not in the moments between.
  const churners = Array.from({ length: churnWorkers }, () => role({ role: 'churn', timeWhileIoInFlight: workload === 'io' }));
  // What churn workers are to the others, the updater is to maps-read's readers.
  const updaters = (start: number) => Array.from({ length: churnWorkers }, (_, i) => role({ role: 'remap', start, bytes: REMAP_BYTES, seed: i + 1 }));
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
        const big = sysMmap(as.mm, 0, faulters * SLICE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
        if (big < 0) throw new Error(`churn: mmap failed (${big})`);
        return each((_, i) => role({ role: 'region', bytes: SLICE_BYTES, start: big + i * SLICE_BYTES }))(as);
      }, 2 * faulters * pages(SLICE_BYTES), 0, (r) => r.role === 'churn');
    }
    case 'io':
      return plain(each((as, i) => role({ role: 'io', bytes: IO_BYTES, file: addSyntheticFile(as, `io${i}`, 10 + i, IO_BYTES, IO_LATENCY_US) })),
        2 * faulters * pages(IO_BYTES), faulters * pages(IO_BYTES), (r) => r.role === 'churn');
    case 'vma-lookup': // uprobe hits while one thread maps and unmaps (the 6.14 speculation's workload)
      return plain((as) => {
        const file = addSyntheticFile(as, 'lookup', 9, Infinity, 0);
        const start = mapLookupRegion(as, file);
        return each((_, i) => role({ role: 'lookup', start, bytes: LOOKUP_REGION_BYTES, file, seed: i + 1 }))(as);
      }, 0, 0, (r) => r.role === 'churn');
    case 'maps-read': // Paul McKenney's test from the 6.17 series: maps readers while a thread unmaps and remaps pages
      return plain((as) => {
        const file = addSyntheticFile(as, 'maps-read', 9, Infinity, 0);
        const start = mapLookupRegion(as, file);
        const range = sysMmap(as.mm, 0, REMAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
        if (range < 0) throw new Error(`maps-read: mmap of the updater's range failed (${range})`);
        const readers = Array.from({ length: faulters }, () => role({ role: 'maps', start, bytes: LOOKUP_REGION_BYTES }));
        return [...readers, ...updaters(range)];
      }, churnWorkers * pages(REMAP_BYTES), 0, (r) => r.role === 'remap');
    case 'trace': {
      if (!trace) throw new Error('workload trace needs a trace (--trace FILE)');
      return plain((as) => {
        const fileIds = trace.files.map((path, i) => addSyntheticFile(as, path, 1000 + i, Infinity, 0));
        return each(() => role({ role: 'trace', trace: { program: trace, fileIds, pagesPerPass: TRACE_PAGES_PER_PASS } }))(as);
      }, 2 * faulters * TRACE_PAGES_PER_PASS + TRACE_PAGES_PER_PASS, TRACE_PAGES_PER_PASS);
    }
  }
}

/** What one run of a point measured, and how it ended. */
export interface Run {
  samples: Sample[];
  counters: Counters;
  munmapUs: number[];
  failure?: Failure;
}

/**
 * A plan's workers, started on a fresh address space: the control words, their tallies and thread ids, and
 * how they ended. The runner cuts samples out of a crew's tallies; a test can let one run to a quota.
 */
export interface Crew {
  readonly as: AddressSpace;
  /** [phase (0 warm-up, 1 measuring, 2 stop), workers running, io faults in flight]. */
  readonly ctl: Int32Array;
  /** Each worker's TALLY_STRIDE words (roles.ts). */
  readonly tally: Int32Array;
  /** Each worker's kernel thread id once it runs (0 before, or where there is none). */
  readonly tids: Int32Array;
  /** The first worker failure, once there is one (the others are told to stop). */
  readonly failure: Failure | undefined;
  /** Tells the workers to stop, waits for them and leaves the address space; each one's result, if it had one. */
  stop(): Promise<(RoleResult | undefined)[]>;
}

/** A fresh address space for plan `p` under `design`, set up for its roles (p.roles filled in). */
export function planSpace(design: string, p: Plan, populate: boolean, maxThreads?: number): AddressSpace {
  // Tables freed by churn wait a grace period: room for many.
  const as = AddressSpace.create({ design, frames: p.frames, cachePages: p.cachePages, tables: Math.ceil(p.frames / 512) * 2 + 4096, populate, ...(maxThreads ? { maxThreads } : {}) });
  p.setup(as);
  return as;
}

/**
 * A crew's running totals, word by word (TALLY_*): the fault workers' (those whose faults the samples
 * count, so that the counters add up to the faults beside them), and the churn calls of the others.
 */
export function crewTotals(tally: Int32Array, isFault: readonly boolean[]): Float64Array {
  const words = new Float64Array(TALLY_STRIDE);
  const one = new Int32Array(TALLY_SEQ);
  for (let i = 0; i < isFault.length; i++) {
    readTally(tally, i * TALLY_STRIDE, one);
    if (isFault[i]) for (let w = 0; w < TALLY_SEQ; w++) words[w] += one[w]! >>> 0;
    else words[TALLY_CHURN] += one[TALLY_CHURN]! >>> 0;
  }
  return words;
}

/** How long crewTotals waits for a worker that is writing its words (roles.ts's TALLY_SEQ), ms. */
const SNAPSHOT_WAIT_MS = 1;

/**
 * The words of the worker whose tally starts at `b`, as of one instant: read between two equal, even values
 * of its seqcount. A worker kept off its CPU while it writes them is waited for no longer than
 * SNAPSHOT_WAIT_MS; its words are then taken as they are, off by its one operation at most.
 */
export function readTally(tally: Int32Array, b: number, out: Int32Array): void {
  let since = -1;
  for (let tries = 1; ; tries++) {
    const seq = Atomics.load(tally, b + TALLY_SEQ);
    for (let w = 0; w < TALLY_SEQ; w++) out[w] = tally[b + w]!;
    if ((seq & 1) === 0 && Atomics.load(tally, b + TALLY_SEQ) === seq) return;
    if ((tries & 63) === 0) {
      const now = performance.now();
      if (since < 0) since = now;
      else if (now - since >= SNAPSHOT_WAIT_MS) return;
    }
  }
}

/** The totals are 32-bit words: what one grew by from `a` to `b`. */
const delta = (a: number, b: number) => { const d = (b - a) % 2 ** 32; return d < 0 ? d + 2 ** 32 : d; };

/** The sample between two crewTotals `elapsedMs` apart; its design counters are added to `window`. */
export function sampleBetween(prev: Float64Array, now: Float64Array, elapsedMs: number, withChurn: boolean, window: Float64Array): Sample {
  const s: Sample = { elapsedMs, ops: delta(prev[TALLY_OPS]!, now[TALLY_OPS]!), faults: delta(prev[TALLY_FAULTS]!, now[TALLY_FAULTS]!) };
  if (withChurn) s.churnOps = delta(prev[TALLY_CHURN]!, now[TALLY_CHURN]!);
  for (let w = TALLY_FAST_PATH; w < TALLY_SEQ; w++) window[w] += delta(prev[w]!, now[w]!);
  return s;
}

/** The counters a window of samples added up (sampleBetween), named as the results format names them. */
export function windowCounters(window: Float64Array, extraNames: readonly string[]): Counters {
  const counters: Counters = { fastPath: window[TALLY_FAST_PATH]!, retry: window[TALLY_RETRY]!, fallback: window[TALLY_FALLBACK]!, extra: {} };
  extraNames.forEach((name, i) => (counters.extra![name] = window[TALLY_EXTRA + i]!));
  return counters;
}

/** Whether a plan's samples count churn calls: churn workers beside the fault workers of `region`. */
export function countsChurn(p: Plan): boolean {
  return p.roles.some((r) => r.role === 'churn') && p.roles.some((r) => r.role === 'region');
}

/** Starts `p`'s workers under `design`; `populate` backs the memory first (what the lab measures does). */
export function startCrew(design: string, p: Plan, waitLimitMs: number, populate: boolean): Crew {
  const as = planSpace(design, p, populate);
  const n = p.roles.length;
  const ctl = new SharedArrayBuffer(12);
  const c = new Int32Array(ctl);
  const tallyBuf = new SharedArrayBuffer(n * TALLY_STRIDE * 4);
  const tidsBuf = new SharedArrayBuffer(n * 4);
  const workers = p.roles.map((r, index) => new Worker(new URL('../workloads/worker.js', import.meta.url), { workerData: { ...r, as: as.handle(), ctl, tally: tallyBuf, tids: tidsBuf, index, waitLimitMs } }));
  // This thread only waits from now on: offline, it holds up no grace period.
  as.rcu.threadOffline();
  let failure: Failure | undefined;
  const results = workers.map((w, i) => new Promise<RoleResult | undefined>((resolve) => {
    const fail = (f: Failure) => {
      failure ??= f;
      Atomics.store(c, 0, 2); // stop the others
      resolve(undefined);
    };
    w.once('message', (m: { ok: boolean; result: RoleResult; error: string; oom?: boolean }) =>
      m.ok ? resolve(m.result) : fail({ kind: m.oom ? 'oom' : 'error', message: `${design} ${p.roles[i]!.role} worker: ${m.error}` }));
    w.once('error', (e) => fail({ kind: 'error', message: `${design} ${p.roles[i]!.role} worker: ${e.stack ?? e}` }));
  }));
  return {
    as,
    ctl: c,
    tally: new Int32Array(tallyBuf),
    tids: new Int32Array(tidsBuf),
    get failure() {
      return failure;
    },
    async stop() {
      Atomics.store(c, 0, 2);
      const rs = await Promise.all(results).finally(() => Promise.all(workers.map((w) => w.terminate())));
      as.rcu.threadOnline();
      as.exit();
      // Every worker has ended: its memory serves the next crew (populated already).
      if (populate) as.release();
      return rs;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How much longer than warmupMs a warm-up may last on a machine that keeps the workers off their CPUs. */
const WARMUP_STRETCH = 8;

/**
 * Waits out the warm-up: `warmupMs` of the workers' time, not of the clock's — the wall time plus what the
 * workers spent waiting on a run queue meanwhile (on average per worker), so that workers kept off their
 * CPUs by other processes reach the same point (their code compiled to the same tier, V8's compiler
 * threads starved alongside them; the address space as settled) as they would quiet, before anything is
 * measured. Bounded at WARMUP_STRETCH × warmupMs. Where the run queue cannot be read, plain wall time.
 */
async function warmUp(tids: Int32Array, warmupMs: number, stop: () => boolean): Promise<void> {
  const t0 = performance.now();
  const first = readCpu(tids).workers;
  let end = t0 + warmupMs;
  for (let now = t0; now < end && !stop(); now = performance.now()) {
    await sleep(Math.min(end - now, 50));
    const w = readCpu(tids).workers;
    if (first && w) end = Math.min(t0 + WARMUP_STRETCH * warmupMs, t0 + warmupMs + (w[1] - first[1]) / 1e6 / tids.length);
  }
}

/**
 * One run of a point: the plan's crew on a populated address space (so that no sample pays the host's first
 * touch of its memory), a warm-up, then `repetitions` measured intervals back to back — the workers keep
 * running across them, as will-it-scale's do, so each sample is taken from warm code and a settled address
 * space. Every figure of a sample — ops, faults, the design's counters, the CPU its workers got — is cut at
 * the same two instants. The counters are the fault workers' (those whose faults the samples count), so
 * that they add up to the faults beside them.
 *
 * A worker that fails ends the run early with the samples taken so far and a Failure (kind 'oom' when the
 * address space truly ran out of frames), never with an exception that would lose the lab's other points.
 *
 * `beforeSample`, where given, runs before the warm-up (i = -1) and before each sample (i = 0, 1 …), and
 * the sample starts when it has finished: bench:interference changes the machine's load there, so that
 * the samples of one crew alternate between loads.
 */
async function runSamples(design: string, p: Plan, opts: RunOptions, beforeSample?: (i: number) => Promise<void>): Promise<Run> {
  const crew = startCrew(design, p, opts.waitLimitMs ?? 60_000, true);
  const { ctl: c, tally, tids } = crew;
  const n = p.roles.length;
  const isFault = p.roles.map((r) => !isUpdater(r.role));
  const read = () => ({ t: performance.now(), words: crewTotals(tally, isFault), cpu: readCpu(tids) });
  const samples: Sample[] = [];
  const window = new Float64Array(TALLY_STRIDE); // the counters over the samples
  const withChurn = countsChurn(p);
  try {
    // A worker needs a while to load its modules and attach: the warm-up starts once every one runs.
    while (Atomics.load(c, 1) < n && !crew.failure) await sleep(2);
    await beforeSample?.(-1);
    await warmUp(tids, opts.warmupMs, () => crew.failure !== undefined);
    Atomics.store(c, 0, 1);
    let prev = read();
    for (let i = 0; i < opts.repetitions && !crew.failure; i++) {
      if (beforeSample) {
        await beforeSample(i);
        prev = read();
      }
      await sleep(opts.durationMs);
      const now = read();
      if (crew.failure) break; // a worker died inside the interval: it is not a sample
      const s = sampleBetween(prev.words, now.words, now.t - prev.t, withChurn, window);
      const cpu = cpuBetween(prev.cpu, now.cpu, n * (now.t - prev.t));
      if (cpu) s.cpu = cpu;
      samples.push(s);
      prev = now;
    }
  } finally {
    Atomics.store(c, 0, 2);
  }
  const rs = await crew.stop();
  const failure = crew.failure;
  const extraNames = rs.find((r) => r !== undefined)?.extraNames ?? [];
  const counters = windowCounters(window, extraNames);
  const munmapUs: number[] = [];
  rs.forEach((r, i) => {
    if (r && p.timed(p.roles[i]!)) for (const us of r.munmapUs) munmapUs.push(us);
  });
  return { samples, counters, munmapUs, ...(failure ? { failure } : {}) };
}

export function percentiles(us: number[]): LatencyPercentiles | undefined {
  if (us.length === 0) return undefined;
  const s = Float64Array.from(us).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { count: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1]! };
}

/**
 * The point is disturbed when its workers spent more than DISTURBED_RUNQUEUE_SHARE of their time runnable
 * but waiting for a CPU, while other processes kept more than DISTURBED_OTHER_CPUS busy. Both are needed: a
 * design's own threads also make each other wait on a run queue (a woken waiter placed on the CPU of the
 * thread that woke it waits until that one sleeps — up to 9% here, quiet, for the mmap_lock baseline), and
 * other processes that leave every worker its core take nothing from it (one busy process beside one
 * worker on two cores). Measured on 2 cores: quiet, under 0.1 CPUs of others and under 10% waiting; beside
 * one busy process, 2 workers wait about a third of the time; beside two, about half.
 */
export const DISTURBED_RUNQUEUE_SHARE = 0.1;
export const DISTURBED_OTHER_CPUS = 0.25;

/** How much the machine took from the workers of these runs (each with its own worker count). */
export function judgeInterference(runs: CpuRun[], attempts: number): Interference | undefined {
  const m = interferenceMedians(runs);
  if (!m) return undefined;
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const reason = m.runqueueShare > DISTURBED_RUNQUEUE_SHARE && m.otherBusyCpus > DISTURBED_OTHER_CPUS
    ? `its workers waited for a CPU ${pct(m.runqueueShare)} of the time while other processes kept ${m.otherBusyCpus.toFixed(1)} CPUs busy`
    : undefined;
  return { disturbed: reason !== undefined, attempts, ...m, ...(reason ? { reason } : {}) };
}

/** A point of the lab: a design running a workload on a number of worker threads. */
export interface Point {
  design: DesignName;
  workload: WorkloadName;
  threads: number;
}

/**
 * How many of a point's `repetitions` samples its round `r` (of `rounds`) takes: as even as they split, the
 * earlier rounds taking one more. A round with none is not run.
 */
export function samplesOfRound(repetitions: number, rounds: number, r: number): number {
  return Math.floor(repetitions / rounds) + (r < repetitions % rounds ? 1 : 0);
}

/** One round of a point: one crew's samples (and, for churn, its churn-free baseline's), as kept. */
export interface Round {
  run: Run;
  base?: Run;
  attempts: number;
  runqueueShare: number;
}

/**
 * A round of a point: `samples` samples from one crew, re-run while disturbed (`reruns` times at most), the
 * least disturbed attempt kept.
 */
export async function measureRound(p: Point, samples: number, opts: RunOptions, reruns = opts.reruns ?? 0): Promise<Round> {
  let kept: Round | undefined;
  for (let attempts = 1; attempts <= 1 + reruns; attempts++) {
    const o = { ...opts, repetitions: samples };
    const run = await runSamples(p.design, plan(p.workload, p.threads, undefined, opts.trace), o);
    // churn's figure is the faults kept against the same fault workers with no churn worker beside them.
    const base = p.workload === 'churn' && !run.failure ? await runSamples(p.design, plan(p.workload, p.threads - 1, 0, opts.trace), o) : undefined;
    const judged = judgeInterference([{ samples: run.samples, workers: p.threads }, ...(base ? [{ samples: base.samples, workers: p.threads - 1 }] : [])], attempts);
    const round: Round = { run, ...(base ? { base } : {}), attempts, runqueueShare: judged?.runqueueShare ?? 0 };
    const failed = run.failure ?? base?.failure;
    if (!kept || failed || round.runqueueShare < kept.runqueueShare) kept = { ...round };
    kept.attempts = attempts;
    if (failed || !judged?.disturbed) break;
  }
  return kept!;
}

/**
 * One crew of plan `p`, `samples` samples, no churn-free baseline and no re-runs: what a load of the
 * machine does to a crew whose samples alternate between loads (bench:interference, where `beforeSample`
 * sets the load before the warm-up and before each sample: runSamples), or what one plan's work alone
 * runs at (the simulator's calibration, src/sim/simulate.ts).
 */
export function measureCrew(design: string, p: Plan, samples: number, opts: RunOptions, beforeSample?: (i: number) => Promise<void>): Promise<Run> {
  return runSamples(design, p, { ...opts, repetitions: samples }, beforeSample);
}

/** Whether a point's rounds ended in a failure (then it runs no more). */
export function roundsFailed(rounds: readonly Round[]): boolean {
  return rounds.some((r) => r.run.failure !== undefined || r.base?.failure !== undefined);
}

/** A point's entry in the results format, from the rounds it ran (the last may have failed). */
export function entryOf(p: Point, rounds: Round[]): Entry {
  const samples = rounds.flatMap((r) => r.run.samples);
  const counters: Counters = { fastPath: 0, retry: 0, fallback: 0, extra: {} };
  for (const { run } of rounds) {
    counters.fastPath += run.counters.fastPath;
    counters.retry += run.counters.retry;
    counters.fallback += run.counters.fallback;
    for (const [k, v] of Object.entries(run.counters.extra ?? {})) counters.extra![k] = (counters.extra![k] ?? 0) + v;
  }
  const entry: Entry = { design: p.design, workload: p.workload, threads: p.threads, samples, median: sampleMedians(samples), counters };
  const lat = percentiles(rounds.flatMap((r) => r.run.munmapUs));
  if (lat) entry.munmapLatencyUs = lat;
  const bases = rounds.flatMap((r) => (r.base ? [r.base] : []));
  if (bases.length > 0) {
    const baselineSamples = bases.flatMap((b) => b.samples);
    entry.churn = {
      faultWorkers: p.threads - 1,
      churnWorkers: 1,
      churnOpsPerSec: median(samples.map((s) => (s.churnOps ?? 0) / (s.elapsedMs / 1000))),
      baselineFaultsPerSec: sampleMedians(baselineSamples).faultsPerSec,
      baselineSamples,
    };
  }
  const judged: CpuRun[] = [{ samples, workers: p.threads }, ...(entry.churn ? [{ samples: entry.churn.baselineSamples!, workers: p.threads - 1 }] : [])];
  const interference = judgeInterference(judged, rounds.reduce((n, r) => n + r.attempts, 0));
  if (interference) entry.interference = interference;
  const last = rounds[rounds.length - 1];
  const failure = last?.run.failure ?? (last?.base?.failure && { ...last.base.failure, message: `churn-free baseline: ${last.base.failure.message}` });
  if (failure) entry.failure = failure;
  return entry;
}

/**
 * Runs points and returns their entries in the results format. Each point's repetitions are split over
 * opts.rounds crews (default 1), and the rounds are interleaved — every point's first round, then every
 * point's second … — so that a spell in which the host slows this machine down (seen here: whole seconds at
 * half speed, with every worker on its CPU) falls on one round of a point, not on all its samples, and the
 * median rides over it. A disturbed round is run again while the point has re-runs left (opts.reruns in
 * all). A point that fails runs no further rounds. `progress` hears of each round before it
 * starts, and of each point's entry once its last round is done.
 */
export async function runPoints(points: readonly Point[], opts: RunOptions, progress?: (done: number, total: number, p: Point, entry?: Entry) => void): Promise<Entry[]> {
  const rounds = Math.max(1, Math.min(opts.rounds ?? 1, opts.repetitions));
  const done: Round[][] = points.map(() => []);
  // opts.reruns is each point's budget of re-runs over all its rounds: a busy machine costs a bounded time.
  const rerunsLeft = points.map(() => opts.reruns ?? 0);
  const entries: (Entry | undefined)[] = points.map(() => undefined);
  const total = points.length * rounds;
  let step = 0;
  for (let r = 0; r < rounds; r++) {
    for (const [i, p] of points.entries()) {
      step++;
      if (entries[i]) continue; // it failed in an earlier round
      progress?.(step - 1, total, p);
      const round = await measureRound(p, samplesOfRound(opts.repetitions, rounds, r), opts, rerunsLeft[i]);
      rerunsLeft[i]! -= round.attempts - 1;
      done[i]!.push(round);
      if (r === rounds - 1 || roundsFailed(done[i]!)) {
        entries[i] = entryOf(p, done[i]!);
        progress?.(step, total, p, entries[i]);
      }
    }
  }
  return entries as Entry[];
}

/** Runs one point (its rounds back to back) and returns its entry in the results format. */
export async function runPoint(design: DesignName, workload: WorkloadName, threads: number, opts: RunOptions): Promise<Entry> {
  return (await runPoints([{ design, workload, threads }], opts))[0]!;
}
