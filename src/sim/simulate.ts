/**
 * `mmsplit simulate`: the lab's points on a simulated machine of N CPUs (machine.ts). Per (design, workload)
 * the code's costs are calibrated first (costs.ts: the workload at its fewest CPUs, on the real clock), or
 * taken from a table given; then every CPU count runs on those costs, deterministically. A point is the
 * lab's: the same plan of roles (src/bench/runner.ts), a warm-up, then samples cut at fixed virtual times,
 * and for churn a churn-free baseline on one CPU fewer. Its entry is the results format's, with
 * `simulated` set; throughputs are per virtual second.
 */
import os from 'node:os';
import { SchedControl } from '../check/sched.js';
import { crewTotals, countsChurn, entryOf, measureCrew, minThreadsOf, plan, planSpace, sampleBetween, windowCounters, workloadParams, type Plan, type Point, type Run } from '../bench/runner.js';
import { machineInfo } from '../bench/lab.js';
import { designSummary, RESULTS_FORMAT, RESULTS_VERSION, sampleMedians, validateResults, type DesignName, type Entry, type Failure, type LabResults, type Sample, type WorkloadName } from '../bench/results.js';
import { isUpdater, TALLY_STRIDE } from '../workloads/roles.js';
import type { TraceProgram } from '../workloads/trace.js';
import { buildCosts, costCoverage, CostTable, type CostedBy, type CostSamples, type CostTableJson } from './costs.js';
import { abortMachine, createMachine, machineBegunNs, machineSwitches, MAX_CPUS, startMachine, type SimBuffers } from './machine.js';
import type { MachineProfile } from './profile.js';
import { SimPool } from './pool.js';
import type { SimJob, SimReply } from './sim-worker.js';
import { SIM_DEFAULTS } from './defaults.js';

export { SIM_DEFAULTS };

/** Frames of a simulated run at most: 4 GiB of them, less room for the page-cache pages. */
const SIM_MAX_FRAMES = (1 << 20) - (1 << 14);

export interface SimOptions {
  profile: MachineProfile;
  /** How far a thread's clock may run past the next thread's before it hands over, ns. */
  quantumNs: number;
  /** Virtual warm-up before the first sample, ms, from the instant every CPU's thread has done its first operation. */
  warmupMs: number;
  /** How long a run waits for every thread's first operation before it starts the warm-up anyway, virtual ms. */
  startLimitMs: number;
  /** Virtual length of each sample, ms. */
  durationMs: number;
  /** Samples per point. */
  repetitions: number;
  trace?: TraceProgram;
  /** Worker threads to run on, kept for the next run; without one, each run starts its own and ends them. */
  pool?: SimPool;
}

/** What one simulated run gave: the lab's Run, and what the simulation itself cost. */
export interface SimRun extends Run {
  /** Hand-overs between threads. */
  switches: number;
  /** Real time the run took, ms. */
  realMs: number;
  /** When every CPU's thread had done its first operation, virtual ms; absent if some had not by startLimitMs. */
  begunMs?: number;
  /** Calibrating: each worker's segment samples. */
  costParts?: CostSamples[];
  /** On a table: how the workers' segments were costed, all together (costCoverage). */
  costedBy?: CostedBy;
}

/**
 * Runs plan `p` of `design` on `cpus` simulated CPUs (one role each): on `costs` (a CostTable buffer), or,
 * without one, on the real clock, calibrating.
 */
