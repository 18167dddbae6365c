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
  /**
   * From the instant every CPU's thread has done its first operation (machine.ts, createMachine). The
   * points settle at once from there: 1 ms samples of the three designs' page_fault1 and churn at 1–2, 8,
   * 32 and 64 CPUs, taken from that instant on, were flat from the first (within their own scatter).
   */
  warmupMs: 1,
  /**
   * How long a run waits for that instant, from the last thread's start, before it starts the warm-up
   * anyway. The threads' first mmaps queue on the mmap_lock, each taking the cold code's time: on the
   * committed tables every thread of per-vma-lock page_fault1 on 64 CPUs had begun after 28 virtual ms,
   * spf's after 22, mmap-lock's after 3.
   */
  startLimitMs: 100,
  /** Calibration runs on the real clock: long enough for warm code and a few thousand of each segment. */
  calibrationWarmupMs: 100,
  calibrationMs: 150,
};

