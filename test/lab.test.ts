// The lab: the trace workload's relocating replay (its invariant after every call, on real programs'
// traces), every workload run by the runner on real workers under a baseline and a lockless design, and the
// `mmsplit bench` command end to end (a results file the report reads, clear errors for bad options).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AddressSpace } from '../src/designs/address-space.js';
import { plan, readTally, runPoints, samplesOfRound, startCrew, type Point } from '../src/bench/runner.js';
import { validateResults, WORKLOAD_NAMES, type LabResults, type WorkloadName } from '../src/bench/results.js';
import { PAGE_SIZE } from '../src/mm/frames.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_NONE } from '../src/mm/uapi.js';
import { sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { StraceParseError } from '../src/trace/strace.js';
import { isUpdater, TALLY_CHURN, TALLY_FAST_PATH, TALLY_FAULTS, TALLY_OPS, TALLY_SEQ, TALLY_STRIDE, type RoleParams } from '../src/workloads/roles.js';
import { compileTrace, TraceReplayer } from '../src/workloads/trace.js';
import { setWaitLimit } from '../src/sync/sleep.js';
import { cpuBetween } from '../src/bench/cpu.js';
import { eventually } from './support/threads.js';

setWaitLimit(20_000);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TRACES = ['python3', 'node'].map((p) => path.join(ROOT, 'test/fixtures/strace', p, 'trace.txt'));
const CLI = path.join(ROOT, 'dist/src/cli/main.js');

for (const file of TRACES) {
  test(`trace replay of ${path.basename(path.dirname(file))}: relocated, only its own mappings touched, everything unmapped at the end`, { timeout: 60_000 }, () => {
    const program = compileTrace(fs.readFileSync(file, 'utf8'), file);
    assert.ok(program.calls.length > 1000);
    const as = AddressSpace.create({ design: 'mmap-lock', frames: 40_000, cachePages: 20_000 });
    try {
      // Something else sits where the program's mappings were, so that every one must move.
      const blocker = 64 * 1024 * 1024;
      const top = Math.max(...program.calls.filter((c) => c.name === 'mmap').map((c) => c.ret + c.len));
      assert.ok(sysMmap(as.mm, top - blocker, blocker, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0, 0) > 0);
      const fileIds = program.files.map((p, i) => as.mm.addFile({ path: p, dev: '00:00', inode: 1 + i, writable: true, readable: true, size: Infinity, shmem: false, latencyUs: 0 }));
      const r = new TraceReplayer(program, fileIds, 4096);
      let moved = 0;
      const hooks = {
        store8: (a: number, v: number) => as.user.store8(a, v),
        load8: (a: number) => as.user.load8(a),
        munmap: (a: number, len: number) => {
          const rc = sysMunmap(as.mm, a, len);
          assert.equal(rc, 0);
          return rc;
        },
        between: () => {
          r.validate(as.mm, blocker);
          as.quiescentState();
          return true;
        },
      };
      const n = r.runPass(as.mm, hooks);
      assert.ok(n.calls > program.calls.length * 0.9, `${n.calls} of ${program.calls.length} calls made`);
      assert.ok(n.touched > 0 && n.touched <= 4096);
      r.validate(as.mm, blocker);
      for (let v = as.mm.findVma(0); v !== 0; v = as.mm.findVma(as.mm.vmas.end(v))) moved++;
      assert.equal(moved, 1, 'only the blocker is left');
      as.mm.validate();
      // A second pass starts from the same state and ends the same way.
      r.runPass(as.mm, hooks);
      r.validate(as.mm, blocker);
    } finally {
      as.exit();
    }
  });
}

test('a malformed trace is refused with the file and line', () => {
  assert.throws(() => compileTrace('mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\nmunmap(0x7f0000000000\n', 'bad.txt'),
    (e: unknown) => e instanceof StraceParseError && /bad\.txt:2/.test((e as Error).message));
});

const trace = compileTrace(fs.readFileSync(TRACES[0]!, 'utf8'), 'python3');

/**
 * What a role must have done before the run below ends: a whole pass where a pass ends in munmap, else a
 * few hundred operations (churn counts three calls a round; an io pass takes seconds, and io times no
 * munmap of its own).
 */
function quota(r: RoleParams): number {
  switch (r.role) {
    case 'page_fault1': case 'page_fault2': case 'page_fault3': case 'region': return r.bytes / PAGE_SIZE;
    case 'trace': return trace.calls.length;
    case 'churn': return 3 * 100;
    default: return 100;
  }
}

/**
 * A workload's roles (the lab runner's plan, the lab's worker) on real workers, measured from the start
 * until every worker has done its quota: counted, not timed, so that a busy machine makes the run slower
 * but no emptier. Fails if the workers make no progress for 20 s.
 */
async function runRoles(design: string, workload: WorkloadName, threads: number, churnWorkers?: number) {
  const p = plan(workload, threads, churnWorkers, trace);
  const crew = startCrew(design, p, 20_000, false);
  Atomics.store(crew.ctl, 0, 1); // measuring from the start: every munmap is timed
  const word = (i: number, k: number) => crew.tally[i * TALLY_STRIDE + k]!;
  const done = (i: number) => word(i, isUpdater(p.roles[i]!.role) ? TALLY_CHURN : TALLY_OPS);
  let rs: Awaited<ReturnType<typeof crew.stop>>;
  try {
    let total = -1;
    let progressAt = performance.now();
    await eventually(() => {
      const now = p.roles.reduce((n, _, i) => n + done(i), 0);
      if (now !== total) [total, progressAt] = [now, performance.now()];
      if (performance.now() - progressAt > 20_000) throw new Error(`${design} ${workload}: no progress for 20 s`);
      return crew.failure !== undefined || p.roles.every((r, i) => done(i) >= quota(r));
    }, `${design} ${workload}: every worker's quota`, Infinity);
  } finally {
    rs = await crew.stop();
  }
  if (crew.failure) throw new Error(crew.failure.message);
  const sum = (f: (i: number) => number) => p.roles.reduce((n, _, i) => n + f(i), 0);
  return {
    ops: sum((i) => (isUpdater(p.roles[i]!.role) ? 0 : word(i, TALLY_OPS))),
    faults: sum((i) => word(i, TALLY_FAULTS)),
    churnOps: sum((i) => word(i, TALLY_CHURN)),
    fastPath: sum((i) => word(i, TALLY_FAST_PATH)),
    timedMunmaps: sum((i) => (p.timed(p.roles[i]!) ? rs[i]!.munmapUs.length : 0)),
  };
}

for (const design of ['mmap-lock', 'per-vma-lock'] as const) {
  test(`every workload runs on 2 workers under ${design}`, { timeout: 120_000 }, async () => {
    for (const workload of WORKLOAD_NAMES) {
      const r = await runRoles(design, workload, 2);
      if (!workload.startsWith('mmap')) assert.ok(r.faults > 0, `${workload}: no faults`);
      else assert.equal(r.faults, 0, `${workload} touches nothing`);
      if (design === 'per-vma-lock' && !workload.startsWith('mmap')) assert.ok(r.fastPath > 0, `${workload}: the fast path was never taken`);
      if (workload !== 'io') assert.ok(r.timedMunmaps > 0, `${workload}: no munmap timed`);
      if (workload === 'vma-lookup') assert.ok(r.ops >= 100, 'vma-lookup: the lookups (each checked by its worker) were not done');
      if (workload === 'maps-read') assert.ok(r.ops >= 100 && r.churnOps >= 100, 'maps-read: the maps reads (each checked by its reader) or the updates were not done');
      if (workload === 'churn') {
        assert.ok(r.churnOps > 0, 'churn: no churn calls');
        assert.ok((await runRoles(design, workload, 1, 0)).faults > 0, 'churn: no faults without the churn worker');
      }
    }
  });
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('mmsplit bench writes a results file the report reads, and a report', { timeout: 180_000 }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-bench-'));
  const r = cli(['bench', '--designs', 'mmap-lock,spf', '--workloads', 'page_fault1,churn', '--threads', '1,2', '--duration', '0.1', '--warmup', '0.05', '--repetitions', '3', '--rounds', '2', '--reruns', '0', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const results: LabResults = validateResults(JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')));
  assert.deepEqual(results.configuration.designs, ['mmap-lock', 'spf']);
  assert.deepEqual(results.configuration.threads, [1, 2]);
  // churn needs a fault worker and a churn worker: only at 2 threads
  assert.equal(results.entries.length, 2 * 2 + 2);
  assert.equal(results.machine.node, process.version);
  assert.equal(results.configuration.reruns, 0);
  assert.equal(results.configuration.rounds, 2);
  for (const e of results.entries) {
    // three samples from two runs (2 + 1); churn's baseline the same
    assert.equal(e.samples.length, 3);
    if (e.churn) assert.equal(e.churn.baselineSamples?.length, 3);
  }
  if (fs.existsSync('/proc/thread-self/schedstat')) {
    // Linux: every sample says how much CPU its workers got, and every point whether the machine interfered.
    for (const e of results.entries) {
      assert.ok(e.samples.every((x) => x.cpu !== undefined), `${e.design} ${e.workload} ${e.threads}: no CPU accounting`);
      assert.equal(e.interference?.attempts, 2, 'one attempt per round');
    }
  }
  assert.ok(fs.readFileSync(path.join(out, 'index.html'), 'utf8').includes('<svg'));
  assert.match(r.stdout, /spf/);
  assert.match(r.stdout, /report: /);
});

test('a run-queue wait charged when it ends is cut to what the sample could hold', () => {
  // schedstat charges a wait when the thread gets its CPU: a 1-worker sample of 218 ms that ends a 250 ms
  // wait begun before it reads 328 ms on a CPU or waiting.
  const ms = 1e6;
  const before = { workers: [0, 0, 0, 0] as [number, number, number, number], machine: [0, 100] as [number, number], process: 0 };
  const after = { workers: [78 * ms, 250 * ms, 3, 9] as [number, number, number, number], machine: [150, 200] as [number, number], process: 50 };
  const cpu = cpuBetween(before, after, 218)!;
  assert.equal(cpu.workersOnCpuMs, 78);
  assert.equal(cpu.workersRunqueueMs, 140);
  assert.equal(cpuBetween(before, { ...after, workers: [78 * ms, 20 * ms, 3, 9] }, 218)!.workersRunqueueMs, 20, 'a wait that fits is kept');
});

test('samplesOfRound splits the repetitions as evenly as they go, the earlier rounds taking one more', () => {
  const split = (reps: number, rounds: number) => Array.from({ length: rounds }, (_, r) => samplesOfRound(reps, rounds, r));
  assert.deepEqual(split(6, 3), [2, 2, 2]);
  assert.deepEqual(split(5, 3), [2, 2, 1]);
  assert.deepEqual(split(3, 1), [3]);
  assert.deepEqual(split(3, 3), [1, 1, 1]);
});

test('runPoints interleaves the rounds of the points and merges each point\'s rounds into one entry', { timeout: 120_000 }, async () => {
  const points: Point[] = [
    { design: 'mmap-lock', workload: 'page_fault1', threads: 1 },
    { design: 'spf', workload: 'churn', threads: 2 },
  ];
  const order: string[] = [];
  const entries = await runPoints(points, { durationMs: 50, warmupMs: 20, repetitions: 3, rounds: 2, reruns: 0 }, (_done, total, p, e) => {
    assert.equal(total, 4);
    order.push(`${e ? 'entry' : 'round'} ${p.design}`);
  });
  assert.deepEqual(order, ['round mmap-lock', 'round spf', 'round mmap-lock', 'entry mmap-lock', 'round spf', 'entry spf']);
  // Nothing here depends on how much the workers got done (a busy machine may leave a 50 ms sample empty).
  for (const e of entries) assert.equal(e.samples.length, 3);
  // spf counts each fault once, on its fast path or in its fallback: over the rounds, the samples' faults
  const spf = entries[1]!;
  assert.equal(spf.counters.fastPath + spf.counters.fallback, spf.samples.reduce((n, s) => n + s.faults, 0));
  assert.equal(entries[1]!.churn?.baselineSamples?.length, 3);
  assert.ok(entries[1]!.samples.every((s) => s.churnOps !== undefined), 'churn: every sample counts the churn calls');
});

test('a worker\'s tally is read as of one instant: between two equal, even values of its seqcount; a writer stuck mid-write is waited for about 1 ms', () => {
  const tally = new Int32Array(new SharedArrayBuffer(2 * TALLY_STRIDE * 4));
  const out = new Int32Array(TALLY_SEQ);
  const b = TALLY_STRIDE; // the second worker's words
  tally[b + TALLY_FAULTS] = 7;
  tally[b + TALLY_FAST_PATH] = 7;
  tally[b + TALLY_SEQ] = 4;
  readTally(tally, b, out);
  assert.deepEqual([out[TALLY_FAULTS], out[TALLY_FAST_PATH]], [7, 7]);
  // Mid-write (odd): the faults word counts the next fault, the fast-path word not yet.
  tally[b + TALLY_SEQ] = 5;
  tally[b + TALLY_FAULTS] = 8;
  const t = performance.now();
  readTally(tally, b, out);
  const waited = performance.now() - t;
  assert.ok(waited >= 1, `waited ${waited} ms for the writer`);
  assert.deepEqual([out[TALLY_FAULTS], out[TALLY_FAST_PATH]], [8, 7], 'then taken as it is');
});

test('mmsplit bench refuses bad options with a clear message', { timeout: 60_000 }, () => {
  for (const [args, msg] of [
    [['--designs', 'nope'], /unknown design 'nope'/],
    [['--workloads', 'page_fault9'], /unknown workload 'page_fault9'/],
    [['--threads', '0'], /thread counts/],
    [['--threads', '2,1'], /ascending/],
    [['--duration', '-1'], /seconds/],
    [['--reruns', 'x'], /--reruns/],
    [['--bogus'], /unknown option '--bogus'\n\(mmsplit COMMAND --help lists its options\)\n$/],
    [['--rounds', '0'], /--rounds/],
    [['--out', '/proc/mmsplit-x'], /--out \/proc\/mmsplit-x: cannot create the folder/],
    [['--workloads', 'trace', '--trace', '/nonexistent/trace.txt'], /\/nonexistent\/trace\.txt/],
  ] as const) {
    const r = cli(['bench', ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: bad usage exits 2`);
    assert.match(r.stderr, msg, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
