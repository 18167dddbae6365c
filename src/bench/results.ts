/**
 * The lab's results file: what `src/bench/` writes after a run and what `src/report/` draws.
 * The format is documented field by field, with units, in docs/results-format.md; keep both in step and bump
 * RESULTS_VERSION when a change would make an older reader misread a file.
 *
 * `validateResults(json)` checks a parsed file completely (types, ranges, names, cross-references, medians
 * against samples) and throws a ResultsFormatError whose `path` names the first bad field, e.g.
 * `entries[3].median.opsPerSec`.
 */

import { BUILT_IN_DESIGN_NAMES, designInfo } from '../designs/registry.js';

export const RESULTS_FORMAT = 'mmsplit-lab-results';
/**
 * The version this mmsplit writes. 2 added Sample.cpu, Entry.interference, Entry.failure, Configuration.reruns;
 * 3 added Configuration.designInfo (designs loaded from a file need not be built in).
 */
export const RESULTS_VERSION = 3;
/** The versions this mmsplit reads: an older file is a newer one without the fields added since. */
export const READABLE_VERSIONS = [1, 2, RESULTS_VERSION] as const;
export type ResultsVersion = (typeof READABLE_VERSIONS)[number];

/** The built-in locking designs, in the order the report draws them (the registry's list: src/designs/registry.ts). */
export const DESIGN_NAMES: readonly string[] = BUILT_IN_DESIGN_NAMES;
/** A design's name: a built-in one, or one described in Configuration.designInfo (a design loaded from a file). */
export type DesignName = string;

/** What a results file says of each design it measured, so that it can be drawn without the design's code. */
export interface DesignSummary {
  /** One line, as --help shows it. */
  summary: string;
  /** A sentence for the report's key. */
  description: string;
  /** Its colour in the charts, #rrggbb. */
  color: string;
  /** No fast path: every fault takes mmap_lock for read, so fastPath/retry/fallback stay 0. */
  baseline: boolean;
  /** The module it was loaded from (absent: built in). */
  source?: string;
}

/** The DesignSummary of a registered design (what the lab writes into configuration.designInfo). */
export function designSummary(name: string): DesignSummary {
  const d = designInfo(name);
  return { summary: d.summary, description: d.description, color: d.color, baseline: d.baseline ?? false, ...(d.source ? { source: d.source } : {}) };
}

