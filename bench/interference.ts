// bench/interference: how much of each lab point's figure survives a busy machine. Every point runs quiet,
// beside one and beside two CPU-bound processes (`node -e 'for(;;){}'`, nice 0), in one run, in rounds as
// the lab runs them. Within a round each point runs one crew whose samples alternate between the levels
// (quiet, one busy, two busy, in an order that turns from sample to sample and round to round), the busy
// processes started once and switched on and off with SIGCONT and SIGSTOP, SETTLE_MS before each sample.
// The host slows a CPU down in spells of milliseconds to minutes that nothing in the guest sees (README,
// "Measuring on a busy machine"): a point's quiet and busy samples a fraction of a second apart, from the
// same crew (same code, same address space), share the host's mood, where crews seconds apart (run H) or
// levels minutes apart (runs A–F) did not. The crew warms up beside the most busy processes, as a lab
// run on a busy machine does (its warm-up lasts the workers' time, not the clock's). Per point it prints
// kept = disturbed / quiet (of the lab's own figure: ops/s, faults/s for churn), whether the runner would
// mark it disturbed, and whether each design's order against the mmap-lock baseline on churn and trace
// held (where the samples' ranges tell the two apart at all). A fair share of the CPUs is
// cores / (busy + workers): on 2 cores, 67% for one worker beside two busy processes and 50% for two.
// Run: npm run bench:interference [-- --designs a,b --workloads w,x --threads 1,2 --busy 1,2 --seconds S --reps N --rounds R --json]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_DEFAULTS, minThreadsOf } from '../src/bench/lab.js';
import { entryOf, measureCrew, plan, roundsFailed, samplesOfRound, type Point, type Round, type RunOptions } from '../src/bench/runner.js';
import { throughputSpread } from '../src/report/data.js';
import { DESIGN_NAMES, median, WORKLOAD_NAMES, type DesignName, type Entry, type WorkloadName } from '../src/bench/results.js';
import { compileTrace } from '../src/workloads/trace.js';
import { checkFlags, machine, namesArg, numbersArg, positiveArg, printMachine, printTable, wantsJson } from './harness.js';

checkFlags('bench:interference', ['--designs', '--workloads', '--threads', '--busy', '--seconds', '--reps', '--rounds']);

const list = <T extends string>(name: string, allowed: readonly T[], dflt: readonly T[]) => namesArg('bench:interference', name, allowed, dflt);
const numbers = (name: string, dflt: number[]) => numbersArg('bench:interference', name, dflt);

const designs = list('--designs', DESIGN_NAMES, DESIGN_NAMES);
const workloads = list('--workloads', WORKLOAD_NAMES, LAB_DEFAULTS.workloads);
const threads = numbers('--threads', [1, 2]).filter((t) => t >= 1);
const busyLevels = [0, ...numbers('--busy', [1, 2]).filter((b) => b > 0)];
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const opts: RunOptions = {
  durationMs: positiveArg('bench:interference', '--seconds', LAB_DEFAULTS.durationMs / 1000) * 1000,
  warmupMs: LAB_DEFAULTS.warmupMs,
  repetitions: numbers('--reps', [LAB_DEFAULTS.repetitions])[0]!,
  rounds: numbers('--rounds', [LAB_DEFAULTS.rounds])[0]!,
  reruns: 0, // the point is to see what a disturbed run measures
  ...(workloads.includes('trace') ? { trace: compileTrace(fs.readFileSync(path.join(ROOT, 'test/fixtures/strace/python3/trace.txt'), 'utf8'), 'test/fixtures/strace/python3/trace.txt') } : {}),
};

