// The checker: the deterministic scheduler replays a run exactly from its seed; every real design passes
// every scenario under pct (a few hundred schedules here; MMSPLIT_LONG=1 runs 10^4 per scenario); every
// mutant is caught and its violation replays; dfs walks all schedules of a small scenario; stress mode runs
// free; the command prints the replay line and exits 1 on a violation.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CHECK_SCENARIOS, parseReplay, replay, runCheck } from '../src/check/check.js';
import { decode, describe, drawProgram, encode, generated, shrink } from '../src/check/generated.js';
import { Prng } from '../src/util/prng.js';
import { DESIGNS, designInfo, mutantNames } from '../src/designs/index.js';
import { testSeed } from './support/seed.js';
import { AddressSpace } from '../src/designs/address-space.js';
import { BufferSet } from '../src/shm/buffers.js';

const LONG = !!process.env.MMSPLIT_LONG;
const seed = testSeed();
const run = promisify(execFile);
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

test('a replay is exact: the same seed gives the same interleaving, step for step', { timeout: 60_000 }, async () => {
  for (const mode of ['pct', 'random'] as const) {
    const a = await replay({ design: 'srcu', scenario: 'fault-munmap', mode, token: { seed } });
    const b = await replay({ design: 'srcu', scenario: 'fault-munmap', mode, token: { seed } });
    assert.ok(a.steps > 100, `seed ${seed}: a run of ${a.steps} steps`);
    assert.equal(b.steps, a.steps, `seed ${seed} ${mode}: step counts differ`);
    assert.deepEqual(b.trace.map((e) => `${e.thread} ${e.what}`), a.trace.map((e) => `${e.thread} ${e.what}`), `seed ${seed} ${mode}: traces differ`);
    assert.ok(new Set(a.trace.map((e) => e.thread)).size === 2);
  }
});

for (const design of Object.keys(DESIGNS)) {
  test(`${design}: no violation in any scenario under pct`, { timeout: LONG ? 3_600_000 : 120_000 }, async () => {
    for (const s of CHECK_SCENARIOS) {
      const r = await runCheck({ design, scenario: s.name, mode: 'pct', runs: LONG ? 10_000 : 40, seed });
      assert.equal(r.violation, undefined, `${design} ${s.name} seed ${seed}: ${r.violation?.message} (replay ${r.violation?.replay})`);
      assert.equal(r.runs, LONG ? 10_000 : 40);
      if (LONG) console.log(`# ${design} ${s.name}: ${r.runs} schedules, ${Math.round(r.schedulesPerMinute)}/min`);
    }
  });
}

for (const name of mutantNames()) {
  // Up to 3000 schedules per scenario, however long they take (a time limit would search less on a busy
  // machine): the fixed seed catches every mutant within 8 s on an idle 2-core machine.
  test(`mutant ${name} (${designInfo(name).mutantOf} broken) is caught, and its violation replays`, { timeout: 300_000 }, async () => {
    let found: { scenario: string; message: string; replay: string } | undefined;
    for (const s of CHECK_SCENARIOS) {
      const r = await runCheck({ design: name, scenario: s.name, mode: 'pct', runs: 3000, seed });
      if (r.violation) {
        found = { scenario: s.name, message: r.violation.message, replay: r.violation.replay };
        break;
      }
    }
    assert.ok(found, `seed ${seed}: ${name} was not caught`);
    for (let i = 0; i < (LONG ? 10 : 2); i++) {
      const again = await replay({ design: name, scenario: found.scenario, mode: 'pct', token: parseReplay(found.replay, 'pct') });
      assert.equal(again.violation, found.message, `seed ${seed}: replay ${found.replay} of ${name}/${found.scenario} did not reproduce`);
    }
  });
}