/** The workloads, named after will-it-scale's. */
export const WORKLOAD_NAMES = ['page_fault1', 'page_fault2', 'page_fault3', 'mmap1', 'mmap2', 'churn', 'io', 'trace', 'vma-lookup', 'maps-read'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** One measured repetition of one (design, workload, threads) point. */
export interface Sample {
  /** Wall-clock length of the measured interval, milliseconds (> 0). */
  elapsedMs: number;
  /** Workload operations completed by all workers in the interval (see docs: what one op is per workload). */
  ops: number;
  /** Page faults handled in the interval (by all workers). */
  faults: number;
  /** churn only: mmap/munmap/mprotect calls completed by the churn workers in the interval. */
  churnOps?: number;
  /** How much CPU the workers got over the interval, and how busy the rest of the machine was (Linux only). */
  cpu?: SampleCpu;
}

/**
 * CPU accounting of one sample, read by the runner at the sample's two ends without stopping anyone: the
 * workers' own threads from /proc/self/task/TID/schedstat (the scheduler's run and run-queue delay, in ns),
 * the machine from /proc/stat less this process's own /proc/self/stat.
 */
export interface SampleCpu {
  /** Sum over the workers of time spent running on a CPU, milliseconds. */
  workersOnCpuMs: number;
  /** Sum over the workers of time spent runnable but waiting for a CPU that something else held, ms. */
  workersRunqueueMs: number;
  /** Sum over the workers of the times they went to sleep (voluntary context switches: futex waits). */
  workersSleeps: number;
  /** Sum over the workers of the times the host took a CPU from them (involuntary context switches). */
  workersPreemptions: number;
  /** CPUs kept busy by other processes, on average over the interval (0 … machine.cores). */
  otherBusyCpus: number;
}

/**
 * Whether the machine took CPU away from the point's workers while it was measured, and what the runner did
 * about it. A disturbed round of the point was re-run (configuration.reruns times at most, over all the
 * point's rounds); the attempt kept is the least disturbed one, and the point is marked if its kept rounds together were still disturbed. The
 * medians are over every sample of the kept attempts that carries `cpu`; for churn, the churn-free
 * baseline's samples too, over its faultWorkers (see interferenceMedians).
 */
export interface Interference {
  /** True if the kept attempts' workers lost clearly more than their share of CPU to others (see reason). */
  disturbed: boolean;
  /** Attempts run for this point, over all its rounds (configuration.rounds: every round was clean at once). */
  attempts: number;
  /** Median over samples of workersOnCpuMs / (threads × elapsedMs): 1 means every worker ran all the time. */
  cpuShare: number;
  /** Median over samples of workersRunqueueMs / (threads × elapsedMs): time the workers wanted a CPU and got none. */
  runqueueShare: number;
  /** Median over samples of otherBusyCpus. */
  otherBusyCpus: number;
  /** Why it is marked disturbed, in words (present when disturbed). */
  reason?: string;
}

/** A point that could not be measured to its end: what stopped it. Its samples are those taken before. */
export const FAILURE_KINDS = ['oom', 'error'] as const;
export interface Failure {
  /** 'oom': the address space really ran out of frames (nothing left to reclaim); 'error': anything else. */
  kind: (typeof FAILURE_KINDS)[number];
  message: string;
}

/** Counters summed over the measured repetitions (warm-up excluded), like deltas of /proc/vmstat. */
export interface Counters {
  /** Faults completed on the design's fast path without mmap_lock (vmstat vma_lock_success). */
  fastPath: number;
  /** Fast-path attempts that had to be repeated (vma_lock_retry; spf: failed validation, seqcount retry). */
  retry: number;
  /** Faults the fast path gave up on and completed on the slower path (vma_lock_abort + vma_lock_miss). */
  fallback: number;
  /** The design's own named counters, e.g. `abort`, `miss`, `gracePeriods`; names are identifiers. */
  extra?: Record<string, number>;
}

/** munmap() latency from entry to return, microseconds, over every munmap of the measured repetitions. */
export interface LatencyPercentiles {
  /** Number of munmap calls measured (≥ 1). */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** churn: N fault workers touch a large mapping while M churn workers mmap/munmap/mprotect elsewhere. */
export interface ChurnInfo {
  /** N: workers faulting over the large mapping (≥ 1). */
  faultWorkers: number;
  /** M: workers mapping, unmapping and mprotecting small unrelated regions (≥ 0). N + M = threads. */
  churnWorkers: number;
  /** Median of churn workers' calls per second (mmap + munmap + mprotect). */
  churnOpsPerSec: number;
  /** The same design with the same N fault workers and no churn workers: median faults per second. */
  baselineFaultsPerSec: number;
  /** The baseline's own repetitions, if the runner kept them. */
  baselineSamples?: Sample[];
}

/** One (design, workload, threads) point. */
export interface Entry {
  design: DesignName;
  workload: WorkloadName;
  /** Worker threads running the workload (for churn: faultWorkers + churnWorkers). */
  threads: number;
  /** One per measured repetition (configuration.repetitions of them; 0 … that many when `failure` is set). */
  samples: Sample[];
  /** Medians over the samples of ops/elapsed and faults/elapsed, per second; 0 when there are no samples. */
  median: { opsPerSec: number; faultsPerSec: number };
  counters: Counters;
  /** Present for workloads that unmap (page_fault*, mmap1, mmap2, churn, trace). */
  munmapLatencyUs?: LatencyPercentiles;
  /** Present exactly for workload 'churn' (but a churn point that failed before its baseline ran has none). */
  churn?: ChurnInfo;
  /** Present where the runner could read the CPU accounting (Linux). */
  interference?: Interference;
  /** Present when the point stopped early; samples may then be fewer than configuration.repetitions. */
  failure?: Failure;
  /**
   * Simulated entries: when every CPU's thread had done its first operation, virtual ms (their first mmaps,
   * say, queued on the mmap_lock); the warm-up counted from there. Absent where some had not by
   * simulation.startLimitMs (the warm-up then counted from that limit).
   */
  begunMs?: number;
}

/**
 * How a simulated run was made (`mmsplit simulate`, src/sim/): its entries' threads are simulated CPUs,
 * their samples' elapsedMs virtual time.
 */
export interface Simulation {
  /** The simulated machine's profile (src/sim/profile.ts: name, cpus, sockets, the latencies and bandwidths). */
  profile: Record<string, string | number>;
  /** How far a simulated CPU's clock may run past the next one's before it hands over, ns. */
  quantumNs: number;
  /**
   * A point's virtual warm-up (configuration.warmupMs) counts from the instant every CPU's thread has done
   * its first operation (the entry's begunMs), or from this many virtual ms after the last one started, if
   * some had not by then, ms. Absent in files written before it (they carry warmupMsPerCpu).
   */
  startLimitMs?: number;
  /** Files written before startLimitMs: the warm-up was configuration.warmupMs plus this much per CPU, ms. */
  warmupMsPerCpu?: number;
  /** The code-cost table of each (design, workload): where and when it was measured, and its size. */
  /** scale: what the timed costs were multiplied by to match the code's own speed (absent: not scaled). */
  costs: { design: string; workload: WorkloadName; measured: string; meanNs: number; overheadNs: number; segments: number; scale?: number }[];
}

export interface Machine {
  /** os.cpus()[0].model */
  cpuModel: string;
  /** Logical CPUs present (os.availableParallelism()). */
  cores: number;
  /** Total memory, bytes (os.totalmem()). */
  memoryBytes: number;
  /** Operating system and kernel release, e.g. "Linux 6.18.0". */
  os: string;
  /** e.g. "x64" */
  arch?: string;
  /** process.version, e.g. "v20.20.2" */
  node: string;
  /** process.versions.v8 */
  v8: string;
}

export interface Configuration {
  designs: DesignName[];
  /** Each design's summary, colour and whether it is a baseline (version 3; older files: built-in designs only). */
  designInfo?: Record<DesignName, DesignSummary>;
  workloads: WorkloadName[];
  /** Thread counts measured, ascending, distinct. */
  threads: number[];
  /** Length of each measured repetition, milliseconds. */
  durationMs: number;
  /** Measured repetitions (samples) per point, over all its rounds. */
  repetitions: number;
  /**
   * How many separate runs of the point, each a fresh address space and fresh workers, the repetitions were
   * split over (the earlier rounds taking one more where they do not split evenly), interleaved with the
   * other points' rounds (absent: 1, every repetition from one run).
   */
  rounds?: number;
  /** Unmeasured run before the repetitions of each point, milliseconds (0: none). */
  warmupMs: number;
  /** How often at most a point's disturbed rounds were run again, over all its rounds (0: never). */
  reruns?: number;
  /** Seed of every random choice (MMSPLIT_SEED reproduces the run). */
  seed: number;
  /** Workloads the summary table shows (default: every workload). */
  headlineWorkloads?: WorkloadName[];
  /** Free-form parameters per workload (mapping sizes, I/O latency, trace file, ...). */
  workloadParams?: Record<string, Record<string, string | number | boolean>>;
  /** The command line that produced the file. */
  command?: string;
}

export interface LabResults {
  format: typeof RESULTS_FORMAT;
  /** As read: a version-1 file stays version 1 (it carries none of version 2's fields). */
  version: ResultsVersion;
  /** When the run finished, ISO 8601 (UTC). */
  createdAt: string;
  /** True for made-up numbers (test fixtures, demonstrations); the report says so on top. */
  synthetic?: boolean;
  /** Free-text remarks shown in the report's header. */
  notes?: string[];
  /** Present when the entries were simulated (mmsplit simulate): on what machine, with which code costs. */
  simulation?: Simulation;
  /** Where the run ran (for a simulation: the machine that ran the simulator). */
  machine: Machine;
  configuration: Configuration;
  entries: Entry[];
}

export class ResultsFormatError extends Error {
  constructor(
    /** Where the problem is, e.g. `entries[3].median.opsPerSec` ('' for the whole document). */
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `${path}: ${problem}` : problem);
    this.name = 'ResultsFormatError';
  }
}

/** Median; of an even count, the mean of the two middle values. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The entry's medians of its samples' rates (what `Entry.median` must hold). A failed point may have no
 * samples: its medians are then 0 by definition, and the report shows it as failed, never as a rate.
 */
export function sampleMedians(samples: readonly Sample[]): { opsPerSec: number; faultsPerSec: number } {
  if (samples.length === 0) return { opsPerSec: 0, faultsPerSec: 0 };
  const rates = samples.map(sampleRates);
  return { opsPerSec: median(rates.map((r) => r.opsPerSec)), faultsPerSec: median(rates.map((r) => r.faultsPerSec)) };
}

/** A sample's CPU accounting as shares of what `workers` threads could have had over its interval. */
export function sampleCpuShares(s: Sample & { cpu: SampleCpu }, workers: number): { cpuShare: number; runqueueShare: number } {
  const possible = workers * s.elapsedMs;
  return { cpuShare: s.cpu.workersOnCpuMs / possible, runqueueShare: s.cpu.workersRunqueueMs / possible };
}

/** Samples of one run and the workers their CPU accounting is summed over. */
export interface CpuRun {
  samples: readonly Sample[];
  workers: number;
}

/**
 * What `Entry.interference` must hold besides `disturbed`, `attempts` and `reason`: medians of the CPU shares
 * and of otherBusyCpus over every sample that carries `cpu`, of every run the point took — the entry's own
 * (over its threads) and, for churn, the churn-free baseline's (over its faultWorkers): a figure built on
 * both is disturbed if either was. Undefined when no sample carries `cpu`.
 */
export function interferenceMedians(runs: readonly CpuRun[]): Pick<Interference, 'cpuShare' | 'runqueueShare' | 'otherBusyCpus'> | undefined {
  const per = runs.flatMap((r) => r.samples.flatMap((s) => (s.cpu ? [{ s: s as Sample & { cpu: SampleCpu }, workers: r.workers }] : [])));
  if (per.length === 0) return undefined;
  const shares = per.map((x) => sampleCpuShares(x.s, x.workers));
  return {
    cpuShare: median(shares.map((x) => x.cpuShare)),
    runqueueShare: median(shares.map((x) => x.runqueueShare)),
    otherBusyCpus: median(per.map((x) => x.s.cpu.otherBusyCpus)),
  };
}

/** Per-second rates of one sample. */
export function sampleRates(s: Sample): { opsPerSec: number; faultsPerSec: number; churnOpsPerSec?: number } {
  const sec = s.elapsedMs / 1000;
  return {
    opsPerSec: s.ops / sec,
    faultsPerSec: s.faults / sec,
    ...(s.churnOps !== undefined ? { churnOpsPerSec: s.churnOps / sec } : {}),
  };
}

/** "Kept % of churn-free throughput" of a churn entry (undefined for other entries or a zero baseline). */
export function churnKeptPct(e: Entry): number | undefined {
  if (!e.churn || !(e.churn.baselineFaultsPerSec > 0)) return undefined;
  return (e.median.faultsPerSec / e.churn.baselineFaultsPerSec) * 100;
}

// ---------------------------------------------------------------------------------------------------------
// Validation

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

function fail(path: string, problem: string): never {
  throw new ResultsFormatError(path, problem);
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `expected an object, got ${show(v)}`);
  return v as Obj;
}