export async function simulateRun(design: string, p: Plan, threads: number, opts: SimOptions, costs?: SharedArrayBuffer): Promise<SimRun> {
  const t0 = performance.now();
  // The lab backs every page a pass may touch; a simulated run touches only what its few virtual ms reach,
  // and one typed array can address 4 GiB: the frames are bounded there (running out is a finding, 'oom').
  p.frames = Math.min(p.frames, SIM_MAX_FRAMES);
  // Calibrating, the host backs the memory first, so that no segment pays a first touch of it.
  // Pooled, over the pool's memory (pool.ts): the last run's workers have ended.
  const space = () => planSpace(design, p, costs === undefined, threads + 2);
  const as = opts.pool ? opts.pool.buffers.reuse(space) : space();
  const n = p.roles.length;
  if (n > MAX_CPUS) throw new RangeError(`simulate: at most ${MAX_CPUS} CPUs`);
  // CPU i's thread starts at i × the wake-up latency (createMachine). Their first operations may queue
  // (every page_fault1 thread's first mmap takes the mmap_lock): the warm-up counts from the last one.
  const startNs = opts.profile.wakeUpNs;
  const events = Array.from({ length: opts.repetitions + 1 }, (_, k) => (opts.warmupMs + k * opts.durationMs) * 1e6);
  const sim: SimBuffers = createMachine(n, opts.quantumNs, startNs, events, (n - 1) * startNs + opts.startLimitMs * 1e6, costs);
  const ctl = SchedControl.create();
  const phase = new SharedArrayBuffer(12);
  const tally = new SharedArrayBuffer(n * TALLY_STRIDE * 4);
  const cuts = new SharedArrayBuffer(events.length * n * TALLY_STRIDE * 4);
  // This thread only waits from now on: offline, it holds up no grace period.
  as.rcu.threadOffline();
  const jobs = p.roles.map((role, index): SimJob => ({ sched: ctl.buffer, sim, profile: opts.profile, as: as.handle(), role, index, workers: n, ctl: phase, tally, cuts, events: events.length }));
  const replies: SimReply[] = new Array(n);
  const own = opts.pool === undefined ? new SimPool() : undefined;
  const workers = opts.pool ?? own!;
  let failure: Failure | undefined;
  try {
    // A worker that dies without a word (its thread crashed) may have held the turn: the run is abandoned,
    // so that the others, waiting for a turn that would never come, end too.
    // Each worker is heard of twice: ready (or ended before it was), then how its run ended.
    let heard = 0;
    let allHeard!: () => void;
    const allReady = new Promise<void>((resolve) => (allHeard = resolve));
    const isReady: boolean[] = new Array(n).fill(false);
    const ready = (i: number) => {
      if (isReady[i]) return;
      isReady[i] = true;
      if (++heard === n) allHeard();
    };
    const ends: (() => void)[] = [];
    const ended = jobs.map((_, i) => new Promise<void>((resolve) => (ends[i] = resolve)));
    workers.post(jobs, (i, m) => {
      ready(i);
      if (m.type === 'ready' || replies[i]) return;
      if (m.type === 'died') {
        replies[i] = { type: 'failed', error: m.error ?? 'a simulated CPU ended without a word' };
        abortMachine(sim, ctl);
      } else replies[i] = m;
      ends[i]!();
    });
    await allReady;
    if (replies.some((r) => r)) abortMachine(sim, ctl); // one failed before the start: nobody runs
    else startMachine(sim, ctl);
    await Promise.all(ended);
  } finally {
    workers.release(n);
    // A run that failed leaves its workers for nobody: whatever it broke ends with them.
    if (own) await own.close();
    else if (replies.some((r) => r?.type !== 'done')) await workers.discard(n);
    as.rcu.threadOnline();
  }
  const failed = replies.find((r) => r?.type === 'failed');
  if (failed) failure = { kind: failed.oom ? 'oom' : 'error', message: `${design} simulated: ${failed.error}` };
  const isFault = p.roles.map((r) => !isUpdater(r.role));
  const cut = new Int32Array(cuts);
  const samples: Sample[] = [];
  const window = new Float64Array(TALLY_STRIDE);
  if (!failure) {
    const totals = events.map((_, k) => crewTotals(cut.subarray(k * n * TALLY_STRIDE, (k + 1) * n * TALLY_STRIDE), isFault));
    for (let k = 1; k < events.length; k++) samples.push(sampleBetween(totals[k - 1]!, totals[k]!, opts.durationMs, countsChurn(p), window));
  }
  const munmapUs: number[] = [];
  replies.forEach((r, i) => {
    if (r?.munmapUs && p.timed(p.roles[i]!)) munmapUs.push(...r.munmapUs);
  });
  const extraNames = replies.find((r) => r?.extraNames)?.extraNames ?? [];
  const switches = machineSwitches(sim);
  const begunNs = machineBegunNs(sim);
  const costedBy: CostedBy = [0, 0, 0];
  for (const r of replies) r?.costedBy?.forEach((x, level) => (costedBy[level] += x));
  return {
    samples, counters: windowCounters(window, extraNames), munmapUs, switches, realMs: performance.now() - t0,
    ...(begunNs >= 0 ? { begunMs: begunNs / 1e6 } : {}),
    ...(failure ? { failure } : {}),
    ...(costs ? { costedBy } : { costParts: replies.map((r) => r?.costs ?? []) }),
  };
}