test('dfs tries every schedule of a small scenario within its preemption bound, and finds the mutant in it', { timeout: 120_000 }, async () => {
  const ok = await runCheck({ design: 'mmap-lock', scenario: 'fault-fault', mode: 'dfs', runs: 5000, seed: 1, preemptions: 1 });
  assert.equal(ok.violation, undefined, ok.violation?.message);
  assert.ok(ok.exhausted, `dfs did not finish in ${ok.runs} schedules`);
  assert.ok(ok.runs > 10);
  const bad = await runCheck({ design: 'spf-novalidate', scenario: 'fault-mprotect', mode: 'dfs', runs: 5000, seed: 1, preemptions: 1 });
  assert.ok(bad.violation, 'dfs missed spf-novalidate');
  const token = parseReplay(bad.violation.replay, 'dfs');
  assert.ok(token.overrides!.length >= 1);
  const again = await replay({ design: 'spf-novalidate', scenario: 'fault-mprotect', mode: 'dfs', token });
  assert.equal(again.violation, bad.violation.message);
});

test('stress mode: real workers running free, invariants checked after every run', { timeout: 60_000 }, async () => {
  const r = await runCheck({ design: 'per-vma-lock', scenario: 'fault-mremap', mode: 'stress', runs: 30, seed });
  assert.equal(r.violation, undefined, r.violation?.message);
  assert.equal(r.runs, 30);
  assert.ok(r.stats.fastPath! + r.stats.fallback! > 0);
});

test('mmsplit check: exit 1 with the seed and the interleaving; --replay reproduces it; bad options get a clear error', { timeout: 120_000 }, async () => {
  const failed = await run('node', [CLI, 'check', '--design', 'spf-novalidate', '--scenario', 'fault-mprotect', '--runs', '2000', '--seed', String(seed)]).then(
    () => assert.fail('check passed a mutant'),
    (e: { code: number; stdout: string }) => e,
  );
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /VIOLATION in fault-mprotect/);
  assert.match(failed.stdout, /^ +\d+ +T1 /m); // the interleaving shows both threads
  assert.match(failed.stdout, /^ +\d+ T0 /m);
  const cmd = /replay with:\n\s+mmsplit (.*)\n/.exec(failed.stdout)![1]!.split(' ');
  const again = await run('node', [CLI, ...cmd]).then(() => assert.fail('the replay passed'), (e: { code: number; stdout: string }) => e);
  assert.equal(again.code, 1);
  const message = /VIOLATION in fault-mprotect after \d+ schedules: (.*)/.exec(failed.stdout)![1];
  assert.ok(again.stdout.includes(`VIOLATION: ${message}`), again.stdout.slice(-500));
  const okRun = await run('node', [CLI, 'check', '--design', 'spf', '--scenario', 'fault-fault', '--runs', '20', '--seed', String(seed), '--json']);
  const json = JSON.parse(okRun.stdout) as { reports: { runs: number; violation?: unknown }[] };
  assert.equal(json.reports[0]!.runs, 20);
  for (const args of [['--design', 'nope'], ['--design', 'spf', '--mode', 'bfs'], ['--design', 'spf', '--scenario', 'x'], ['--design', 'spf', '--mode', 'pct', '--replay', '1:2=1', '--scenario', 'fault-fault']]) {
    const e = await run('node', [CLI, 'check', ...args]).then(() => assert.fail(`accepted ${args.join(' ')}`), (x: { code: number; stderr: string }) => x);
    assert.equal(e.code, 2, 'bad usage exits 2');
    assert.match(e.stderr, /unknown|bad|dfs overrides/);
    assert.doesNotMatch(e.stderr, /at .*\.js:\d+/); // no stack
  }
});

