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
import { runPoint } from '../src/bench/runner.js';
import { validateResults, WORKLOAD_NAMES, type LabResults } from '../src/bench/results.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, sysMmap, sysMunmap } from '../src/mm/mmap.js';
import { StraceParseError } from '../src/trace/strace.js';
import { compileTrace, TraceReplayer } from '../src/workloads/trace.js';
import { setWaitLimit } from '../src/sync/sleep.js';

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
      assert.ok(sysMmap(as.mm, top - blocker, blocker, 0, MAP_PRIVATE | MAP_ANONYMOUS | 0x10, 0, 0) > 0);
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
for (const design of ['mmap-lock', 'per-vma-lock'] as const) {
  test(`every workload runs on 2 workers under ${design}`, { timeout: 120_000 }, async () => {
    for (const workload of WORKLOAD_NAMES) {
      const e = await runPoint(design, workload, 2, { durationMs: 200, warmupMs: 100, repetitions: 1, trace, waitLimitMs: 20_000 });
      assert.ok(e.median.opsPerSec > 0, `${workload}: no ops`);
      if (!workload.startsWith('mmap')) assert.ok(e.samples[0]!.faults > 0, `${workload}: no faults`);
      else assert.equal(e.samples[0]!.faults, 0, `${workload} touches nothing`);
      if (design === 'per-vma-lock' && !workload.startsWith('mmap')) assert.ok(e.counters.fastPath > 0, `${workload}: the fast path was never taken`);
      if (workload !== 'io') assert.ok(e.munmapLatencyUs && e.munmapLatencyUs.count > 0, `${workload}: no munmap timed`);
      if (workload === 'churn') assert.ok(e.churn && e.churn.churnOpsPerSec > 0 && e.churn.baselineFaultsPerSec > 0);
    }
  });
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('mmsplit bench writes a results file the report reads, and a report', { timeout: 180_000 }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-bench-'));
  const r = cli(['bench', '--designs', 'mmap-lock,spf', '--workloads', 'page_fault1,churn', '--threads', '1,2', '--duration', '0.1', '--warmup', '0.05', '--repetitions', '2', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const results: LabResults = validateResults(JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')));
  assert.deepEqual(results.configuration.designs, ['mmap-lock', 'spf']);
  assert.deepEqual(results.configuration.threads, [1, 2]);
  // churn needs a fault worker and a churn worker: only at 2 threads
  assert.equal(results.entries.length, 2 * 2 + 2);
  assert.equal(results.machine.node, process.version);
  assert.ok(fs.readFileSync(path.join(out, 'index.html'), 'utf8').includes('<svg'));
  assert.match(r.stdout, /spf/);
  assert.match(r.stdout, /report: /);
});

test('mmsplit bench refuses bad options with a clear message', { timeout: 60_000 }, () => {
  for (const [args, msg] of [
    [['--designs', 'nope'], /unknown design 'nope'/],
    [['--workloads', 'page_fault9'], /unknown workload 'page_fault9'/],
    [['--threads', '0'], /thread counts/],
    [['--threads', '2,1'], /ascending/],
    [['--duration', '-1'], /seconds/],
    [['--workloads', 'trace', '--trace', '/nonexistent/trace.txt'], /\/nonexistent\/trace\.txt/],
  ] as const) {
    const r = cli(['bench', ...args]);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, msg, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