/**
 * The code costs of `design` running `workload`: the workload at its fewest CPUs on the real clock, its
 * segments' typical times kept; then scaled to the code's own speed. Timing every segment costs the code
 * some of its speed (the clock is read at both ends; the caches hold the timer's data too), unevenly, so
 * the table gives the split of a thread's time among its segments, and the total comes from the same work
 * run alone and untimed: the lab's runner at one worker (for churn, its churn-free baseline: the fault
 * worker alone), against the same point simulated on the table. Workloads whose fewest threads include an
 * updater (io, vma-lookup, maps-read) have no such point and are not scaled (`normalized` says so).
 */
export async function calibrateCosts(design: string, workload: WorkloadName, opts: SimOptions): Promise<CostTableJson> {
  const cpus = minThreadsOf(workload);
  // The timed run on workers of its own, on the CPUs the kernel picks (pool.ts: not pinned); the
  // simulated runs that scale the table on opts.pool, or a pool of their own, over reused memory.
  const { pool, ...realClock } = opts;
  const run = await simulateRun(design, plan(workload, cpus, undefined, opts.trace), cpus, realClock);
  if (run.failure) throw new Error(`calibrating ${design} ${workload}: ${run.failure.message}`);
  const measured = `${design} ${workload} at ${cpus} CPU${cpus > 1 ? 's' : ''} on ${os.cpus()[0]?.model.trim() ?? 'unknown'}, ${new Date().toISOString()}`;
  const timed = calibratedHere(buildCosts(run.costParts!, measured));
  if (workload !== 'churn' && cpus > 1) return timed;
  // The work alone: one worker; for churn, its churn-free baseline, the fault worker without the churn one.
  const churn = workload === 'churn';
  const alone = () => plan(workload, churn ? cpus - 1 : cpus, churn ? 0 : undefined, opts.trace);
  const real: Sample[] = [];
  let failed = '';
  for (let c = 0; c < NORMALIZE.crews && !failed; c++) {
    const crew = await measureCrew(design, alone(), 1, { durationMs: NORMALIZE.durationMs, warmupMs: NORMALIZE.warmupMs, repetitions: 1, ...(opts.trace ? { trace: opts.trace } : {}) });
    real.push(...crew.samples);
    failed = crew.failure?.message ?? '';
  }
  const r = sampleMedians(real)[churn ? 'faultsPerSec' : 'opsPerSec'];
  if (failed || !(r > 0)) throw new Error(`calibrating ${design} ${workload}: ${failed || 'no operations to scale by'}`);
  const own = pool ? undefined : new SimPool(true);
  try {
    // Simulated, the code is as warm as its table from the first operation on, and the warm-up counts from
    // there (createMachine): what it must cover is a workload's own start — trace's first pass fills the
    // page cache through I/O waits — not the real clock's cold code (the timed run's 100 ms).
    return await scaleToReal(design, alone, timed, r, churn, { ...opts, pool: pool ?? own!, warmupMs: SIM_DEFAULTS.warmupMs * longerFor(workload) });
  } finally {
    await own?.close();
  }
}