function arr(v: unknown, path: string, minLength = 0): unknown[] {
  if (!Array.isArray(v)) fail(path, `expected an array, got ${show(v)}`);
  if (v.length < minLength) fail(path, `expected at least ${minLength} element${minLength === 1 ? '' : 's'}, got ${v.length}`);
  return v;
}

interface NumOpts {
  int?: boolean;
  min?: number;
  positive?: boolean;
}

const str = (o: Obj, key: string, path: string): string => strAt(o[key], join(path, key));
const num = (o: Obj, key: string, path: string, opts: NumOpts = {}): number => numAt(o[key], join(path, key), opts);

function strAt(v: unknown, p: string): string {
  if (typeof v !== 'string' || v.trim() === '') fail(p, `expected a non-empty string, got ${show(v)}`);
  return v;
}

function numAt(v: unknown, p: string, opts: NumOpts = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(p, `expected a finite number, got ${show(v)}`);
  if (opts.int && !Number.isInteger(v)) fail(p, `expected an integer, got ${v}`);
  if (opts.positive && !(v > 0)) fail(p, `expected a number > 0, got ${v}`);
  if (opts.min !== undefined && v < opts.min) fail(p, `expected a number ≥ ${opts.min}, got ${v}`);
  return v;
}

const count = (o: Obj, key: string, path: string): number => num(o, key, path, { int: true, min: 0 });

