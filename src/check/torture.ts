import { Worker } from 'node:worker_threads';
import { seedFromEnv } from '../util/prng.js';
import { tortureScenario, type TortureStats } from './torture-scenarios.js';

export { TORTURE_SCENARIOS, tortureScenario } from './torture-scenarios.js';

export interface TortureOptions {
  /** Worker threads (at least the scenario's minimum). */
  workers?: number;
  /** How long the workers hammer before they are told to stop. */
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
  durationMs: number;
  /** Operations per role, summed over the workers of that role. */
  ops: Record<string, number>;
  reports: TortureStats[];
}

export class TortureError extends Error {
  override name = 'TortureError';
}

/** Runs one torture scenario on real worker threads and verifies it; rejects on any violation. */
export async function runTorture(name: string, opts: TortureOptions = {}): Promise<TortureResult> {
  const scenario = tortureScenario(name);
  const workers = Math.max(opts.workers ?? scenario.minWorkers, scenario.minWorkers);
  const durationMs = opts.durationMs ?? 300;
  const timeoutMs = opts.timeoutMs ?? durationMs + 20_000;
  const seed = opts.seed ?? seedFromEnv();
  const shared = scenario.setup(workers);
  const control = new SharedArrayBuffer(8);
  const roles = Array.from({ length: workers }, (_, i) => scenario.roleOf(i, workers));
  const threads = roles.map(
    (role, worker) =>
      new Worker(new URL('./torture-worker.js', import.meta.url), {
        workerData: { scenario: name, role, worker, workers, seed, shared, control, waitLimitMs: timeoutMs },
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
  const stopTimer = setTimeout(() => Atomics.store(new Int32Array(control), 0, 1), durationMs);
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
    const ops: Record<string, number> = {};
    stats.forEach((s, i) => (ops[roles[i]!] = (ops[roles[i]!] ?? 0) + (s.ops ?? 0)));
    return { scenario: name, workers, roles, seed, durationMs, ops, reports: stats };
  } catch (e) {
    if (e instanceof Error && !e.message.includes(`seed ${seed}`)) e.message = `${name} (seed ${seed}): ${e.message}`;
    throw e;
  } finally {
    clearTimeout(stopTimer);
    clearTimeout(timeoutTimer);
    await Promise.all(threads.map((t) => t.terminate()));
  }
}
