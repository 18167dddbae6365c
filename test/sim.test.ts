// The simulated machine (src/sim/): deterministic on a fixed cost table, its models move the figures the
// way they must, its results are the lab's format, and bad input gets one line and exit 2. Nothing here
// times anything: a simulation's figures are a function of its cost table, profile and options, and the
// tables are committed (test/fixtures/sim/costs.json), so that no figure asserted on depends on how busy
// the host was when it calibrated. One test calibrates on the live machine and asserts only what any load
// gives: a table, of positive costs, that reads back as written.
//
// The fixture is measured on the designs' code: when that code's points change, simulatePoint refuses the
// table (CostTableMismatch) and the fixture is made again, on any machine, with
//   node dist/src/cli/main.js simulate --designs mmap-lock,per-vma-lock,spf --workloads page_fault1,churn \
//     --cpus 2 --duration 1 --warmup 1 --repetitions 1 --save-costs test/fixtures/sim/costs.json --out /tmp/sim
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { plan } from '../src/bench/runner.js';
import { validateResults, type Entry } from '../src/bench/results.js';
import { CostTable, buildCosts, nameSharedBuffers, parseCosts, readCostTables, typicalCost, type CostTableJson } from '../src/sim/costs.js';
import { loadProfile, PROFILES, ProfileError, validateProfile, type MachineProfile } from '../src/sim/profile.js';
import { SimPool } from '../src/sim/pool.js';
import { calibrateCosts, CostTableMismatch, scaleToReal, simulateLab, simulatePoint, simulateRun, type SimOptions } from '../src/sim/simulate.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const FIXTURE = path.join(ROOT, 'test/fixtures/sim/costs.json');
const profile = PROFILES['this-machine']!;
const opts: SimOptions = { profile, quantumNs: 1000, warmupMs: 1, startLimitMs: 10, durationMs: 1, repetitions: 2 };

/** The committed tables, by "design workload". */
const tables = readCostTables(FIXTURE);
function costsOf(design: string, workload: 'page_fault1' | 'churn'): CostTableJson {
  const t = tables.get(`${design} ${workload}`);
  assert.ok(t, `${FIXTURE} has no table for ${design} ${workload}: make it again (see the top of this file)`);
  return t;
}

const figures = (e: Entry) => JSON.stringify({ samples: e.samples, counters: e.counters, munmap: e.munmapLatencyUs, churn: e.churn });

for (const design of ['mmap-lock', 'spf', 'per-vma-lock']) {
  test(`simulate: ${design} page_fault1 on 2 CPUs gives the same figures twice on the same costs, its workers free or on one CPU`, { timeout: 120_000 }, async () => {
    const costs = costsOf(design, 'page_fault1');
    const a = await simulatePoint({ design: design as never, workload: 'page_fault1', threads: 2 }, opts, costs);
    const pinned = new SimPool(true); // as simulateLab runs its points
    const b = await simulatePoint({ design: design as never, workload: 'page_fault1', threads: 2 }, { ...opts, pool: pinned }, costs).finally(() => pinned.close());
    assert.equal(a.entry.failure, undefined, a.entry.failure?.message);
    assert.ok(a.entry.median.faultsPerSec > 0, 'some faults were simulated');
    assert.equal(figures(a.entry), figures(b.entry));
    assert.ok(a.runs[0]!.switches > 0, 'two CPUs took turns');
  });
}

test('simulate: slower cache-line transfers slow the contended baseline, never speed it up', { timeout: 120_000 }, async () => {
  const costs = costsOf('mmap-lock', 'page_fault1');
  const at = async (lineTransferNs: number) => {
    const p: MachineProfile = { ...profile, cpus: 4, lineTransferNs, remoteLineTransferNs: lineTransferNs };
    const { entry } = await simulatePoint({ design: 'mmap-lock', workload: 'page_fault1', threads: 4 }, { ...opts, profile: p }, costs);
    assert.equal(entry.failure, undefined, entry.failure?.message);
    return entry.median.faultsPerSec;
  };
  const fast = await at(0);
  const slow = await at(5000); // every fault's down_read and up_read take the rwsem's line from another CPU
  assert.ok(slow < fast * 0.8, `4 CPUs faulting under one rwsem: ${slow} faults/s with 5 µs transfers against ${fast} with free ones`);
});

