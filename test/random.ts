// `npm run test:random`: the seeded test files (those that take testSeed()) under a seed drawn afresh, or
// MMSPLIT_SEED's; the seed is printed first and last, and MMSPLIT_SEED=<seed> npm test reproduces a failure.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const seed = process.env.MMSPLIT_SEED || String(randomInt(2 ** 32));
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.test.js') && fs.readFileSync(path.join(dir, f), 'utf8').includes('./support/seed.js'))
  .sort()
  .map((f) => path.join(dir, f));
console.log(`MMSPLIT_SEED=${seed}: ${files.map((f) => path.basename(f)).join(' ')}`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env: { ...process.env, MMSPLIT_SEED: seed } });
console.log(`MMSPLIT_SEED=${seed}: ${r.status === 0 ? 'passed' : 'FAILED'}`);
process.exitCode = r.status ?? 1;
