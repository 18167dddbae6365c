// bench/simulate: is the simulated machine right where it can be checked? Every design runs page_fault1,
// churn and trace for real on this machine's 1 and 2 cores (the lab's runner) and on a simulated machine
// with this machine's profile at 1 and 2 CPUs, in one run; per point it prints both figures (median and
// range of the samples), the ratio simulated / real, and the simulation at a quarter of the quantum beside it
// (what lax synchronisation costs in accuracy). The machine's profile and the simulator's code costs are
// measured here, in the same run — the costs right after the same design and workload's real points — so
// that both sides see the same machine.
// Run: npm run bench:simulate [-- --designs a,b --workloads w,x --reps N --json]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_DEFAULTS, minThreadsOf } from '../src/bench/lab.js';
import { runPoints, type Point } from '../src/bench/runner.js';
import { DESIGN_NAMES, WORKLOAD_NAMES, type DesignName, type Entry, type WorkloadName } from '../src/bench/results.js';
import { isDisturbed, throughputSpread } from '../src/report/data.js';
import { calibrateMachine } from '../src/sim/calibrate.js';
import { longerFor, simulateLab, SIM_DEFAULTS } from '../src/sim/simulate.js';
import { compileTrace } from '../src/workloads/trace.js';
import { checkFlags, machine, namesArg, numbersArg, printDisturbed, printMachine, printTable, wantsJson } from './harness.js';

checkFlags('bench:simulate', ['--designs', '--workloads', '--reps']);

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

const points: Point[] = designs.flatMap((design) => workloads.flatMap((workload) => cpus.filter((t) => t >= minThreadsOf(workload)).map((threads) => ({ design, workload, threads }))));
const say = (m: string) => { if (!wantsJson) process.stderr.write(`${m}\n`); };
// The machine measured in this run too, as `mmsplit simulate --calibrate` measures it: this VM's line
// transfers and memory bandwidth move from day to day (the committed this-machine profile: 171 ns; 202–258 ns
// on 2026-12-07), and a profile of another day would set the model beside a machine that is not the one
// the real points ran on.
say('measuring this machine (its profile)');
const profile = await calibrateMachine();
const base = { cpus, profile, repetitions: reps, warmupMs: SIM_DEFAULTS.warmupMs, startLimitMs: SIM_DEFAULTS.startLimitMs, ...(trace ? { trace } : {}) };
/**
 * Virtual ms a simulated sample lasts. The lab's samples (300 ms) hold whole passes of page_fault1 — 128 MiB
 * faulted in, then unmapped: about 20 ms a pass at one CPU — and so does the calibration's run that scales
 * the table, where `mmsplit simulate`'s 2 ms samples hold only faults (at one or two CPUs every thread is
 * still in its first pass): set beside real runs they read high by the munmap's share of a pass. Churn's
 * fault workers run the same passes. So here page_fault1 and churn are sampled 20 virtual ms at a time;
 * trace as simulate samples it (its samples are already 50 × longer: simulate.ts, longerFor).
 */
const sampleMs = (w: WorkloadName) => (w === 'page_fault1' || w === 'churn' ? 20 : SIM_DEFAULTS.durationMs);
const real: Entry[] = [];
const simulated: Entry[] = [];
const fineQuantum: Entry[] = [];
/** Per design and workload, the real figure its table was scaled to (the work alone, measured in calibration), and the work alone simulated on it. */
const scaledTo = new Map<string, { real: number; simulated: number }>();
let done = 0;
// Per design and workload, its real points and then its calibration, back to back: the table is scaled
// by a real run at 1 worker, and the host slows this machine down in spells of seconds to a minute
// (README, "Measuring on a busy machine"), so a real figure measured minutes from its calibration (every
// real point first, then every table: runs A–F) could fall in another spell than its table's scale and
// miss at 1 CPU by 0.5–1.9×, a fact of the host, not of the model. Seconds apart, both see the same host.
for (const design of designs) {
  for (const workload of workloads) {
    const ofPair = points.filter((p) => p.design === design && p.workload === workload);
    if (ofPair.length === 0) continue;
    real.push(...await runPoints(ofPair, { durationMs: LAB_DEFAULTS.durationMs, warmupMs: LAB_DEFAULTS.warmupMs, repetitions: reps, rounds: Math.min(3, reps), reruns: 0, ...(trace ? { trace } : {}) }, (_, __, p, e) => {
      if (e) say(`[${++done}/${points.length}] real ${p.design} ${p.workload} ${p.threads}: ${(figure(e) / 1e3).toFixed(0)} K/s`);
    }));
    const cfg = { ...base, designs: [design] as DesignName[], workloads: [workload] as WorkloadName[], durationMs: sampleMs(workload) };
    say(`  calibrating ${design} ${workload} and simulating it`);
    const sim = await simulateLab({ ...cfg, quantumNs: SIM_DEFAULTS.quantumNs }, (_, __, what, e) => {
      if (e) say(`  simulated ${what}: ${(figure(e) / 1e3).toFixed(0)} K/s`);
    });
    simulated.push(...sim.results.entries);
    const n = sim.costs.get(`${design} ${workload}`)?.normalized;
    if (n?.simulated !== undefined) scaledTo.set(`${design} ${workload}`, { real: n.real, simulated: n.simulated });
    // The same code costs at a quarter of the quantum: what lax synchronisation costs in accuracy.
    fineQuantum.push(...(await simulateLab({ ...cfg, quantumNs: SIM_DEFAULTS.quantumNs / 4, costs: sim.costs })).results.entries);
  }
}