test('simulate: memory bandwidth is shared: a narrow channel slows page_fault1 on many CPUs more than on one', { timeout: 120_000 }, async () => {
  const costs = costsOf('spf', 'page_fault1');
  const rate = async (cpus: number, memoryBandwidthGBs: number) => {
    const p: MachineProfile = { ...profile, cpus: 4, memoryBandwidthGBs };
    const { entry } = await simulatePoint({ design: 'spf', workload: 'page_fault1', threads: cpus }, { ...opts, profile: p }, costs);
    return entry.median.faultsPerSec;
  };
  const narrow = 0.5; // GB/s: a page takes 8 µs of the channel
  const one = (await rate(1, narrow)) / (await rate(1, 1000));
  const four = (await rate(4, narrow)) / (await rate(4, 1000));
  assert.ok(four < one * 0.6, `kept with a narrow channel: ${one.toFixed(2)} on 1 CPU, ${four.toFixed(2)} on 4`);
});

test('simulate: SMT siblings that run at once share their core; CPUs on cores of their own do not', { timeout: 120_000 }, async () => {
  const costs = costsOf('spf', 'page_fault1');
  const rate = async (p: MachineProfile) => {
    const { entry } = await simulatePoint({ design: 'spf', workload: 'page_fault1', threads: 2 }, { ...opts, profile: p }, costs);
    assert.equal(entry.failure, undefined, entry.failure?.message);
    return entry.median.faultsPerSec;
  };
  const plain: MachineProfile = { ...profile, cpus: 4 };
  const alone = await rate(plain);
  // 4 CPUs, 2 a core: CPUs 0 and 1 are the first threads of two cores, as Linux numbers them.
  assert.equal(await rate({ ...plain, threadsPerCore: 2, siblingSpeed: 0.5 }), alone, 'two cores: nothing shared');
  // 2 CPUs, 2 a core: one core.
  const shared = await rate({ ...profile, threadsPerCore: 2, siblingSpeed: 0.5 });
  // Slower, and by how much depends on the table (slower code also widens the windows two faults race in).
  assert.ok(shared > 0 && shared < alone * 0.9, `two threads of one core at half speed each: ${shared} against ${alone} faults/s`);
  assert.throws(() => validateProfile({ ...profile, threadsPerCore: 3 }, 'p.json'), /p\.json: threadsPerCore/);
  assert.throws(() => validateProfile({ ...profile, siblingSpeed: 0 }, 'p.json'), /p\.json: siblingSpeed: expected a number in \(0, 1\]/);
});

test('simulate: a churn point has its churn-free baseline, and the results are the lab\'s format, marked simulated', { timeout: 180_000 }, async () => {
  const costs = new Map([['spf churn', costsOf('spf', 'churn')]]);
  const { results } = await simulateLab({ designs: ['spf'], workloads: ['churn'], cpus: [1, 3], profile, quantumNs: 1000, durationMs: 1, repetitions: 2, warmupMs: 1, startLimitMs: 10, costs });
  assert.equal(results.entries.length, 1, 'churn needs 2 CPUs: the 1-CPU point is left out');
  const e = results.entries[0]!;
  assert.equal(e.threads, 3);
  assert.ok(e.churn && e.churn.baselineFaultsPerSec > 0 && e.churn.churnOpsPerSec > 0, JSON.stringify(e.churn));
  assert.equal(results.simulation?.profile['name'], 'this-machine');
  assert.equal(results.simulation?.costs[0]?.design, 'spf');
  assert.ok(e.begunMs !== undefined && e.begunMs > 0, `when every CPU's thread had begun: ${e.begunMs}`);
  const again = validateResults(JSON.parse(JSON.stringify(results)));
  assert.deepEqual(again.simulation, results.simulation);
  assert.equal(again.entries[0]!.begunMs, e.begunMs);
  assert.throws(() => validateResults({ ...JSON.parse(JSON.stringify(results)), simulation: { ...results.simulation, typo: 1 } }), /simulation.*typo/);
  assert.throws(() => validateResults({ ...JSON.parse(JSON.stringify(results)), simulation: undefined }), /entries\[0\].*begunMs/, 'a measured entry has no first-operation instant');
  // A file written before the warm-up counted from that instant carries warmupMsPerCpu instead.
  const { startLimitMs, ...older } = results.simulation!;
  assert.equal(startLimitMs, 10);
  assert.equal(validateResults({ ...JSON.parse(JSON.stringify(results)), simulation: { ...older, warmupMsPerCpu: 0.25 } }).simulation?.warmupMsPerCpu, 0.25);
  assert.throws(() => validateResults({ ...JSON.parse(JSON.stringify(results)), simulation: older }), /simulation\.startLimitMs.*missing/);
});