/** `n` CPU-bound processes at nice 0; resolves once each one runs. */
async function busy(n: number): Promise<ChildProcess[]> {
  const ps = Array.from({ length: n }, () => spawn(process.execPath, ['-e', "process.stdout.write('x'); for(;;){}"], { stdio: ['ignore', 'pipe', 'ignore'] }));
  await Promise.all(ps.map((p) => new Promise((r) => p.stdout!.once('data', r))));
  // One that ends (killed with the shell or session that started the run, say) would leave its levels
  // quiet, and the run would print quiet-against-quiet ratios as interference: stop instead.
  for (const p of ps) {
    p.once('exit', (code, signal) => {
      if (hogsDone) return;
      process.stderr.write(`bench:interference: busy process ${p.pid} ended (${signal ?? `exit ${code}`}) before the run did: its levels would measure nothing; run it again where it can live (e.g. under setsid)\n`);
      process.exit(2);
    });
  }
  return ps;
}
/** Set once the run lets its busy processes go (their ends are expected from then on). */
let hogsDone = false;
/** Ends the busy processes, expectedly. */
function letHogsGo(ps: ChildProcess[]): void {
  hogsDone = true;
  ps.forEach((p) => p.kill('SIGKILL'));
}
/** The first `b` busy processes run, the others are stopped. */
function runBusy(ps: ChildProcess[], b: number): void {
  ps.forEach((p, i) => p.kill(i < b ? 'SIGCONT' : 'SIGSTOP'));
}

/** The lab's figure of an entry: faults/s for churn (what the fault workers keep), ops/s otherwise. */
const figure = (e: Entry) => (e.workload === 'churn' ? e.median.faultsPerSec : e.median.opsPerSec);

interface Row { design: DesignName; workload: WorkloadName; threads: number; byBusy: Entry[] }
const points: Point[] = [];
for (const workload of workloads) {
  for (const design of designs) {
    for (const t of threads) if (t >= minThreadsOf(workload)) points.push({ design, workload, threads: t });
  }
}
if (opts.repetitions < 1 || opts.rounds! < 1) {
  console.error('bench:interference: --reps and --rounds: expected whole numbers ≥ 1');
  process.exit(2);
}
const rounds = Math.min(opts.rounds!, opts.repetitions);
/** How long the machine settles after the busy processes are switched, before a sample starts. */
const SETTLE_MS = 100;
/** done[point][level]: the rounds measured so far. */
const done: Round[][][] = points.map(() => busyLevels.map(() => []));
const hogs = await busy(Math.max(...busyLevels));
process.on('exit', () => letHogsGo(hogs));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (let r = 0; r < rounds; r++) {
  for (const [pi, p] of points.entries()) {
    if (roundsFailed(done[pi]![0]!)) continue;
    // levelOf[i]: the level of the crew's sample i, each level in turn, the order turning.
    const levelOf: number[] = [];
    for (let j = 0; j < samplesOfRound(opts.repetitions, rounds, r); j++) {
      for (let k = 0; k < busyLevels.length; k++) levelOf.push((k + j + r + pi) % busyLevels.length);
    }
    const run = await measureCrew(p.design, plan(p.workload, p.threads, undefined, opts.trace), levelOf.length, opts, async (i) => {
      runBusy(hogs, i < 0 ? Math.max(...busyLevels) : busyLevels[levelOf[i]!]!);
      if (i >= 0) await sleep(SETTLE_MS);
    });
    busyLevels.forEach((_, li) => {
      const samples = run.samples.filter((_, i) => levelOf[i] === li);
      const counters = { fastPath: 0, retry: 0, fallback: 0 };
      done[pi]![li]!.push({ run: { samples, counters, munmapUs: [], ...(run.failure ? { failure: run.failure } : {}) }, attempts: 1, runqueueShare: 0 });
    });
  }
  runBusy(hogs, 0);
  if (!wantsJson) process.stderr.write(`round ${r + 1}/${rounds}: done\n`);
}
letHogsGo(hogs);
const rows: Row[] = points.map((p, pi) => ({ ...p, byBusy: busyLevels.map((_, li) => entryOf(p, done[pi]![li]!)) }));
if (!wantsJson) for (const row of rows) process.stderr.write(`${row.design} ${row.workload} ${row.threads}w: ${row.byBusy.map((e) => (figure(e) / 1e3).toFixed(0) + 'K').join(' / ')}\n`);

/**
 * Where a design stands against the baseline (mmap-lock) beside busy level `bi`: 1 above, -1 below, 0 when
 * their samples' ranges overlap — the run does not tell them apart, so there is no order to keep or lose.
 */
