// The worker side of a torture run: attach to the shared state, wait for every worker to be ready, run the
// role for its share (a number of operations, or until told to stop), report statistics (or the violation)
// back.
import { parentPort, workerData } from 'node:worker_threads';
import { setWaitLimit } from '../sync/sleep.js';
import { tortureScenario } from './torture-scenarios.js';

interface Job {
  scenario: string;
  role: string;
  worker: number;
  workers: number;
  seed: number;
  shared: Record<string, unknown>;
  control: SharedArrayBuffer;
  /** Operations per worker in a counted run; undefined in a timed run. */
  opsPerWorker: number | undefined;
  waitLimitMs: number;
}

const job = workerData as Job;
const control = new Int32Array(job.control);
const STOP = 0;
const READY = 1;
setWaitLimit(job.waitLimitMs);
try {
  const scenario = tortureScenario(job.scenario);
  // Start together, so that the roles really overlap.
  Atomics.add(control, READY, 1);
  while (Atomics.load(control, READY) < job.workers) Atomics.wait(control, READY, Atomics.load(control, READY), 5);
  const stats = scenario.run({
    role: job.role,
    worker: job.worker,
    seed: job.seed,
    shared: job.shared,
    more:
      job.opsPerWorker !== undefined
        ? (done) => done < job.opsPerWorker!
        : (done) => done === 0 || Atomics.load(control, STOP) === 0,
  });
  parentPort!.postMessage({ ok: true, stats });
} catch (e) {
  const err = e as Error;
  parentPort!.postMessage({ ok: false, error: `${err.name}: ${err.message}`, stack: err.stack });
}