/**
 * The timed table scaled so that the work alone (the churn-free baseline's fault worker for churn, one
 * worker otherwise) simulated on it gives `r`, its real figure.
 *
 * Scaling every cost by k does not scale the simulated figure by 1/k: a page zeroed (the profile's
 * bandwidth), an I/O wait and a wake-up cost what they cost whatever k is (scaled as if it did, the tables
 * gave 0.80–0.88 of the real figure on page_fault1 and 0.66–0.81 on trace, run again alone). At one CPU an
 * operation takes k × (its code) + (the rest), so 1 / figure is a line in k: the timed table is its point
 * at k = 1, each run on a scaled table another, and the next k is where the line through the last two
 * meets 1 / r.
 */
export async function scaleToReal(design: string, alone: () => Plan, timed: CostTableJson, r: number, churn: boolean, opts: SimOptions): Promise<CostTableJson> {
  const simulatedAt = async (t: CostTableJson): Promise<number> => {
    const p = alone();
    const run = await simulateRun(design, p, p.roles.length, opts, CostTable.create(t));
    if (run.failure) throw new Error(`calibrating ${design}: ${run.failure.message}`);
    return meanRate(run.samples, churn);
  };
  const timedFigure = await simulatedAt(timed);
  if (!(timedFigure > 0)) throw new Error(`calibrating ${design}: no operations simulated to scale by`);
  let [kBefore, invBefore] = [1, 1 / timedFigure];
  let k = timedFigure / r;
  let best: CostTableJson | undefined;
  for (let step = 1; ; step++) {
    const scaled = scaleCosts(timed, k, { figure: churn ? 'faults/s of the fault worker alone' : 'ops/s at 1 worker', real: Math.round(r), timed: Math.round(timedFigure) });
    const v = await simulatedAt(scaled);
    scaled.normalized!.simulated = Math.round(v);
    if (!best || Math.abs(v / r - 1) < Math.abs(best.normalized!.simulated! / r - 1)) best = scaled;
    const next = k + (1 / r - 1 / v) / ((1 / v - invBefore) / (k - kBefore));
    // Near enough, out of runs, or a line that meets 1 / r at no positive k (the rest alone slower than
    // the real run; no table should claim code that costs nothing). The line is only nearly straight —
    // a sample holds whole passes of the workload, and how many moves with k — so the nearest table yet.
    if (Math.abs(v / r - 1) <= SCALE_TOLERANCE || step === SCALE_STEPS || !(next > 0 && Number.isFinite(next))) return calibratedHere(best);
    [kBefore, invBefore, k] = [k, 1 / v, next];
  }
}

/** How near the work alone, simulated on the scaled table, must come to its real figure; and the runs allowed. */
const SCALE_TOLERANCE = 0.02;
const SCALE_STEPS = 4;

/** Operations (faults for churn's fault worker) per ms over all of a run's samples: the simulation is deterministic, so no sample needs to be left out. */
function meanRate(samples: Sample[], churn: boolean): number {
  let ops = 0;
  let ms = 0;
  for (const s of samples) {
    ops += churn ? s.faults : s.ops;
    ms += s.elapsedMs;
  }
  return ms > 0 ? (ops / ms) * 1e3 : 0;
}

/**
 * The tables calibrateCosts made in this process: of this code, whatever paths their runs happened to take
 * (a long, varied workload — trace replays a whole program — reaches code in a point's run that the shorter
 * calibration did not), so simulatePoint does not check them against it.
 */
const calibrated = new WeakSet<CostTableJson>();
function calibratedHere(t: CostTableJson): CostTableJson {
  calibrated.add(t);
  return t;
}

/**
 * The untimed runs that scale a table: the lab's warm-up, then a sample from each of three crews a little
 * apart in time, so that one of the host's slow spells does not make the median.
 */
const NORMALIZE = { durationMs: 300, warmupMs: 600, crews: 3 };

/** Every segment's cost times `k` (the table's own mean and overhead stay as measured). */
function scaleCosts(t: CostTableJson, k: number, normalized: Omit<NonNullable<CostTableJson['normalized']>, 'scale'>): CostTableJson {
  const times = (xs: [number, number][]): [number, number][] => xs.map(([key, ns]) => [key, Math.round(ns * k * 10) / 10]);
  return { ...t, paths: times(t.paths), pairs: times(t.pairs), points: times(t.points), meanNs: Math.round(t.meanNs * k * 10) / 10, normalized: { ...normalized, scale: Math.round(k * 1000) / 1000 } };
}