test('generated programs: drawn from the seed, written as text and read back, shrunk when they fail, replayed with --program', { timeout: 300_000 }, async () => {
  const g = drawProgram(new Prng(seed));
  assert.deepEqual(decode(encode(g)), g, 'encode/decode round-trip');
  assert.deepEqual(drawProgram(new Prng(seed)), g, 'a program is a function of its seed');
  assert.match(describe(g), /^window: 8 pages at 0x10000000/);
  const size = (p: typeof g) => generated.program!.size(p) + p.threads.flat().reduce((a, o) => a + ('pages' in o ? o.pages : 0), 0);
  assert.ok(shrink(g).length > 0);
  for (const smaller of shrink(g)) assert.ok(size(smaller) < size(g), 'every candidate is smaller: an operation fewer or a span shorter');
  for (const bad of ['T0:q1', 'S:u0+1', 'T0:w9', 'T0:u6+4', 'T7:r1', 'nonsense']) assert.throws(() => decode(bad), /^Error: program: /, bad);

  // A mutant caught by a generated program, shrunk, and replayed from the text the report prints.
  const r = await runCheck({ design: 'spf-novalidate', scenario: 'generated', mode: 'pct', runs: 3000, seed });
  assert.ok(r.violation, `seed ${seed}: spf-novalidate was not caught by a generated program`);
  const v = r.violation;
  assert.ok(v.program && v.programText && v.programSize, 'the violation carries its program');
  assert.ok(v.programSize.shrunk <= v.programSize.found);
  if (v.programSize.shrunk < v.programSize.found) assert.equal(v.replayProgram, v.program, 'a shrunk program is part of the replay');
  // What the report prints replays it: the seed, and the program where it was shrunk.
  const again = await replay({ design: 'spf-novalidate', scenario: 'generated', mode: 'pct', token: parseReplay(v.replay, 'pct'), ...(v.replayProgram !== undefined ? { program: v.replayProgram } : {}) });
  assert.equal(again.violation, v.message, 'the replay reproduces the violation');
  assert.equal(again.programText, v.programText);

  // Not shrunk, the seed alone replays it: the run drew its program from the seed, and a replay given the
  // program would plan its schedule for that program instead.
  const unshrunk = (await runCheck({ design: 'spf-novalidate', scenario: 'generated', mode: 'pct', runs: 3000, seed, shrinkMs: 0 })).violation!;
  assert.equal(unshrunk.replayProgram, undefined);
  const bySeed = await replay({ design: 'spf-novalidate', scenario: 'generated', mode: 'pct', token: parseReplay(unshrunk.replay, 'pct') });
  assert.equal(bySeed.violation, unshrunk.message, 'the seed replays the violation as found');
  assert.equal(bySeed.programText, unshrunk.programText);

  const out = await run('node', [CLI, 'check', '--design', 'spf-novalidate', '--scenario', 'generated', '--runs', '3000', '--seed', String(seed)]).then(
    () => assert.fail('check passed a mutant'),
    (e: { code: number; stdout: string }) => e,
  );
  assert.equal(out.code, 1);
  assert.match(out.stdout, /The program \((shrunk from \d+ operations to \d+|\d+ operations, not shrunk)\):\n  window: /);
  // The replay command carries the program exactly when it was shrunk (otherwise the seed draws it).
  if (/not shrunk/.test(out.stdout)) assert.match(out.stdout, /--replay \d+\n/);
  else assert.match(out.stdout, /--replay \d+ --program 'S:[^']*;P:[^']*;T0:[^']*;T1:[^']*'/);
  const bad = await run('node', [CLI, 'check', '--design', 'spf', '--scenario', 'generated', '--program', 'T0:zz']).then(() => assert.fail('accepted a bad program'), (e: { code: number; stderr: string }) => e);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^mmsplit check: --program: 'zz' is not an operation/);
  const wrong = await run('node', [CLI, 'check', '--design', 'spf', '--scenario', 'fault-fault', '--program', 'T0:r1']).then(() => assert.fail('accepted --program without generated'), (e: { code: number; stderr: string }) => e);
  assert.equal(wrong.code, 2);
});