function sideOf(r: Row, base: Row, bi: number): number {
  const a = throughputSpread(r.byBusy[bi]!) ?? { lo: 0, hi: 0 };
  const b = throughputSpread(base.byBusy[bi]!) ?? { lo: 0, hi: 0 };
  return a.lo > b.hi ? 1 : a.hi < b.lo ? -1 : 0;
}

/**
 * Whether a design stayed on the same side of the baseline beside `bi` busy processes as quiet: 'held',
 * 'FLIPPED'; 'tie' when quiet could not tell them apart (no order to hold), 'blurred' when the busy run
 * could not (the order is neither kept nor contradicted).
 */
function orderHeld(r: Row, bi: number): string {
  if (r.workload !== 'churn' && r.workload !== 'trace') return '';
  const base = rows.find((x) => x.design === 'mmap-lock' && x.workload === r.workload && x.threads === r.threads);
  if (!base || base === r) return '';
  const quiet = sideOf(r, base, 0);
  const busy = sideOf(r, base, bi);
  return quiet === 0 ? 'tie' : busy === 0 ? 'blurred' : busy === quiet ? 'held' : 'FLIPPED';
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
const mark = (e: Entry) => (e.failure ? `failed (${e.failure.kind})` : e.interference?.disturbed ? 'disturbed' : e.interference ? 'quiet' : '?');
if (wantsJson) {
  console.log(JSON.stringify({ bench: 'interference', machine: machine(), options: { ...opts, trace: opts.trace?.source }, busyLevels, rows }, null, 1));
} else {
  printMachine(machine());
  console.log(`\nEach point: median of ${opts.repetitions} × ${opts.durationMs / 1000} s per level in ${rounds} rounds (a fresh crew and ${opts.warmupMs / 1000} s of warm-up each), quiet and beside ${busyLevels.slice(1).join(' and ')} busy processes, a crew's samples alternating between the levels, no re-runs.`);
  console.log('kept: the lab\'s figure (ops/s; faults/s for churn) beside busy processes / quiet, same run. cpu: the workers\' time on a CPU / (workers × wall).');
  const headers = ['workload', 'design', 'w', 'quiet', 'cpu', 'mark'];
  for (const b of busyLevels.slice(1)) headers.push(`kept ${b}b`, `cpu ${b}b`, `mark ${b}b`, `order ${b}b`);
  printTable(headers, rows.map((r) => {
    const q = r.byBusy[0]!;
    const cells: string[] = [r.workload, r.design, String(r.threads), `${(figure(q) / 1e3).toFixed(0)}K`, q.interference ? pct(q.interference.cpuShare) : '?', mark(q)];
    r.byBusy.slice(1).forEach((e, i) => cells.push(pct(figure(e) / figure(q)), e.interference ? pct(e.interference.cpuShare) : '?', mark(e), orderHeld(r, i + 1)));
    return cells;
  }));
  console.log('');
  busyLevels.forEach((b, i) => {
    const es = rows.map((r) => r.byBusy[i]!);
    const disturbed = es.filter((e) => e.interference?.disturbed).length;
    const line = [`beside ${b} busy: ${disturbed} of ${es.length} points marked disturbed`];
    if (b > 0) {
      for (const t of threads) {
        const atT = rows.filter((r) => r.threads === t);
        const kept = atT.map((r) => figure(r.byBusy[i]!) / figure(r.byBusy[0]!));
        if (!kept.length) continue;
        const min = Math.min(...kept);
        const worst = atT[kept.indexOf(min)]!;
        line.push(`${t}w kept min ${pct(min)} (${worst.workload} under ${worst.design}), median ${pct(median(kept))}`);
      }
      const orders = rows.map((r) => orderHeld(r, i));
      const count = (o: string) => orders.filter((x) => x === o).length;
      line.push(`orders against the baseline on churn and trace: ${count('FLIPPED')} flipped, ${count('held')} held, ${count('blurred')} blurred, ${count('tie')} ties quiet`);
    }
    console.log(line.join('; '));
  });
}