/**
 * The share of segments a table of the code that runs costs by their path, at least, at the CPU count it
 * was measured at: tables of this code gave 99.7–100% for page_fault1 and churn; one design's code on
 * another's table 70–97% (mmap-lock on spf's, whose paths include most of mmap-lock's).
 */
const MIN_COVERAGE = 0.99;

/** A cost table measured on other code than the code simulated on it (simulatePoint). */
export class CostTableMismatch extends Error {
  override name = 'CostTableMismatch';
}

/**
 * One point on a simulated machine, on a cost table; its entry in the results format. A table not
 * calibrated in this process (a --costs file, a fixture) must fit the code (MIN_COVERAGE).
 */
export async function simulatePoint(pt: Point, opts: SimOptions, costs: CostTableJson): Promise<{ entry: Entry; runs: SimRun[] }> {
  const table = CostTable.create(costs);
  const run = await simulateRun(pt.design, plan(pt.workload, pt.threads, undefined, opts.trace), pt.threads, opts, table);
  // A table keys segments by the design's code points, not by its version: one measured on other code (a
  // --costs file or a test fixture older than the design's code) costs what it does not know by the mean,
  // and the figures would be wrong without a word. At the CPU count it was measured at it must know nearly
  // every path (more CPUs take contention's paths, which calibration may never have seen).
  const coverage = costCoverage(run.costedBy!);
  if (!calibrated.has(costs) && !run.failure && pt.threads === minThreadsOf(pt.workload) && coverage < MIN_COVERAGE) {
    throw new CostTableMismatch(`${pt.design} ${pt.workload}: the cost table (${costs.measured}) knows ${(coverage * 100).toFixed(1)}% of the code's segments at ${pt.threads} CPU${pt.threads > 1 ? 's' : ''}, where a table of this code knows ≥ ${MIN_COVERAGE * 100}%: it was measured on other code (another design, or an older version of this one); calibrate again`);
  }
  // churn's figure is the faults kept against the same fault workers with no churn worker beside them.
  const base = pt.workload === 'churn' && !run.failure ? await simulateRun(pt.design, plan(pt.workload, pt.threads - 1, 0, opts.trace), pt.threads - 1, opts, table) : undefined;
  const entry = entryOf(pt, [{ run, ...(base ? { base } : {}), attempts: 1, runqueueShare: 0 }]);
  if (run.begunMs !== undefined) entry.begunMs = run.begunMs;
  return { entry, runs: base ? [run, base] : [run] };
}

/**
 * Workloads whose one operation is long (an io miss sleeps 500 µs; a maps read is a page of text per VMA)
 * run this many times the virtual warm-up and sample length. trace's operation is a call, but its calls
 * differ (an mmap that faults hundreds of pages, an mprotect that faults none) and a pass of the python3
 * trace takes about 17 virtual ms at one CPU: samples of 20 ms, a pass or so each, read 9–198 K calls/s at
 * 2 CPUs (bench:simulate, 2026-12-07) where the lab's 300 ms hold some 18 passes; 100 ms hold six.
 */
export function longerFor(workload: WorkloadName): number {
  return workload === 'trace' ? 50 : workload === 'io' || workload === 'maps-read' ? 10 : 1;
}

export interface SimLabConfig {
  designs: DesignName[];
  workloads: WorkloadName[];
  cpus: number[];
  profile: MachineProfile;
  quantumNs: number;
  durationMs: number;
  repetitions: number;
  warmupMs: number;
  /** SimOptions.startLimitMs. */
  startLimitMs: number;
  trace?: TraceProgram;
  /** Code costs to use, by `${design} ${workload}`, instead of calibrating (--costs). */
  costs?: Map<string, CostTableJson>;
  command?: string;
}

/**
 * Every (design, workload, CPUs) point of a configuration on the simulated machine: per (design, workload)
 * the code's costs (given, or calibrated), then each CPU count on them. `progress` hears of each step.
 */
