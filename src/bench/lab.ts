/**
 * The lab: every (design, workload, threads) point of a configuration, run one after another on this
 * machine, gathered into a results file (docs/results-format.md) with the machine and the configuration.
 */
import os from 'node:os';
import { minThreadsOf, runPoints, workloadParams, type Point } from './runner.js';

export { minThreadsOf };
import { designSummary, DESIGN_NAMES, RESULTS_FORMAT, RESULTS_VERSION, validateResults, type DesignName, type Entry, type LabResults, type Machine, type WorkloadName } from './results.js';
import type { TraceProgram } from '../workloads/trace.js';

export interface LabConfig {
  designs: DesignName[];
  workloads: WorkloadName[];
  /** Ascending, distinct. Points a workload cannot run at (churn and io need 2 threads) are left out. */
  threads: number[];
  durationMs: number;
  warmupMs: number;
  /** Measured samples per point, in all. */
  repetitions: number;
  /** How many separate runs (crews) a point's repetitions are split over, interleaved with the other points'. */
  rounds: number;
  /** How often a round whose workers were kept off their CPUs is run again at most. */
  reruns: number;
  /** Workload 'trace': the program replayed. */
  trace?: TraceProgram;
  /** The workloads the summary shows (default: all). */
  headlineWorkloads?: WorkloadName[];
  command?: string;
  notes?: string[];
}

/** What `npm start` measures: the workloads the thread argued about, every design, 1..cores workers. */
export const LAB_DEFAULTS = {
  designs: [...DESIGN_NAMES],
  workloads: ['page_fault1', 'churn', 'io', 'trace', 'vma-lookup', 'maps-read'] as WorkloadName[],
  durationMs: 300,
  warmupMs: 600,
  repetitions: 6,
  // Three crews per point, each at a different moment of the run: the host slows this machine down in
  // spells (half speed for seconds, every worker on its CPU, nothing in /proc/stat), and one spell must not
  // make a design's figure.
  rounds: 3,
  reruns: 2,
};

/** 1, 2, …, the cores present. */
export function defaultThreads(): number[] {
  return Array.from({ length: os.availableParallelism() }, (_, i) => i + 1);
}


export type LabPoint = Point;

/** Every point of the configuration that can run, in the order they are run (by workload, then design). */
export function labPoints(cfg: Pick<LabConfig, 'designs' | 'workloads' | 'threads'>): LabPoint[] {
  const points: LabPoint[] = [];
  for (const workload of cfg.workloads) {
    for (const design of cfg.designs) {
      for (const threads of cfg.threads) if (threads >= minThreadsOf(workload)) points.push({ design, workload, threads });
    }
  }
  return points;
}

export function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() || 'unknown',
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    node: process.version,
    v8: process.versions.v8,
  };
}

/**
 * Runs every point, in rounds (runPoints); `progress` hears of each round before it starts and of each
 * point's entry when it is done. Returns the validated results. A point whose workers fail (out of frames, a lost wake-up, a broken invariant) is recorded with
 * its failure and the run goes on, so that no point already measured is lost.
 */
export async function runLab(cfg: LabConfig, progress?: (done: number, total: number, point: LabPoint, entry?: Entry) => void): Promise<LabResults> {
  const points = labPoints(cfg);
  if (points.length === 0) throw new Error(`nothing to run: ${cfg.workloads.join(', ')} need more threads than ${cfg.threads.join(', ')}`);
  const workloads = cfg.workloads.filter((w) => points.some((p) => p.workload === w));
  const entries = await runPoints(points, { durationMs: cfg.durationMs, warmupMs: cfg.warmupMs, repetitions: cfg.repetitions, rounds: cfg.rounds, reruns: cfg.reruns, ...(cfg.trace ? { trace: cfg.trace } : {}) }, progress);
  const headline = (cfg.headlineWorkloads ?? workloads).filter((w) => workloads.includes(w));
  return validateResults({
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    createdAt: new Date().toISOString(),
    ...(cfg.notes?.length ? { notes: cfg.notes } : {}),
    machine: machineInfo(),
    configuration: {
      designs: cfg.designs,
      designInfo: Object.fromEntries(cfg.designs.map((d) => [d, designSummary(d)])),
      workloads,
      threads: cfg.threads,
      durationMs: cfg.durationMs,
      repetitions: cfg.repetitions,
      rounds: Math.min(cfg.rounds, cfg.repetitions),
      warmupMs: cfg.warmupMs,
      reruns: cfg.reruns,
      seed: 0, // the workloads make no random choices
      ...(headline.length ? { headlineWorkloads: headline } : {}),
      workloadParams: Object.fromEntries(workloads.map((w) => [w, workloadParams(w, cfg.trace)])),
      ...(cfg.command ? { command: cfg.command } : {}),
    },
    entries,
  });
}