function optional<T>(o: Obj, key: string, read: () => T): T | undefined {
  return o[key] === undefined ? undefined : read();
}

function noUnknownKeys(o: Obj, known: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) fail(join(path, k), `unknown field (known here: ${known.join(', ')})`);
  }
}

function nameOf<T extends string>(v: unknown, names: readonly T[], what: string, path: string): T {
  if (typeof v !== 'string' || !(names as readonly string[]).includes(v)) {
    fail(path, `expected a ${what} name (${names.join(', ')}), got ${show(v)}`);
  }
  return v as T;
}

function names<T extends string>(v: unknown, all: readonly T[], what: string, path: string): T[] {
  const list = arr(v, path, 1).map((x, i) => nameOf(x, all, what, join(path, i)));
  list.forEach((x, i) => {
    if (list.indexOf(x) !== i) fail(join(path, i), `${x} is listed twice`);
  });
  return list;
}

function closeTo(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}

function validateMachine(v: unknown, path: string): Machine {
  const o = obj(v, path);
  noUnknownKeys(o, ['cpuModel', 'cores', 'memoryBytes', 'os', 'arch', 'node', 'v8'], path);
  const arch = optional(o, 'arch', () => str(o, 'arch', path));
  return {
    cpuModel: str(o, 'cpuModel', path),
    cores: num(o, 'cores', path, { int: true, min: 1 }),
    memoryBytes: num(o, 'memoryBytes', path, { int: true, positive: true }),
    os: str(o, 'os', path),
    ...(arch !== undefined ? { arch } : {}),
    node: str(o, 'node', path),
    v8: str(o, 'v8', path),
  };
}

/** What the validators below need to know besides the value: the file's version and what it declared. */
interface Context {
  version: ResultsVersion;
  /** machine.cores: bounds otherBusyCpus. */
  cores: number;
  /** The document has `simulation`: its entries may carry begunMs. */
  simulated: boolean;
}

/** Fields a version-1 file could not carry: they are unknown fields there. */
const since2 = (ctx: Context, keys: readonly string[]): readonly string[] => (ctx.version >= 2 ? keys : []);
const since3 = (ctx: Context, keys: readonly string[]): readonly string[] => (ctx.version >= 3 ? keys : []);
const DESIGN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const COLOR = /^#[0-9a-fA-F]{6}$/;

/** A design name: built in, or (version 3) any name that designInfo describes. */
function designNames(v: unknown, path: string, info: Record<string, DesignSummary> | undefined): string[] {
  const list = arr(v, path, 1).map((x, i) => {
    const p = join(path, i);
    if (typeof x !== 'string' || !DESIGN_NAME.test(x)) fail(p, `expected a design name, got ${show(x)}`);
    if (info === undefined ? !DESIGN_NAMES.includes(x) : info[x] === undefined) {
      fail(p, `${x} is neither built in (${DESIGN_NAMES.join(', ')}) nor described in configuration.designInfo`);
    }
    return x;
  });
  list.forEach((x, i) => {
    if (list.indexOf(x) !== i) fail(join(path, i), `${x} is listed twice`);
  });
  return list;
}

function validateDesignSummary(v: unknown, path: string): DesignSummary {
  const o = obj(v, path);
  noUnknownKeys(o, ['summary', 'description', 'color', 'baseline', 'source'], path);
  const color = str(o, 'color', path);
  if (!COLOR.test(color)) fail(join(path, 'color'), `expected #rrggbb, got ${show(color)}`);
  if (typeof o['baseline'] !== 'boolean') fail(join(path, 'baseline'), `expected true or false, got ${show(o['baseline'])}`);
  const source = optional(o, 'source', () => str(o, 'source', path));
  return { summary: str(o, 'summary', path), description: str(o, 'description', path), color, baseline: o['baseline'] as boolean, ...(source ? { source } : {}) };
}

