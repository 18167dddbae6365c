// What `mmsplit simulate` runs when not told otherwise (kept apart so that the CLI can show it without
// loading the simulator).
import type { DesignName, WorkloadName } from '../bench/results.js';

/** What `mmsplit simulate` runs when not told otherwise. */
export const SIM_DEFAULTS = {
  designs: ['mmap-lock', 'per-vma-lock', 'spf'] as DesignName[],
  workloads: ['page_fault1', 'churn'] as WorkloadName[],
  cpus: [1, 2, 4, 8, 16, 32, 64],
  profile: 'this-machine',
  quantumNs: 1000,
  durationMs: 2,
  repetitions: 3,
  /** From the start of the last CPU's thread (they start one wake-up apart). */
  warmupMs: 4,
  warmupMsPerCpu: 0,
  /** Calibration runs on the real clock: long enough for warm code and a few thousand of each segment. */
  calibrationWarmupMs: 100,
  calibrationMs: 150,
};

