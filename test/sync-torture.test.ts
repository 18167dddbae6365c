// Torture tests on real workers (short in `npm test`, long with MMSPLIT_LONG=1 / `npm run torture`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTorture, TORTURE_SCENARIOS } from '../src/check/torture.js';
import { testSeed } from './support/seed.js';

const long = !!process.env.MMSPLIT_LONG;
const durationMs = long ? 15_000 : 250;
const seed = testSeed();

for (const s of TORTURE_SCENARIOS) {
  for (const workers of long ? [Math.max(2, s.minWorkers), s.minWorkers + 2] : [Math.max(2, s.minWorkers)]) {
    test(`torture ${s.name} (${workers} workers, ${durationMs} ms, seed ${seed})`, { timeout: durationMs + 60_000 }, async () => {
      const r = await runTorture(s.name, { workers, durationMs, seed, timeoutMs: durationMs + 30_000 });
      assert.ok(r.workers >= 2);
      const total = Object.values(r.ops).reduce((a, b) => a + b, 0);
      assert.ok(total > 0, `${s.name}: no operations were done`);
    });
  }
}