function validateConfiguration(v: unknown, path: string, ctx: Context): Configuration {
  const o = obj(v, path);
  noUnknownKeys(
    o,
    ['designs', ...since3(ctx, ['designInfo']), 'workloads', 'threads', 'durationMs', 'repetitions', 'warmupMs', ...since2(ctx, ['reruns', 'rounds']), 'seed', 'headlineWorkloads', 'workloadParams', 'command'],
    path,
  );
  const designInfo = optional(o, 'designInfo', () => {
    const ip = join(path, 'designInfo');
    const io = obj(o['designInfo'], ip);
    const out: Record<string, DesignSummary> = {};
    for (const [d, x] of Object.entries(io)) out[d] = validateDesignSummary(x, join(ip, d));
    return out;
  });
  const designs = designNames(o['designs'], join(path, 'designs'), designInfo);
  if (designInfo) for (const d of Object.keys(designInfo)) if (!designs.includes(d)) fail(join(join(path, 'designInfo'), d), `${d} is not in configuration.designs`);
  const workloads = names(o['workloads'], WORKLOAD_NAMES, 'workload', join(path, 'workloads'));
  const tp = join(path, 'threads');
  const threads = arr(o['threads'], tp, 1).map((t, i) => numAt(t, join(tp, i), { int: true, min: 1 }));
  threads.forEach((t, i) => {
    if (i > 0 && t <= threads[i - 1]!) fail(join(tp, i), `thread counts must be ascending and distinct, got ${threads[i - 1]} then ${t}`);
  });
  const headline = optional(o, 'headlineWorkloads', () => {
    const hp = join(path, 'headlineWorkloads');
    const h = names(o['headlineWorkloads'], WORKLOAD_NAMES, 'workload', hp);
    h.forEach((w, i) => {
      if (!workloads.includes(w)) fail(join(hp, i), `${w} is not in configuration.workloads`);
    });
    return h;
  });
  const params = optional(o, 'workloadParams', () => {
    const pp = join(path, 'workloadParams');
    const po = obj(o['workloadParams'], pp);
    const out: Record<string, Record<string, string | number | boolean>> = {};
    for (const [w, ps] of Object.entries(po)) {
      const wo = obj(ps, join(pp, w));
      for (const [k, x] of Object.entries(wo)) {
        if (!['string', 'number', 'boolean'].includes(typeof x)) fail(join(join(pp, w), k), `expected a string, number or boolean, got ${show(x)}`);
      }
      out[w] = wo as Record<string, string | number | boolean>;
    }
    return out;
  });
  const reruns = optional(o, 'reruns', () => count(o, 'reruns', path));
  const repetitions = num(o, 'repetitions', path, { int: true, min: 1 });
  const rounds = optional(o, 'rounds', () => num(o, 'rounds', path, { int: true, min: 1 }));
  if (rounds !== undefined && rounds > repetitions) fail(join(path, 'rounds'), `${rounds} rounds, but only ${repetitions} repetitions to split over them`);
  const command = optional(o, 'command', () => str(o, 'command', path));
  return {
    designs,
    ...(designInfo ? { designInfo } : {}),
    workloads,
    threads,
    durationMs: num(o, 'durationMs', path, { positive: true }),
    repetitions,
    ...(rounds !== undefined ? { rounds } : {}),
    warmupMs: num(o, 'warmupMs', path, { min: 0 }),
    ...(reruns !== undefined ? { reruns } : {}),
    seed: num(o, 'seed', path, { int: true, min: 0 }),
    ...(headline ? { headlineWorkloads: headline } : {}),
    ...(params ? { workloadParams: params } : {}),
    ...(command !== undefined ? { command } : {}),
  };
}

/**
 * The most a CPU share may read. Shares are ≤ 1 in principle, but the runner reads schedstat and the clock
 * at a sample's ends one after the other, not at one instant: the slack keeps that skew from failing a file,
 * and anything beyond it is a unit or bookkeeping error (ns as ms, the wrong number of workers).
 */
export const MAX_SHARE = 1.5;

/** otherBusyCpus: 0 … the CPUs present, plus one CPU of slack for the same skew between /proc readings. */
function busyCpus(o: Obj, key: string, path: string, ctx: Context): number {
  const x = num(o, key, path, { min: 0 });
  if (x > ctx.cores + 1) fail(join(path, key), `expected at most machine.cores + 1 = ${ctx.cores + 1} CPUs, got ${x}`);
  return x;
}

function share(o: Obj, key: string, path: string): number {
  const x = num(o, key, path, { min: 0 });
  if (x > MAX_SHARE) fail(join(path, key), `expected a share in [0, ${MAX_SHARE}] (1: every worker all the time), got ${x}`);
  return x;
}

/** `workers`: the threads the sample's CPU accounting is summed over (the entry's, or a churn baseline's). */
function validateSample(v: unknown, path: string, churn: boolean, workers: number, ctx: Context): Sample {
  const o = obj(v, path);
  noUnknownKeys(o, ['elapsedMs', 'ops', 'faults', 'churnOps', ...since2(ctx, ['cpu'])], path);
  const churnOps = optional(o, 'churnOps', () => count(o, 'churnOps', path));
  if (churnOps !== undefined && !churn) fail(join(path, 'churnOps'), 'only churn entries carry churnOps');
  const s: Sample = {
    elapsedMs: num(o, 'elapsedMs', path, { positive: true }),
    ops: count(o, 'ops', path),
    faults: count(o, 'faults', path),
    ...(churnOps !== undefined ? { churnOps } : {}),
  };
  if (o['cpu'] !== undefined) {
    const cp = join(path, 'cpu');
    const co = obj(o['cpu'], cp);
    noUnknownKeys(co, ['workersOnCpuMs', 'workersRunqueueMs', 'workersSleeps', 'workersPreemptions', 'otherBusyCpus'], cp);
    const cpu: SampleCpu = {
      workersOnCpuMs: num(co, 'workersOnCpuMs', cp, { min: 0 }),
      workersRunqueueMs: num(co, 'workersRunqueueMs', cp, { min: 0 }),
      workersSleeps: count(co, 'workersSleeps', cp),
      workersPreemptions: count(co, 'workersPreemptions', cp),
      otherBusyCpus: busyCpus(co, 'otherBusyCpus', cp, ctx),
    };
    // A worker is running, waiting for a CPU or asleep: the first two together fit in its interval.
    const most = MAX_SHARE * workers * s.elapsedMs;
    if (cpu.workersOnCpuMs + cpu.workersRunqueueMs > most) {
      fail(
        cp,
        `workersOnCpuMs + workersRunqueueMs = ${cpu.workersOnCpuMs + cpu.workersRunqueueMs} ms, more than ${MAX_SHARE} × ${workers} workers × elapsedMs (${most} ms)`,
      );
    }
    s.cpu = cpu;
  }
  return s;
}

