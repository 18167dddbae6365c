/**
 * `mmsplit replay` against the kernel: every committed fixture (memtrace seeds, python3, node, real/*) must replay
 * exactly — every return value and the final layout — and so must memtrace traces generated on the fly
 * where gcc, strace and setarch work (seeds 1 to 20 in the normal suite, 1 to 500 with MMSPLIT_LONG=1, 300
 * calls each; MMSPLIT_SEED=N starts at N instead, as `npm run test:random` does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareLayouts } from '../src/trace/replay.js';
import { testSeed } from './support/seed.js';
import { memtraceUnavailable, replayDivergence } from './support/memtrace.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(ROOT, 'test/fixtures/strace');
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const LONG = process.env.MMSPLIT_LONG === '1';
function checkExact(dir: string, label: string, validate = false): void {
  const why = replayDivergence(dir, validate);
  assert.equal(why, undefined, `${label}: ${why}`);
}

test('committed memtrace fixtures replay exactly', () => {
  // Seeds that once diverged, saved by `npm run fuzz:replay`, among them 697550 and 879680: a read fault
  // (MAP_POPULATE of an r-x or --x private anonymous mapping) gives the VMA an anon_vma on Linux 6.18, which
  // keeps VM_ACCOUNT and the VMA apart from its neighbours later.
  const dirs = fs.readdirSync(FIX).filter((d) => d.startsWith('memtrace-seed-'));
  assert.ok(dirs.length >= 7, `memtrace fixtures: ${dirs.join(' ')}`);
  for (const d of dirs) checkExact(path.join(FIX, d), d, true);
});

test('committed real-program fixtures (python3, node, and 22 programs in real/) replay exactly, with no options', () => {
  checkExact(path.join(FIX, 'python3'), 'python3', true);
  checkExact(path.join(FIX, 'node'), 'node');
  // real/javac diverges if nothing made writable is written (the JVM's class space is kept apart from a chunk
  // written first), real/java if it is written at once (the JVM commits a heap page by page, then writes):
  // see "Writes" in the header of src/trace/replay.ts.
  const real = fs.readdirSync(path.join(FIX, 'real'));
  assert.ok(real.length >= 10, `real programs: ${real.join(' ')}`);
  for (const d of real) checkExact(path.join(FIX, 'real', d), `real/${d}`, true);
});


test(`memtrace on the fly: ${LONG ? 500 : 20} seeds × 300 calls replay exactly`, { timeout: LONG ? 1_800_000 : 120_000 }, (t) => {
  const why = memtraceUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const n = LONG ? 500 : 20;
  const base = testSeed() % 1_000_000;
  t.diagnostic(`memtrace seeds ${base}..${base + n - 1} (MMSPLIT_SEED=${base} reproduces)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-replay-'));
  try {
    const env = { ...process.env, MEMTRACE_BIN: path.join(tmp, 'memtrace') };
    for (let seed = base; seed < base + n; seed++) {
      const out = path.join(tmp, `seed-${seed}`);
      const run = spawnSync('sh', [path.join(ROOT, 'tools/memtrace/run.sh'), String(seed), '300', out], { env, timeout: 60000, encoding: 'utf8' });
      assert.equal(run.status, 0, `run.sh ${seed}: ${run.stderr}`);
      checkExact(out, `memtrace seed ${seed}`);
      fs.rmSync(out, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, 'replay', ...args], { encoding: 'utf8', timeout: 60000 });
}

test('the replay command: exit 0 on a match, 1 with the first divergence and a diff, 2 on malformed input', () => {
  const d = path.join(FIX, 'memtrace-seed-2');
  const ok = cli([path.join(d, 'trace.txt'), '--maps', path.join(d, 'before.maps'), '--expect', path.join(d, 'after.maps')]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, compareLayouts(fs.readFileSync(path.join(d, 'after.maps'), 'utf8'), ok.stdout).equal ? ok.stdout : '');
  assert.match(ok.stdout, /^555555554000-555555555000 r--p 00000000 fe:00 \d+ +\/.*memtrace$/m);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-replay-cli-'));
  try {
    // A wrong recorded result: divergence reported with its line, then a layout diff.
    const lines = fs.readFileSync(path.join(d, 'trace.txt'), 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('munmap(') && l.endsWith('= 0'));
    lines[i] = lines[i]!.replace(/= 0$/, '= -1 EINVAL (Invalid argument)');
    fs.writeFileSync(path.join(tmp, 'bad.txt'), lines.join('\n'));
    const bad = cli([path.join(tmp, 'bad.txt'), '--maps', path.join(d, 'before.maps'), '--expect', path.join(FIX, 'memtrace-seed-3/after.maps')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, new RegExp(`bad\\.txt:${i + 1}: munmap\\(`));
    assert.match(bad.stderr, /expected -1 EINVAL\n {2}actual {3}0/);
    assert.match(bad.stderr, /final layout differs/);
    assert.match(bad.stderr, /^[-+] [0-9a-f]+-[0-9a-f]+ /m);

    const json = cli([path.join(tmp, 'bad.txt'), '--maps', path.join(d, 'before.maps'), '--json']);
    assert.equal(json.status, 1);
    const j = JSON.parse(json.stdout) as { ok: boolean; firstDivergence: { line: number } };
    assert.equal(j.ok, false);
    assert.equal(j.firstDivergence.line, i + 1);

    // Malformed trace and maps: exit 2, file:line, no stack trace.
    fs.writeFileSync(path.join(tmp, 'garbage.txt'), 'mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\nthis is not strace\n');
    const g = cli([path.join(tmp, 'garbage.txt'), '--maps', path.join(d, 'before.maps')]);
    assert.equal(g.status, 2);
    assert.match(g.stderr, /garbage\.txt:2: expected/);
    assert.doesNotMatch(g.stderr, /\n\s+at /);
    fs.writeFileSync(path.join(tmp, 'bad.maps'), '555555554000-555555555000 r--p 00000000 fe:00 1 /x\n55555555-zz\n');
    const m = cli([path.join(d, 'trace.txt'), '--maps', path.join(tmp, 'bad.maps')]);
    assert.equal(m.status, 2);
    assert.match(m.stderr, /bad\.maps:2: expected/);
    const missing = cli([path.join(tmp, 'nope.txt'), '--maps', path.join(d, 'before.maps')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.txt: cannot read the trace/);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