export async function simulateLab(cfg: SimLabConfig, progress?: (done: number, total: number, what: string, entry?: Entry) => void): Promise<{ results: LabResults; costs: Map<string, CostTableJson> }> {
  const pairs = cfg.designs.flatMap((design) => cfg.workloads.map((workload) => ({ design, workload })));
  const points = pairs.flatMap(({ design, workload }) => cfg.cpus.filter((c) => c >= minThreadsOf(workload)).map((threads) => ({ design, workload, threads })));
  if (points.length === 0) throw new Error(`nothing to simulate: ${cfg.workloads.join(', ')} need more CPUs than ${cfg.cpus.join(', ')}`);
  const costs = new Map(cfg.costs ?? []);
  const total = pairs.length + points.length;
  let done = 0;
  const entries: Entry[] = [];
  const opts = (workload: WorkloadName): SimOptions => ({
    profile: cfg.profile, quantumNs: cfg.quantumNs, durationMs: cfg.durationMs * longerFor(workload), repetitions: cfg.repetitions,
    warmupMs: cfg.warmupMs * longerFor(workload), startLimitMs: cfg.startLimitMs, ...(cfg.trace ? { trace: cfg.trace } : {}),
  });
  // The points share one pool of workers, on one CPU, and so do calibration's simulated runs; its timed run
  // starts its own (its real-clock times are of code warmed by that design and workload alone, on the CPUs
  // the kernel picks, as they always were).
  const pool = new SimPool(true);
  try {
    for (const { design, workload } of pairs) {
      const key = `${design} ${workload}`;
      progress?.(done, total, `calibrating ${key}`);
      if (!costs.has(key)) {
        costs.set(key, await calibrateCosts(design, workload, { ...opts(workload), pool, warmupMs: SIM_DEFAULTS.calibrationWarmupMs, durationMs: SIM_DEFAULTS.calibrationMs / 3, repetitions: 3 }));
      }
      done++;
      for (const pt of points.filter((p) => p.design === design && p.workload === workload)) {
        progress?.(done, total, `${key} ${pt.threads} CPU${pt.threads > 1 ? 's' : ''}`);
        const { entry } = await simulatePoint(pt, { ...opts(workload), pool }, costs.get(key)!);
        entries.push(entry);
        progress?.(++done, total, `${key} ${pt.threads} CPU${pt.threads > 1 ? 's' : ''}`, entry);
      }
    }
  } finally {
    await pool.close();
  }
  const workloads = cfg.workloads.filter((w) => entries.some((e) => e.workload === w));
  const results = validateResults({
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    createdAt: new Date().toISOString(),
    notes: [`simulated: ${cfg.profile.name} (${cfg.profile.description}); throughputs per virtual second`, ...(workloads.some((w) => longerFor(w) > 1) ? [`trace ran ${longerFor('trace')} ×, io and maps-read ${longerFor('io')} × the virtual warm-up and sample length (their operations are long)`] : [])],
    simulation: {
      profile: { ...cfg.profile },
      quantumNs: cfg.quantumNs,
      startLimitMs: cfg.startLimitMs,
      costs: [...costs].filter(([k]) => pairs.some((p) => `${p.design} ${p.workload}` === k)).map(([k, t]) => {
        const [design, workload] = k.split(' ') as [string, WorkloadName];
        return { design, workload, measured: t.measured, meanNs: t.meanNs, overheadNs: t.overheadNs, segments: t.paths.length, ...(t.normalized ? { scale: t.normalized.scale } : {}) };
      }),
    },
    machine: machineInfo(),
    configuration: {
      designs: cfg.designs,
      designInfo: Object.fromEntries(cfg.designs.map((d) => [d, designSummary(d)])),
      workloads,
      threads: [...cfg.cpus].sort((a, b) => a - b),
      durationMs: cfg.durationMs,
      repetitions: cfg.repetitions,
      warmupMs: cfg.warmupMs,
      seed: 0,
      workloadParams: Object.fromEntries(workloads.map((w) => [w, workloadParams(w, cfg.trace)])),
      ...(cfg.command ? { command: cfg.command } : {}),
    },
    entries,
  });
  return { results, costs };
}
