// Torture tests on real workers: in `npm test` every worker does a fixed number of operations, counted from
// the moment all of them run, so a busy machine makes a run slower but never fails it; with MMSPLIT_LONG=1
// (`npm run torture`) each scenario hammers for 15 s instead, at two worker counts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTorture, TORTURE_SCENARIOS } from '../src/check/torture.js';
import { testSeed } from './support/seed.js';

const long = !!process.env.MMSPLIT_LONG;
const durationMs = 15_000;
const timeoutMs = 60_000; // a lost wake-up or a starved worker fails the run after this long
const seed = testSeed();

for (const s of TORTURE_SCENARIOS) {
  for (const workers of long ? [Math.max(2, s.minWorkers), s.minWorkers + 2] : [Math.max(2, s.minWorkers)]) {
    const budget = long ? `${durationMs} ms` : `${s.testOps.toLocaleString('en-US')} ops each`;
    test(`torture ${s.name} (${workers} workers, ${budget}, seed ${seed})`, { timeout: (long ? durationMs : 0) + timeoutMs + 30_000 }, async () => {
      // Rejects on a violation, a hang, or a worker that did less than its share (at least one operation in
      // a timed run).
      const r = await runTorture(s.name, { workers, seed, timeoutMs: (long ? durationMs : 0) + timeoutMs, ...(long ? { durationMs } : {}) });
      assert.equal(r.reports.length, workers);
    });
  }
}