/** How far a table's real figure may be from the point's own 1-worker figure before the row is marked. */
const SPELL = 0.25;
const find = (es: Entry[], p: Point) => es.find((e) => e.design === p.design && e.workload === p.workload && e.threads === p.threads)!;
const rows = points.map((p) => {
  const r = find(real, p);
  const s = find(simulated, p);
  const q = find(fineQuantum, p);
  const table = scaledTo.get(`${p.design} ${p.workload}`);
  // The table was scaled to the work alone measured in calibration, seconds after the point's own 1-worker
  // figure; where the two differ by more than SPELL the host ran at another speed between them (its spells
  // halve this VM's speed for seconds to a minute), and the comparison says more of the host than of the
  // model. Churn's work alone (its fault worker without the churn one) has no real counterpart here.
  const oneWorker = p.workload === 'churn' ? undefined : figure(find(real, { ...p, threads: 1 }));
  const spell = table && oneWorker !== undefined && Math.abs(table.real / oneWorker - 1) > SPELL;
  return { ...p, real: figure(r), realRange: range(r), sim: figure(s), simRange: range(s), fineQuantum: figure(q), ratio: figure(s) / figure(r), table, spell, failure: r.failure?.message ?? s.failure?.message };
});
if (wantsJson) {
  console.log(JSON.stringify({ machine: machine(), profile, quantumNs: SIM_DEFAULTS.quantumNs, rows }, null, 1));
} else {
  printMachine(machine());
  console.log(`profile measured in this run: line transfer ${profile.lineTransferNs} ns, wake-up ${(profile.wakeUpNs / 1e3).toFixed(1)} µs, zeroing ${profile.coreBandwidthGBs} GB/s on 1 CPU and ${profile.memoryBandwidthGBs} on all, ${profile.threadsPerCore} thread(s) a core`);
  console.log(`simulated: profile ${profile.name}, quantum ${SIM_DEFAULTS.quantumNs} ns (and ${SIM_DEFAULTS.quantumNs / 4}), ${reps} samples of ${sampleMs('page_fault1')} virtual ms (trace: ${longerFor('trace') * sampleMs('trace')}); real: ${reps} samples of ${LAB_DEFAULTS.durationMs} ms from ${Math.min(3, reps)} crews, measured right before the same design and workload's calibration`);
  console.log('figure: ops/s (page_fault1: faults, trace: calls), churn: the fault workers\' faults/s; K/s, median (min–max)');
  console.log('table scaled to: the work alone (1 worker; churn: its fault worker without the churn one), real in calibration / simulated on the table, K/s (~: more than 25% from the point\'s own 1-worker figure)\n');
  printTable(['design', 'workload', 'N', 'real K/s', 'range', 'simulated K/s', 'range', 'sim/real', `at Q/4`, 'Q/4 vs Q', 'table scaled to'],
    rows.map((r) => [r.design, r.workload, String(r.threads), r.real / 1e3, r.realRange, r.sim / 1e3, r.simRange, `${r.ratio.toFixed(2)}×${Math.abs(r.ratio - 1) <= 0.2 ? '' : ' !'}`, r.fineQuantum / 1e3, `${(r.fineQuantum / r.sim).toFixed(2)}×`, r.table ? `${(r.table.real / 1e3).toFixed(0)} / ${(r.table.simulated / 1e3).toFixed(0)}${r.spell ? ' ~' : ''}` : '']));
  const within = rows.filter((r) => Math.abs(r.ratio - 1) <= 0.2).length;
  const ratios = rows.map((r) => r.ratio).sort((a, b) => a - b);
  console.log(`\nwithin ±20%: ${within} of ${rows.length} points (marked ! otherwise); sim/real from ${ratios[0]!.toFixed(2)} to ${ratios.at(-1)!.toFixed(2)}, median ${ratios[ratios.length >> 1]!.toFixed(2)}`);
  const spelled = rows.filter((r) => r.spell);
  if (spelled.length > 0) {
    const rest = rows.filter((r) => !r.spell);
    console.log(`${spelled.length} points (marked ~) were set beside a table scaled to a real figure more than ${SPELL * 100}% from their own 1-worker figure, measured seconds apart: the host's speed changed between them; run again. Within ±20% on the other ${rest.length}: ${rest.filter((r) => Math.abs(r.ratio - 1) <= 0.2).length}.`);
  }
  for (const r of rows) if (r.failure) console.log(`failed: ${r.design} ${r.workload} ${r.threads}: ${r.failure}`);
  // A simulated figure is the model's; a real one is the machine's too: a disturbed one is no yardstick.
  printDisturbed(real.filter(isDisturbed).map((e) => `real ${e.design} ${e.workload} at ${e.threads}: ${e.interference!.reason}`), real.length, false);
}
