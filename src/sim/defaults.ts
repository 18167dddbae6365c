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
  /**
   * Per CPU: the threads' first mmaps queue on the mmap_lock, and the lockless designs' faults that began
   * meanwhile fall back behind them until the last has mapped — spf on 48 CPUs (haswell-2s-48) gave 5.9 M
   * faults/s (3.9–6.2) after 4 ms, 24.8 M (24.8–25.1) after 4 + 0.25 × 48, as after 4 + 0.5 × 48.
   */
  warmupMsPerCpu: 0.25,
  /** Calibration runs on the real clock: long enough for warm code and a few thousand of each segment. */
  calibrationWarmupMs: 100,
  calibrationMs: 150,
};