/**
 * The samples of one run, one per repetition; a failed point may stop before its last repetition: fewer
 * samples, none at all if it failed at once. (A sample may lack `cpu` where another has it: the runner
 * leaves it out when a worker's /proc entries could not be read, e.g. the worker had died.)
 */
function validateSamples(v: unknown, path: string, churn: boolean, workers: number, reps: number, failed: boolean, ctx: Context): Sample[] {
  const samples = arr(v, path).map((s, i) => validateSample(s, join(path, i), churn, workers, ctx));
  if (failed ? samples.length > reps : samples.length !== reps) {
    fail(path, `expected ${failed ? `at most ` : ''}${reps} samples (configuration.repetitions${failed ? ', the point failed' : ''}), got ${samples.length}`);
  }
  return samples;
}

function validateCounters(v: unknown, path: string): Counters {
  const o = obj(v, path);
  noUnknownKeys(o, ['fastPath', 'retry', 'fallback', 'extra'], path);
  const extra = optional(o, 'extra', () => {
    const ep = join(path, 'extra');
    const eo = obj(o['extra'], ep);
    const out: Record<string, number> = {};
    for (const k of Object.keys(eo)) {
      if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(k)) fail(join(ep, k), 'counter names are identifiers (letters, digits, _)');
      if (k === 'fastPath' || k === 'retry' || k === 'fallback') fail(join(ep, k), `${k} is a common counter: put it beside extra, not inside`);
      out[k] = count(eo, k, ep);
    }
    return out;
  });
  return {
    fastPath: count(o, 'fastPath', path),
    retry: count(o, 'retry', path),
    fallback: count(o, 'fallback', path),
    ...(extra ? { extra } : {}),
  };
}

function validateLatency(v: unknown, path: string): LatencyPercentiles {
  const o = obj(v, path);
  noUnknownKeys(o, ['count', 'p50', 'p90', 'p99', 'max'], path);
  const l: LatencyPercentiles = {
    count: num(o, 'count', path, { int: true, min: 1 }),
    p50: num(o, 'p50', path, { min: 0 }),
    p90: num(o, 'p90', path, { min: 0 }),
    p99: num(o, 'p99', path, { min: 0 }),
    max: num(o, 'max', path, { min: 0 }),
  };
  const order = ['p50', 'p90', 'p99', 'max'] as const;
  for (let i = 1; i < order.length; i++) {
    const a = order[i - 1]!;
    const b = order[i]!;
    if (l[b] < l[a]) fail(join(path, b), `percentiles must not decrease: ${a} = ${l[a]} µs but ${b} = ${l[b]} µs`);
  }
  return l;
}

function validateChurn(v: unknown, path: string, threads: number, reps: number, failed: boolean, ctx: Context): ChurnInfo {
  const o = obj(v, path);
  noUnknownKeys(o, ['faultWorkers', 'churnWorkers', 'churnOpsPerSec', 'baselineFaultsPerSec', 'baselineSamples'], path);
  const faultWorkers = num(o, 'faultWorkers', path, { int: true, min: 1 });
  const churnWorkers = num(o, 'churnWorkers', path, { int: true, min: 0 });
  if (faultWorkers + churnWorkers !== threads) {
    fail(join(path, 'churnWorkers'), `faultWorkers + churnWorkers must equal the entry's threads (${faultWorkers} + ${churnWorkers} ≠ ${threads})`);
  }
  const baselineSamples = optional(o, 'baselineSamples', () => {
    const bp = join(path, 'baselineSamples');
    // The baseline runs only the fault workers: its CPU time is theirs.
    return validateSamples(o['baselineSamples'], bp, false, faultWorkers, reps, failed, ctx);
  });
  const baselineFaultsPerSec = num(o, 'baselineFaultsPerSec', path, { min: 0 });
  if (baselineSamples) {
    const m = sampleMedians(baselineSamples).faultsPerSec;
    if (!closeTo(m, baselineFaultsPerSec)) fail(join(path, 'baselineFaultsPerSec'), `is ${baselineFaultsPerSec} but the median of baselineSamples is ${m}`);
  }
  return {
    faultWorkers,
    churnWorkers,
    churnOpsPerSec: num(o, 'churnOpsPerSec', path, { min: 0 }),
    baselineFaultsPerSec,
    ...(baselineSamples ? { baselineSamples } : {}),
  };
}