test('mmsplit check --coverage: the paths of the fault core and the VMA operations the runs reached, the design\'s counters and schedPoints', { timeout: 300_000 }, async () => {
  const r = await run('node', [CLI, 'check', '--design', 'per-vma-lock', '--scenario', 'generated,fault-munmap', '--runs', '300', '--seed', String(seed), '--coverage']);
  assert.match(r.stdout, /Coverage of per-vma-lock over 600 schedules in 2 scenarios:/);
  const reached = /fault core and VMA operations: (\d+) of (\d+) paths reached/.exec(r.stdout)!;
  // per-vma-lock's faults are never speculative: the second walk and revalidate() failing are not its paths.
  assert.ok(Number(reached[1]) >= Number(reached[2]) - 7, `generated programs reach most paths: ${reached[0]}`);
  for (const p of ['__split_vma: new VMA below', 'vma_modify: prev takes the range', 'do_anonymous_page: a new page (write)', 'do_cow_fault: a private copy of a file page', 'beyond EOF: SIGBUS']) {
    assert.match(r.stdout, new RegExp(`^ +[\\d,]+  ${p.replace(/[()]/g, '\\$&')}$`, 'm'), p);
  }
  assert.match(r.stdout, /^ +[\d,]+  abort$/m, 'the design\'s own counters');
  // A path its faults cannot take is not 'never' but unreachable, with why.
  assert.match(r.stdout, /^ +unreachable  a PROT_NONE PTE made present: its faults hold a lock mprotect holds for write/m);
  assert.doesNotMatch(r.stdout, /never  a PROT_NONE PTE made present/);
  const j = JSON.parse((await run('node', [CLI, 'check', '--design', 'mmap-lock', '--scenario', 'fault-fault', '--runs', '20', '--seed', String(seed), '--coverage', '--json'])).stdout) as {
    coverage: { paths: [string, number][]; never: string[]; counters: [string, number][] };
  };
  assert.ok(j.coverage.paths.length > 0 && j.coverage.never.length > 0, 'one small scenario reaches some paths, not all');
  assert.deepEqual(j.coverage.counters.map(([c]) => c), ['fastPath', 'retry', 'fallback']);
});

/** Every SharedArrayBuffer a handle holds, in the order a walk of it meets them. */
function buffersOf(h: unknown, out: SharedArrayBuffer[] = []): SharedArrayBuffer[] {
  if (h instanceof SharedArrayBuffer) out.push(h);
  else if (typeof h === 'object' && h !== null) for (const v of Object.values(h)) buffersOf(v, out);
  return out;
}

test('an address space created again over the buffers of one a run left dirty is byte for byte a fresh one', () => {
  // The checker creates every schedule's address space over the last one's buffers (BufferSet): a run must
  // start from exactly the state a new address space has, or a seed would not mean the same schedule.
  const opts = { frames: 128, tables: 64, capacity: 256, debug: true, maxThreads: 16 };
  for (const design of Object.keys(DESIGNS)) {
    const reused = new BufferSet();
    for (const s of [seed, seed + 1, seed + 2]) {
      const dirty = reused.reuse(() => AddressSpace.create({ design, ...opts }));
      const params = generated.setup(dirty, new Prng(s));
      for (let t = 0; t < generated.threads; t++) generated.role({ as: dirty, params, thread: t, note: () => {} });
      const again = reused.reuse(() => AddressSpace.create({ design, ...opts }));
      const fresh = new BufferSet().reuse(() => AddressSpace.create({ design, ...opts }));
      const [a, f] = [buffersOf(again.handle()), buffersOf(fresh.handle())];
      assert.deepEqual(a, buffersOf(dirty.handle()), `${design}: the same buffers`);
      assert.equal(a.length, f.length);
      a.forEach((b, i) => assert.ok(Buffer.from(b).equals(Buffer.from(f[i]!)), `${design} seed ${s}: buffer ${i} (${b.byteLength} bytes) differs from a fresh one's`));
      assert.deepEqual(JSON.stringify({ ...again.handle() }, (_k, v: unknown) => (v instanceof SharedArrayBuffer ? v.byteLength : v)), JSON.stringify({ ...fresh.handle() }, (_k, v: unknown) => (v instanceof SharedArrayBuffer ? v.byteLength : v)));
    }
  }
});