test('simulate: the warm-up counts from the instant every CPU\'s thread has done its first operation, or from the start limit', { timeout: 120_000 }, async () => {
  // spf's page_fault1 threads each begin with an mmap, and those queue on the mmap_lock: on 8 CPUs the
  // last thread touches its first page ms after it started.
  const costs = costsOf('spf', 'page_fault1');
  const at = (startLimitMs: number) => simulatePoint({ design: 'spf', workload: 'page_fault1', threads: 8 }, { ...opts, startLimitMs }, costs);
  const waited = await at(100);
  const cut = await at(0);
  const lastStartMs = (7 * profile.wakeUpNs) / 1e6;
  assert.ok(waited.entry.begunMs !== undefined && waited.entry.begunMs > lastStartMs + opts.warmupMs, `every thread began at ${waited.entry.begunMs} ms, after the last start (${lastStartMs} ms) and more than a warm-up`);
  assert.equal(cut.entry.begunMs, undefined, 'with no time to wait, the warm-up counted from the limit, before every thread had begun');
  const first = (e: Entry) => e.samples[0]!.faults;
  assert.ok(first(cut.entry) < 0.8 * first(waited.entry), `a sample taken while threads still queue for their first mmap has fewer faults: ${first(cut.entry)} against ${first(waited.entry)}`);
});

test('simulate: a run that needs more frames than it has ends as out of memory, reported, and the other CPUs stop', { timeout: 60_000 }, async () => {
  const p = plan('page_fault1', 2);
  p.frames = 64; // a pass of page_fault1 touches thousands
  const run = await simulateRun('mmap-lock', p, 2, opts, CostTable.create(costsOf('mmap-lock', 'page_fault1')));
  assert.equal(run.failure?.kind, 'oom', run.failure?.message);
  assert.equal(run.samples.length, 0);
});

test('sim costs: calibrating on the live machine gives a table of the code\'s segments, of costs ≥ 0, that reads back as written', { timeout: 120_000 }, async () => {
  // The only test on the real clock: what it asserts holds however busy the host is (the costs themselves do not).
  const t = await calibrateCosts('spf', 'page_fault1', { ...opts, warmupMs: 30, durationMs: 10, repetitions: 2 });
  assert.equal(t.format, 'mmsplit.sim-costs');
  assert.ok(t.paths.length > 0 && t.pairs.length > 0, 'segments were timed');
  for (const [, ns] of [...t.paths, ...t.pairs, ...t.points]) assert.ok(Number.isFinite(ns) && ns >= 0, `cost ${ns}`);
  assert.ok(t.meanNs > 0, `mean ${t.meanNs}`);
  assert.ok(t.normalized && t.normalized.scale > 0, 'scaled to the untimed code\'s speed');
  assert.deepEqual(parseCosts(JSON.stringify(t), 'calibrated'), t);
  const table = new CostTable(CostTable.create(t));
  for (const [k, ns] of t.paths) assert.equal(table.cost(k, 0), ns);
});