function validateInterference(v: unknown, path: string, runs: CpuRun[], cfg: Configuration, ctx: Context): Interference {
  const o = obj(v, path);
  noUnknownKeys(o, ['disturbed', 'attempts', 'cpuShare', 'runqueueShare', 'otherBusyCpus', 'reason'], path);
  if (typeof o['disturbed'] !== 'boolean') fail(join(path, 'disturbed'), `expected true or false, got ${show(o['disturbed'])}`);
  const disturbed = o['disturbed'];
  const attempts = num(o, 'attempts', path, { int: true, min: 1 });
  const reruns = cfg.reruns ?? 0;
  const rounds = cfg.rounds ?? 1;
  if (attempts > rounds + reruns) fail(join(path, 'attempts'), `${attempts} attempts, but configuration.reruns allows at most ${rounds + reruns}${rounds > 1 ? ` (${rounds} rounds and ${reruns} re-runs)` : ''}`);
  const i: Interference = {
    disturbed,
    attempts,
    cpuShare: share(o, 'cpuShare', path),
    runqueueShare: share(o, 'runqueueShare', path),
    otherBusyCpus: busyCpus(o, 'otherBusyCpus', path, ctx),
  };
  if (disturbed) i.reason = str(o, 'reason', path);
  else if (o['reason'] !== undefined) fail(join(path, 'reason'), 'only a disturbed point carries a reason');
  const m = interferenceMedians(runs);
  if (m) {
    for (const k of ['cpuShare', 'runqueueShare', 'otherBusyCpus'] as const) {
      if (!closeTo(m[k], i[k])) fail(join(path, k), `is ${i[k]} but the median over the samples' cpu is ${m[k]}${runs.length > 1 ? ' (with the churn-free baseline\'s)' : ''}`);
    }
  }
  return i;
}

function validateFailure(v: unknown, path: string): Failure {
  const o = obj(v, path);
  noUnknownKeys(o, ['kind', 'message'], path);
  return { kind: nameOf(o['kind'], FAILURE_KINDS, 'failure kind', join(path, 'kind')), message: str(o, 'message', path) };
}

function validateEntry(v: unknown, path: string, cfg: Configuration, ctx: Context): Entry {
  const o = obj(v, path);
  noUnknownKeys(o, ['design', 'workload', 'threads', 'samples', 'median', 'counters', 'munmapLatencyUs', 'churn', ...since2(ctx, ['interference', 'failure']), ...(ctx.simulated ? ['begunMs'] : [])], path);
  const design = o['design'] as string;
  if (typeof design !== 'string' || !cfg.designs.includes(design)) fail(join(path, 'design'), `${show(design)} is not in configuration.designs`);
  const workload = nameOf(o['workload'], WORKLOAD_NAMES, 'workload', join(path, 'workload'));
  if (!cfg.workloads.includes(workload)) fail(join(path, 'workload'), `${workload} is not in configuration.workloads`);
  const threads = num(o, 'threads', path, { int: true, min: 1 });
  if (!cfg.threads.includes(threads)) fail(join(path, 'threads'), `${threads} is not in configuration.threads (${cfg.threads.join(', ')})`);
  const isChurn = workload === 'churn';
  const failure = optional(o, 'failure', () => validateFailure(o['failure'], join(path, 'failure')));

  const sp = join(path, 'samples');
  const samples = validateSamples(o['samples'], sp, isChurn, threads, cfg.repetitions, failure !== undefined, ctx);

  const mp = join(path, 'median');
  const mo = obj(o['median'], mp);
  noUnknownKeys(mo, ['opsPerSec', 'faultsPerSec'], mp);
  const med = { opsPerSec: num(mo, 'opsPerSec', mp, { min: 0 }), faultsPerSec: num(mo, 'faultsPerSec', mp, { min: 0 }) };
  const expected = sampleMedians(samples);
  for (const k of ['opsPerSec', 'faultsPerSec'] as const) {
    if (!closeTo(expected[k], med[k])) fail(join(mp, k), `is ${med[k]} but the median of the samples is ${expected[k]}${samples.length ? '' : ' (none: 0)'}`);
  }

  const counters = validateCounters(o['counters'], join(path, 'counters'));
  const munmap = optional(o, 'munmapLatencyUs', () => validateLatency(o['munmapLatencyUs'], join(path, 'munmapLatencyUs')));
  let churn: ChurnInfo | undefined;
  if (isChurn) {
    // A churn point that failed before its churn-free baseline ran has none to report.
    if (o['churn'] === undefined && !failure) fail(join(path, 'churn'), 'churn entries must carry faultWorkers, churnWorkers, churnOpsPerSec and baselineFaultsPerSec');
    if (o['churn'] !== undefined) churn = validateChurn(o['churn'], join(path, 'churn'), threads, cfg.repetitions, failure !== undefined, ctx);
  } else if (o['churn'] !== undefined) {
    fail(join(path, 'churn'), `only churn entries carry this (workload is ${workload})`);
  }
  const runs: CpuRun[] = [{ samples, workers: threads }, ...(churn?.baselineSamples ? [{ samples: churn.baselineSamples, workers: churn.faultWorkers }] : [])];
  const interference = optional(o, 'interference', () => validateInterference(o['interference'], join(path, 'interference'), runs, cfg, ctx));
  const begunMs = optional(o, 'begunMs', () => num(o, 'begunMs', path, { min: 0 }));
  return {
    design,
    workload,
    threads,
    samples,
    median: med,
    counters,
    ...(munmap ? { munmapLatencyUs: munmap } : {}),
    ...(churn ? { churn } : {}),
    ...(interference ? { interference } : {}),
    ...(failure ? { failure } : {}),
    ...(begunMs !== undefined ? { begunMs } : {}),
  };
}

