// `mmsplit torture` and the demonstration `npm start` runs until the lab exists: the synchronization
// primitives on real worker threads, each checked while it runs, with the throughput each role reached.
import os from 'node:os';
import { runTorture, TORTURE_SCENARIOS, tortureScenario, type TortureResult } from '../check/torture.js';
import { table } from './output.js';

export interface TortureCommandOptions {
  scenarios?: string[];
  workers?: number;
  durationMs: number;
  seed?: number;
  json?: boolean;
}

function describe(r: TortureResult, durationMs: number): (string | number)[] {
  const perRole = Object.entries(r.ops)
    .map(([role, ops]) => `${role} ${Math.round(ops / (durationMs / 1000)).toLocaleString('en-US')}/s`)
    .join(', ');
  const extra = r.reports
    .flatMap((rep) => Object.entries(rep).filter(([k]) => !['ops', 'reads', 'writes', 'allocs', 'publishes', 'accepted'].includes(k)))
    .reduce<Record<string, number>>((acc, [k, v]) => ((acc[k] = (acc[k] ?? 0) + v), acc), {});
  const notes = Object.entries(extra)
    .map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`)
    .join(', ');
  return [r.scenario, r.workers, perRole, notes || '-', 'ok'];
}

export async function tortureCommand(opts: TortureCommandOptions): Promise<number> {
  const names = opts.scenarios?.length ? opts.scenarios : TORTURE_SCENARIOS.map((s) => s.name);
  names.forEach(tortureScenario); // unknown names fail before anything runs
  const results: TortureResult[] = [];
  const workers = opts.workers ?? Math.max(2, os.availableParallelism());
  if (!opts.json) {
    console.log(`mmsplit: synchronization primitives under torture on real worker threads (${opts.durationMs} ms each, from the moment all workers run)`);
  }
  for (const name of names) {
    const r = await runTorture(name, { workers, durationMs: opts.durationMs, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
    results.push(r);
    if (!opts.json) process.stdout.write(`  ${name}: ok\n`);
  }
  if (opts.json) {
    console.log(JSON.stringify({ command: 'torture', node: process.version, v8: process.versions.v8, cores: os.availableParallelism(), results }, null, 2));
  } else {
    console.log();
    console.log(table(['scenario', 'workers', 'throughput per role', 'events', 'checks'], results.map((r) => describe(r, opts.durationMs))));
    console.log(`\nEvery scenario verified its invariant in every critical section (seed ${results[0]?.seed}).`);
    console.log('Costs per primitive: npm run bench:sync. Long torture runs: npm run torture.');
  }
  return 0;
}