test('sim costs: a table is scaled until the work alone simulated on it gives the real figure, though zeroing does not scale', { timeout: 120_000 }, async (t) => {
  // Deterministic: a committed table stands for the timed one, and the "real" figure is made up.
  const timed = costsOf('spf', 'page_fault1');
  const alone = () => plan('page_fault1', 1);
  const pool = new SimPool(true);
  t.after(() => pool.close());
  const window = { ...opts, warmupMs: 1, durationMs: 50, repetitions: 3, pool };
  const rate = async (t: CostTableJson) => {
    const run = await simulateRun('spf', alone(), 1, window, CostTable.create(t));
    return run.samples.reduce((n, s) => n + s.ops, 0) / run.samples.reduce((ms, s) => ms + s.elapsedMs, 0) * 1e3;
  };
  const asTimed = await rate(timed);
  const real = 2 * asTimed; // code twice as fast as timed
  const scaled = await scaleToReal('spf', alone, timed, real, false, window);
  assert.ok(Math.abs(scaled.normalized!.simulated! / real - 1) <= 0.02, `simulated alone on the scaled table: ${scaled.normalized!.simulated} against ${real}`);
  assert.equal(Math.round(await rate(scaled)), scaled.normalized!.simulated, 'and again, run on its own (deterministic)');
  // Every cost halved (the scale as if all time scaled) falls short: page zeroing costs the profile's bandwidth whatever the code costs.
  const half = (xs: [number, number][]): [number, number][] => xs.map(([k, ns]) => [k, ns / 2]);
  const halved = await rate({ ...timed, paths: half(timed.paths), pairs: half(timed.pairs), points: half(timed.points), meanNs: timed.meanNs / 2 });
  assert.ok(halved < 0.95 * real, `all costs halved: ${halved} against ${real}`);
  assert.ok(scaled.normalized!.scale < 0.5, `the scale found, ${scaled.normalized!.scale}, is below a half`);
});