/**
 * Checks a parsed results document and returns it typed (a fresh copy, without unknown fields — there are
 * none: unknown fields are errors, so a typo in the runner is caught here rather than drawn as nothing).
 * Reads every version in READABLE_VERSIONS; a version-1 document may not carry version 2's fields.
 * Throws ResultsFormatError naming the first bad field.
 */
export function validateResults(json: unknown): LabResults {
  const o = obj(json, '');
  if (o['format'] !== RESULTS_FORMAT) fail('format', `expected ${JSON.stringify(RESULTS_FORMAT)}, got ${show(o['format'])}`);
  const version = o['version'];
  if (!(READABLE_VERSIONS as readonly unknown[]).includes(version)) {
    fail('version', `unsupported version ${show(version)} (this mmsplit reads versions ${READABLE_VERSIONS.slice(0, -1).join(', ')} and ${READABLE_VERSIONS.at(-1)})`);
  }
  noUnknownKeys(o, ['format', 'version', 'createdAt', 'synthetic', 'notes', 'simulation', 'machine', 'configuration', 'entries'], '');
  const createdAt = str(o, 'createdAt', '');
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
    fail('createdAt', `expected an ISO 8601 date and time such as 2026-01-31T12:00:00Z, got ${show(createdAt)}`);
  }
  const synthetic = optional(o, 'synthetic', () => {
    if (typeof o['synthetic'] !== 'boolean') fail('synthetic', `expected true or false, got ${show(o['synthetic'])}`);
    return o['synthetic'] as boolean;
  });
  const notes = optional(o, 'notes', () => arr(o['notes'], 'notes').map((n, i) => strAt(n, join('notes', i))));
  const simulation = optional(o, 'simulation', () => validateSimulation(o['simulation'], 'simulation'));
  const machine = validateMachine(o['machine'], 'machine');
  const ctx: Context = { version: version as ResultsVersion, cores: machine.cores, simulated: simulation !== undefined };
  const configuration = validateConfiguration(o['configuration'], 'configuration', ctx);
  const entries = arr(o['entries'], 'entries', 1).map((e, i) => validateEntry(e, join('entries', i), configuration, ctx));
  const seen = new Map<string, number>();
  entries.forEach((e, i) => {
    const key = `${e.design} ${e.workload} ${e.threads}`;
    const j = seen.get(key);
    if (j !== undefined) fail(join('entries', i), `a second entry for ${e.design} / ${e.workload} / ${e.threads} threads (the first is entries[${j}])`);
    seen.set(key, i);
  });
  return {
    format: RESULTS_FORMAT,
    version: ctx.version,
    createdAt,
    ...(synthetic !== undefined ? { synthetic } : {}),
    ...(notes ? { notes } : {}),
    ...(simulation ? { simulation } : {}),
    machine,
    configuration,
    entries,
  };
}

function validateSimulation(v: unknown, path: string): Simulation {
  const o = obj(v, path);
  noUnknownKeys(o, ['profile', 'quantumNs', 'startLimitMs', 'warmupMsPerCpu', 'costs'], path);
  const pp = join(path, 'profile');
  const po = obj(o['profile'], pp);
  const profile: Record<string, string | number> = {};
  for (const [k, x] of Object.entries(po)) {
    if (typeof x !== 'string' && !(typeof x === 'number' && Number.isFinite(x) && x >= 0)) fail(join(pp, k), `expected a string or a number ≥ 0, got ${show(x)}`);
    profile[k] = x;
  }
  strAt(po['name'], join(pp, 'name'));
  numAt(po['cpus'], join(pp, 'cpus'), { int: true, min: 1 });
  const costs = arr(o['costs'], join(path, 'costs')).map((c, i) => {
    const cp = join(join(path, 'costs'), i);
    const co = obj(c, cp);
    noUnknownKeys(co, ['design', 'workload', 'measured', 'meanNs', 'overheadNs', 'segments', 'scale'], cp);
    const scale = optional(co, 'scale', () => num(co, 'scale', cp, { positive: true }));
    return {
      design: str(co, 'design', cp),
      workload: nameOf(co['workload'], WORKLOAD_NAMES, 'workload', join(cp, 'workload')),
      measured: str(co, 'measured', cp),
      meanNs: num(co, 'meanNs', cp, { min: 0 }),
      overheadNs: num(co, 'overheadNs', cp, { min: 0 }),
      segments: num(co, 'segments', cp, { int: true, min: 0 }),
      ...(scale !== undefined ? { scale } : {}),
    };
  });
  const startLimitMs = optional(o, 'startLimitMs', () => num(o, 'startLimitMs', path, { min: 0 }));
  const warmupMsPerCpu = optional(o, 'warmupMsPerCpu', () => num(o, 'warmupMsPerCpu', path, { min: 0 }));
  if (startLimitMs === undefined && warmupMsPerCpu === undefined) fail(join(path, 'startLimitMs'), 'missing: how a point\'s warm-up was counted (startLimitMs, or warmupMsPerCpu in older files)');
  return {
    profile, quantumNs: num(o, 'quantumNs', path, { min: 0 }),
    ...(startLimitMs !== undefined ? { startLimitMs } : {}), ...(warmupMsPerCpu !== undefined ? { warmupMsPerCpu } : {}),
    costs,
  };
}
