// `npm run fuzz:replay [-- --seeds N] [--first SEED] [--calls N] [--out DIR]`: fresh memtrace seeds recorded
// on this machine's kernel (tools/memtrace/run.sh) and replayed; a seed that does not replay exactly is saved
// as a fixture, ready to commit, under DIR/memtrace-seed-SEED (default: test/fixtures/strace, which
// `npm test` replays in full). The seeds are printed first and last; `--first SEED --seeds 1` records one
// again. Exit 0: every seed exact; 1: divergences (saved); 2: bad usage, or the tools cannot run here.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { memtraceUnavailable, replayDivergence } from './support/memtrace.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function usage(why: string): never {
  console.error(`fuzz:replay: ${why} (usage: npm run fuzz:replay -- [--seeds N] [--first SEED] [--calls N] [--out DIR])`);
  process.exit(2);
}

function count(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) usage(`--${flag} ${v}: expected a whole number`);
  return n;
}

let values;
try {
  ({ values } = parseArgs({ options: { seeds: { type: 'string' }, first: { type: 'string' }, calls: { type: 'string' }, out: { type: 'string' } } }));
} catch (e) {
  usage((e as Error).message);
}
const seeds = count('seeds', values.seeds, 2000);
const first = count('first', values.first, randomInt(1_000_000, 2 ** 31 - 1 - seeds));
const calls = count('calls', values.calls, 300);
const out = path.resolve(values.out ?? path.join(ROOT, 'test/fixtures/strace'));
if (seeds < 1 || calls < 1) usage('--seeds and --calls must be at least 1');
const why = memtraceUnavailable();
if (why) {
  console.error(`fuzz:replay: cannot record here: ${why}`);
  process.exit(2);
}

// Recorded under /tmp/mmsplit-memtrace/seed-N, the path the committed fixtures name for memtrace's data.bin.
const work = path.join(os.tmpdir(), 'mmsplit-memtrace');
fs.mkdirSync(work, { recursive: true });
const env = { ...process.env, MEMTRACE_BIN: path.join(work, `memtrace-${process.pid}`) };
const last = first + seeds - 1;
console.log(`fuzz:replay: memtrace seeds ${first}..${last}, ${calls} calls each (--first ${first} --seeds ${seeds} repeats them)`);
const divergent: number[] = [];
const t0 = Date.now();
for (let seed = first; seed <= last; seed++) {
  const dir = path.join(work, `seed-${seed}`);
  const run = spawnSync('sh', [path.join(ROOT, 'tools/memtrace/run.sh'), String(seed), String(calls), dir], { env, timeout: 60_000, encoding: 'utf8' });
  if (run.status !== 0) {
    console.error(`fuzz:replay: seed ${seed}: recording failed: ${(run.stderr || run.error?.message || '').trim()}`);
    process.exitCode = 2;
    break;
  }
  let found: string | undefined;
  try {
    found = replayDivergence(dir, true);
  } catch (e) {
    found = `replay threw: ${(e as Error).stack}`;
  }
  if (found) {
    const fixture = path.join(out, `memtrace-seed-${seed}`);
    fs.mkdirSync(fixture, { recursive: true });
    for (const f of ['trace.txt', 'before.maps', 'after.maps']) fs.copyFileSync(path.join(dir, f), path.join(fixture, f));
    divergent.push(seed);
    console.log(`seed ${seed} DIVERGES, saved to ${path.relative(process.cwd(), fixture) || fixture}: ${found.split('\n').slice(0, 4).join('\n  ')}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const done = seed - first + 1;
  if (done % 250 === 0 || seed === last) console.log(`  ${done}/${seeds} seeds, ${divergent.length} divergent, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
fs.rmSync(env.MEMTRACE_BIN, { force: true });
console.log(`fuzz:replay: memtrace seeds ${first}..${last}: ${divergent.length ? `${divergent.length} DIVERGENT (${divergent.join(' ')}), saved under ${out}` : 'all exact'}`);
if (divergent.length && !process.exitCode) process.exitCode = 1;
