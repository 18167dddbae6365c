import { Worker } from 'node:worker_threads';
import { seedFromEnv } from '../util/prng.js';
import { tortureScenario, type TortureStats } from './torture-scenarios.js';

export { TORTURE_SCENARIOS, tortureScenario } from './torture-scenarios.js';

export interface TortureOptions {
  /** Worker threads (at least the scenario's minimum). */
  workers?: number;
  /**
   * A counted run: every worker stops after this many operations (the scenario's `testOps` by default).
   * What `npm test` runs: its outcome does not depend on how busy the machine is.
   */
  opsPerWorker?: number;
  /** A timed run instead: the workers hammer for this long, from the moment all of them run. */
  durationMs?: number;
  /** The whole run fails (and its workers are terminated) after this long: a lost wake-up must not hang. */
  timeoutMs?: number;
  seed?: number;
}

export interface TortureResult {
  scenario: string;
  workers: number;
  roles: string[];
  seed: number;
  /** The run's budget: operations per worker (counted run) or its length (timed run). */
  opsPerWorker?: number;
  durationMs?: number;
  /** Operations per role, summed over the workers of that role. */
  ops: Record<string, number>;
  reports: TortureStats[];
}

export class TortureError extends Error {
  override name = 'TortureError';
}

const STOP = 0;
const READY = 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one torture scenario on real worker threads and verifies it; rejects on any violation, or if a
 * worker did less than its share (a starved worker never finishes its share: the run times out).
 */
export async function runTorture(name: string, opts: TortureOptions = {}): Promise<TortureResult> {
  const scenario = tortureScenario(name);
  const workers = Math.max(opts.workers ?? scenario.minWorkers, scenario.minWorkers);
  const timed = opts.durationMs !== undefined;
  const opsPerWorker = timed ? undefined : (opts.opsPerWorker ?? scenario.testOps);
  const timeoutMs = opts.timeoutMs ?? (opts.durationMs ?? 0) + 60_000;
  const seed = opts.seed ?? seedFromEnv();
  const shared = scenario.setup(workers);
  const control = new SharedArrayBuffer(8);
  const ctl = new Int32Array(control);
  const roles = Array.from({ length: workers }, (_, i) => scenario.roleOf(i, workers));
  const threads = roles.map(
    (role, worker) =>
      new Worker(new URL('./torture-worker.js', import.meta.url), {
        workerData: { scenario: name, role, worker, workers, seed, shared, control, opsPerWorker, waitLimitMs: timeoutMs },
      }),
  );
  const reports = threads.map(
    (t, i) =>
      new Promise<TortureStats>((resolve, reject) => {
        t.once('message', (m: { ok: boolean; stats: TortureStats; error: string; stack: string }) =>
          m.ok ? resolve(m.stats) : reject(new TortureError(`${name} (seed ${seed}) worker ${i} [${roles[i]}]: ${m.error}\n${m.stack}`)),
        );
        t.once('error', (e) => reject(new TortureError(`${name} (seed ${seed}) worker ${i} [${roles[i]}] crashed: ${e.message}`)));
        t.once('exit', (code) => reject(new TortureError(`${name} (seed ${seed}) worker ${i} exited (${code}) without a report`)));
      }),
  );
  let settled = false;
  let stopTimer: NodeJS.Timeout | undefined;
  if (timed) {
    // Starting a worker takes a while, much longer on a busy machine: the clock starts once all of them run.
    void (async () => {
      while (Atomics.load(ctl, READY) < workers && !settled) await sleep(2);
      if (!settled) stopTimer = setTimeout(() => Atomics.store(ctl, STOP, 1), opts.durationMs);
    })();
  }
  let timeoutTimer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timeoutTimer = setTimeout(
      () => reject(new TortureError(`${name} (seed ${seed}): no result after ${timeoutMs} ms — a lost wake-up, a deadlock or starvation`)),
      timeoutMs,
    );
  });
  try {
    const stats = await Promise.race([Promise.all(reports), timeout]);
    scenario.verify(shared, stats);
    stats.forEach((s, i) => {
      // A timed run still has every worker do at least one operation (TortureContext.more).
      const share = scenario.openEnded?.includes(roles[i]!) ? 0 : (opsPerWorker ?? 1);
      if ((s.ops ?? 0) < share) throw new TortureError(`${name} (seed ${seed}) worker ${i} [${roles[i]}] did ${s.ops ?? 0} of its ${share} operations`);
    });
    const ops: Record<string, number> = {};
    stats.forEach((s, i) => (ops[roles[i]!] = (ops[roles[i]!] ?? 0) + (s.ops ?? 0)));
    return { scenario: name, workers, roles, seed, ...(timed ? { durationMs: opts.durationMs } : { opsPerWorker }), ops, reports: stats };
  } catch (e) {
    if (e instanceof Error && !e.message.includes(`seed ${seed}`)) e.message = `${name} (seed ${seed}): ${e.message}`;
    throw e;
  } finally {
    settled = true;
    clearTimeout(stopTimer);
    clearTimeout(timeoutTimer);
    await Promise.all(threads.map((t) => t.terminate()));
  }
}