test('sim costs: every committed table fits the code it was measured on; a table of other code is refused, saying so', { timeout: 120_000 }, async () => {
  for (const [key, t] of tables) {
    const [design, workload] = key.split(' ') as [string, 'page_fault1' | 'churn'];
    const { entry } = await simulatePoint({ design: design as never, workload, threads: workload === 'churn' ? 2 : 1 }, opts, t);
    assert.equal(entry.failure, undefined, `${key}: ${entry.failure?.message}`);
  }
  // spf's code on mmap-lock's table: its speculative path's points are not in it.
  await assert.rejects(simulatePoint({ design: 'spf', workload: 'page_fault1', threads: 1 }, opts, costsOf('mmap-lock', 'page_fault1')),
    (e: Error) => e instanceof CostTableMismatch && /spf page_fault1: the cost table \(mmap-lock page_fault1 .*\) knows \d+\.\d% of the code's segments at 1 CPU.*measured on other code/.test(e.message));
  // Past the CPU count it was measured at, contention's paths are new to any table: no refusal there.
  const { entry } = await simulatePoint({ design: 'mmap-lock', workload: 'page_fault1', threads: 4 }, opts, costsOf('mmap-lock', 'page_fault1'));
  assert.equal(entry.failure, undefined);
});

test('sim costs: a path unseen falls back to its pair, then the mean (not its closing point: other code led there); files round-trip', () => {
  const t = buildCosts([[[11, 21, 31, [100, 100, 100, 100]], [12, 22, 32, [300, 300, 300, 300, 1e9]]]], 'test');
  const table = new CostTable(CostTable.create(t));
  assert.equal(t.overheadNs, 100, 'the 1st percentile: the shortest segments');
  assert.equal(table.cost(12, 22), 200, 'a preempted sample is left out of the typical cost');
  assert.equal(table.cost(99, 22), 200, 'by pair');
  assert.equal(table.cost(99, 98), t.meanNs, 'an unseen pair: the mean, whatever its closing point cost elsewhere');
  assert.equal(typicalCost([1, 1, 1, 1e6]), 1);
  assert.deepEqual(parseCosts(JSON.stringify(t), 'x.json'), t);
  assert.throws(() => parseCosts('{"format":"mmsplit.sim-costs"}', 'x.json'), /x\.json: a cost table has/);
  assert.throws(() => parseCosts('nope', 'x.json'), /x\.json: not JSON/);
});

test('sim costs: shared buffers are named by the path to them, the same in every thread whatever their sizes', () => {
  const a = { mm: { arena: { i32: new Int32Array(new SharedArrayBuffer(64)) } }, frames: [new Uint8Array(new SharedArrayBuffer(128))] };
  const b = { mm: { arena: { i32: new Int32Array(new SharedArrayBuffer(4096)) } }, frames: [new Uint8Array(new SharedArrayBuffer(8))] };
  const na = nameSharedBuffers({ as: a });
  const nb = nameSharedBuffers({ as: b });
  assert.equal(na.get(a.mm.arena.i32.buffer), nb.get(b.mm.arena.i32.buffer));
  assert.equal(na.get(a.frames[0]!.buffer), nb.get(b.frames[0]!.buffer));
  assert.notEqual(na.get(a.mm.arena.i32.buffer), na.get(a.frames[0]!.buffer));
});

test('sim profiles: every built-in one is valid; a bad one is named with its field', () => {
  for (const [name, p] of Object.entries(PROFILES)) assert.equal(validateProfile(p, name).name, name);
  assert.equal(loadProfile('haswell-2s-48').cpus, 48);
  assert.throws(() => loadProfile('nope'), (e: Error) => e instanceof ProfileError && /no profile nope \(built in: this-machine/.test(e.message));
  assert.throws(() => validateProfile({ ...profile, lineTransferNs: -1 }, 'p.json'), /p\.json: lineTransferNs: expected a finite number ≥ 0/);
  assert.throws(() => validateProfile({ ...profile, sockets: 3 }, 'p.json'), /p\.json: sockets/);
  assert.throws(() => validateProfile({ ...profile, extra: 1 }, 'p.json'), /p\.json: unknown field extra/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-sim-'));
  const file = path.join(dir, 'm.json');
  fs.writeFileSync(file, JSON.stringify({ ...profile, name: 'mine' }));
  assert.equal(loadProfile(file).name, 'mine');
  fs.writeFileSync(file, '{');
  assert.throws(() => loadProfile(file), /m\.json: not JSON/);
});

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('mmsplit simulate: bad usage and bad files get one line and exit 2', { timeout: 60_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-sim-'));
  const otherCode = path.join(dir, 'other.json');
  fs.writeFileSync(otherCode, JSON.stringify({ 'spf page_fault1': costsOf('mmap-lock', 'page_fault1') }));
  for (const [args, re] of [
    [['--cpus', '0'], /--cpus.*1 to 256/],
    [['--cpus', '4,2'], /ascending/],
    [['--profile', 'nope', '--out', dir], /--profile: no profile nope/],
    [['--costs', path.join(dir, 'missing.json'), '--out', dir], /missing\.json: cannot read the cost tables/],
    [['--workloads', 'nope'], /unknown workload 'nope'/],
    [['--designs', 'spf', '--workloads', 'page_fault1', '--cpus', '1', '--duration', '1', '--warmup', '1', '--repetitions', '1', '--costs', otherCode, '--out', dir], /other\.json: spf page_fault1: the cost table .* measured on other code/],
  ] as [string[], RegExp][]) {
    const r = cli(['simulate', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0]!, re);
    assert.ok(lines.length === 1 || (lines.length === 2 && /--help/.test(lines[1]!)), r.stderr); // commander adds where to look
  }
});

test('mmsplit simulate: one small point end to end on the committed costs, the results file read back by mmsplit report', { timeout: 180_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-sim-'));
  const saved = path.join(dir, 'costs.json');
  const args = ['simulate', '--designs', 'spf', '--workloads', 'page_fault1', '--cpus', '2', '--duration', '1', '--warmup', '1', '--repetitions', '2', '--costs', FIXTURE];
  const r = cli([...args, '--save-costs', saved, '--out', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /SIMULATED on this-machine/);
  const results = validateResults(JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')));
  assert.equal(results.entries[0]!.threads, 2);
  assert.ok(fs.readFileSync(path.join(dir, 'index.html'), 'utf8').includes('SIMULATED'));
  assert.deepEqual(readCostTables(saved).get('spf page_fault1'), costsOf('spf', 'page_fault1'), 'the table used is the table saved');
  const again = cli([...args, '--out', dir, '--json']);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout).entries[0].samples, results.entries[0]!.samples, 'the same costs give the same figures');
});
