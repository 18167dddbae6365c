// bench/simulate: is the simulated machine right where it can be checked? Every design runs page_fault1,
// churn and trace for real on this machine's 1 and 2 cores (the lab's runner) and on a simulated machine
// with this machine's profile at 1 and 2 CPUs, in one run; per point it prints both figures (median and
// range of the samples), the ratio simulated / real, and the simulation at a quarter of the quantum beside it
// (what lax synchronisation costs in accuracy). The simulator's code costs are calibrated here, in the same
// run, so that both sides see the same machine.
// Run: npm run bench:simulate [-- --designs a,b --workloads w,x --reps N --json]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_DEFAULTS } from '../src/bench/lab.js';
import { runPoints, type Point } from '../src/bench/runner.js';
import { DESIGN_NAMES, WORKLOAD_NAMES, type DesignName, type Entry, type WorkloadName } from '../src/bench/results.js';
import { throughputSpread } from '../src/report/data.js';
import { loadProfile } from '../src/sim/profile.js';
import { simulateLab, SIM_DEFAULTS } from '../src/sim/simulate.js';
import { compileTrace } from '../src/workloads/trace.js';
import { machine, namesArg, numbersArg, printMachine, printTable, wantsJson } from './harness.js';

const designs = namesArg('bench:simulate', '--designs', DESIGN_NAMES, DESIGN_NAMES);
const workloads = namesArg('bench:simulate', '--workloads', WORKLOAD_NAMES, ['page_fault1', 'churn', 'trace']);
const reps = Math.max(1, numbersArg('bench:simulate', '--reps', [5])[0]!);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tracePath = path.join(ROOT, 'test/fixtures/strace/python3/trace.txt');
const trace = workloads.includes('trace') ? compileTrace(fs.readFileSync(tracePath, 'utf8'), 'test/fixtures/strace/python3/trace.txt') : undefined;
const cpus = [1, 2];

/** The lab's figure of an entry: faults/s for churn (what the fault workers keep), ops/s otherwise. */
const figure = (e: Entry) => (e.workload === 'churn' ? e.median.faultsPerSec : e.median.opsPerSec);
const range = (e: Entry) => {
  const s = throughputSpread(e);
  return s ? `${(s.lo / 1e3).toFixed(0)}–${(s.hi / 1e3).toFixed(0)}` : '';
};

const points: Point[] = designs.flatMap((design) => workloads.flatMap((workload) => cpus.filter((t) => t >= (workload === 'churn' ? 2 : 1)).map((threads) => ({ design, workload, threads }))));
const say = (m: string) => { if (!wantsJson) process.stderr.write(`${m}\n`); };
say(`real: ${points.length} points`);
const real = await runPoints(points, { durationMs: LAB_DEFAULTS.durationMs, warmupMs: LAB_DEFAULTS.warmupMs, repetitions: reps, rounds: Math.min(3, reps), reruns: 0, ...(trace ? { trace } : {}) }, (done, total, p, e) => {
  if (e) say(`[${done}/${total}] real ${p.design} ${p.workload} ${p.threads}: ${(figure(e) / 1e3).toFixed(0)} K/s`);
});
const profile = loadProfile('this-machine');
const base = { designs: designs as DesignName[], workloads: workloads as WorkloadName[], cpus, profile, durationMs: SIM_DEFAULTS.durationMs, repetitions: reps, warmupMs: SIM_DEFAULTS.warmupMs, startLimitMs: SIM_DEFAULTS.startLimitMs, ...(trace ? { trace } : {}) };
say('simulated: calibrating and running');
const sim = await simulateLab({ ...base, quantumNs: SIM_DEFAULTS.quantumNs }, (done, total, what, e) => {
  if (e) say(`[${done}/${total}] simulated ${what}: ${(figure(e) / 1e3).toFixed(0)} K/s`);
});
say('simulated again at a quarter of the quantum, on the same code costs');
const fine = await simulateLab({ ...base, quantumNs: SIM_DEFAULTS.quantumNs / 4, costs: sim.costs });

const find = (es: Entry[], p: Point) => es.find((e) => e.design === p.design && e.workload === p.workload && e.threads === p.threads)!;
const rows = points.map((p) => {
  const r = find(real, p);
  const s = find(sim.results.entries, p);
  const q = find(fine.results.entries, p);
  return { ...p, real: figure(r), realRange: range(r), sim: figure(s), simRange: range(s), fineQuantum: figure(q), ratio: figure(s) / figure(r), failure: r.failure?.message ?? s.failure?.message };
});
if (wantsJson) {
  console.log(JSON.stringify({ machine: machine(), profile, quantumNs: SIM_DEFAULTS.quantumNs, rows }, null, 1));
} else {
  printMachine(machine());
  console.log(`simulated: profile ${profile.name}, quantum ${SIM_DEFAULTS.quantumNs} ns (and ${SIM_DEFAULTS.quantumNs / 4}), ${reps} samples of ${SIM_DEFAULTS.durationMs} virtual ms (trace: ${10 * SIM_DEFAULTS.durationMs}); real: ${reps} samples of ${LAB_DEFAULTS.durationMs} ms from ${Math.min(3, reps)} crews apart in time`);
  console.log('figure: ops/s (page_fault1: faults, trace: calls), churn: the fault workers\' faults/s; K/s, median (min–max)\n');
  printTable(['design', 'workload', 'N', 'real K/s', 'range', 'simulated K/s', 'range', 'sim/real', `at Q/4`, 'Q/4 vs Q'],
    rows.map((r) => [r.design, r.workload, r.threads, r.real / 1e3, r.realRange, r.sim / 1e3, r.simRange, `${r.ratio.toFixed(2)}×${Math.abs(r.ratio - 1) <= 0.2 ? '' : ' !'}`, r.fineQuantum / 1e3, `${(r.fineQuantum / r.sim).toFixed(2)}×`]));
  const within = rows.filter((r) => Math.abs(r.ratio - 1) <= 0.2).length;
  const ratios = rows.map((r) => r.ratio).sort((a, b) => a - b);
  console.log(`\nwithin ±20%: ${within} of ${rows.length} points (marked ! otherwise); sim/real from ${ratios[0]!.toFixed(2)} to ${ratios.at(-1)!.toFixed(2)}, median ${ratios[ratios.length >> 1]!.toFixed(2)}`);
  for (const r of rows) if (r.failure) console.log(`failed: ${r.design} ${r.workload} ${r.threads}: ${r.failure}`);
}
