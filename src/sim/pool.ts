/**
 * The simulated CPUs' worker threads, kept from one run to the next. Starting a worker thread loads the
 * whole of mmsplit into a fresh isolate: on two cores, 64 of them took 9–11 s, and a sweep of 3 designs ×
 * 2 workloads × 1..64 CPUs started over a thousand. A pooled worker takes its next run as a message
 * (sim-worker.ts): every run still creates its own address space, machine and scheduler state, and a
 * worker keeps nothing from one run to the next that a run's figures depend on (its code's costs come from
 * the table and the virtual clock, not from how warm its code is). The runs' address spaces are created
 * over the pool's buffers (`buffers`, as the checker does: shm/buffers.ts), so that a run does not pay the
 * host's first touch of memory the last one already backed; they are cleared as new memory reads, or,
 * page frames, written whole when allocated, so that a run's figures are the same as on fresh memory.
 */
import { Worker } from 'node:worker_threads';
import { BufferSet } from '../shm/buffers.js';
import { lastAllowedCpu } from '../util/affinity.js';
import type { SimJob, SimReply, SimWorkerData } from './sim-worker.js';

/** What a run hears from its worker: a reply, or the worker's end (an uncaught error, or its exit). */
export type PoolEvent = SimReply | { type: 'died'; error?: string };

interface Slot {
  worker: Worker;
  /** The current run's listener (none between runs). */
  listener: ((e: PoolEvent) => void) | null;
}

export class SimPool {
  private readonly slots: (Slot | undefined)[] = [];
  /** The memory of the runs' address spaces, one run at a time (a run's workers end before the next starts). */
  readonly buffers = new BufferSet();

  /**
   * `oneCpu`: every worker pins itself to one CPU (util/affinity.ts). The simulated CPUs run one at a time,
   * so they lose no parallelism, and a hand-over between them becomes a context switch instead of a wake-up
   * of another CPU: a 3-design sweep ran in 25–30% less time here, its figures byte-identical. They also
   * run under SCHED_BATCH, so that a woken worker does not preempt its waker (affinity.ts). Not for
   * calibration, whose segments' real times would then be taken on one CPU's warm caches.
   */
  constructor(private readonly oneCpu = false) {}

  /**
   * Posts `jobs[i]` to worker i (started if it is not running), whose replies and end go to `listen(i, …)`
   * until release(). The workers hold the process open until then.
   */
  post(jobs: SimJob[], listen: (i: number, e: PoolEvent) => void): void {
    jobs.forEach((job, i) => {
      const slot = this.slots[i] ?? this.start(i);
      slot.worker.ref();
      slot.listener = (e) => listen(i, e);
      slot.worker.postMessage(job);
    });
  }

  /** After a run: its workers wait for the next one without holding the process open. */
  release(n: number): void {
    for (let i = 0; i < n; i++) {
      const slot = this.slots[i];
      if (!slot) continue;
      slot.listener = null;
      slot.worker.unref();
    }
  }

  /** Ends workers 0..n-1 (after a run that failed: nothing it left behind reaches the next). */
  async discard(n: number): Promise<void> {
    const gone = this.slots.slice(0, n);
    gone.forEach((_, i) => (this.slots[i] = undefined));
    await Promise.all(gone.map((s) => s?.worker.terminate()));
  }

  /** Ends every worker. */
  close(): Promise<void> {
    return this.discard(this.slots.length);
  }

  private start(i: number): Slot {
    const pinTo = this.oneCpu ? lastAllowedCpu() : undefined;
    const slot: Slot = { worker: new Worker(new URL('./sim-worker.js', import.meta.url), { workerData: { pinTo } satisfies SimWorkerData }), listener: null };
    this.slots[i] = slot;
    // An uncaught error comes before the exit: the run hears of the first.
    let dead = false;
    const died = (error?: string) => {
      if (dead) return;
      dead = true;
      if (this.slots[i] === slot) this.slots[i] = undefined;
      slot.listener?.({ type: 'died', ...(error !== undefined ? { error } : {}) });
    };
    slot.worker.on('message', (m: SimReply) => slot.listener?.(m));
    slot.worker.once('error', (e) => died(String(e.stack ?? e)));
    slot.worker.once('exit', () => died());
    return slot;
  }
}
