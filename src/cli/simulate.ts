// mmsplit simulate: the lab's points on a simulated machine of N CPUs (src/sim/); writes DIR/results.json
// (marked simulated, with the profile) and DIR/index.html, prints the summary. --calibrate measures this
// machine's profile instead. Progress goes to stderr: a bar on a terminal, one line per step otherwise.
import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { DesignName, Entry, WorkloadName } from '../bench/results.js';
import { compileTrace } from '../workloads/trace.js';
import { calibrateMachine } from '../sim/calibrate.js';
import { readCostTables, type CostTableJson } from '../sim/costs.js';
import { loadProfile, ProfileError } from '../sim/profile.js';
import { CostTableMismatch, simulateLab } from '../sim/simulate.js';
import { SIM_DEFAULTS } from '../sim/defaults.js';
import { runWarnings, summaryTable, writeReport } from '../report/index.js';
import { failedLabel, fmtSpread, throughput, throughputSpread } from '../report/data.js';
import { DEFAULT_TRACE } from './bench.js';
import { loadBeside, outDirReady, sayIfNoCharts } from './report.js';

export interface SimulateOptions {
  designs: DesignName[];
  workloads: WorkloadName[];
  cpus: number[];
  profile: string;
  quantumNs: number;
  durationMs: number;
  warmupMs: number;
  repetitions: number;
  costs?: string;
  saveCosts?: string;
  trace?: string;
  /** Measured results to draw beside the simulated ones. */
  beside?: string;
  out: string;
  json: boolean;
}

const say = (m: string) => console.error(`mmsplit simulate: ${m}`);

/** --calibrate: measures this machine, prints the profile (and writes it to `file`). */
export async function calibrateCommand(file: string | undefined): Promise<number> {
  const profile = await calibrateMachine((what) => process.stderr.write(`measuring ${what}\n`));
  const text = `${JSON.stringify(profile, null, 2)}\n`;
  if (file) {
    try {
      fs.writeFileSync(file, text);
    } catch (e) {
      say(`${file}: cannot write the profile (${(e as NodeJS.ErrnoException).code ?? e})`);
      return 2;
    }
  }
  process.stdout.write(text);
  return 0;
}

const rate = (e: Entry) => (e.failure ? `${failedLabel(e)}: ${e.failure.message.split('\n')[0]}` : `${fmtSpread(throughput(e), throughputSpread(e))}/s`);

export async function simulateCommand(o: SimulateOptions): Promise<number> {
  let profile;
  let costs: Map<string, CostTableJson> | undefined;
  let trace;
  try {
    profile = loadProfile(o.profile);
    if (o.costs) costs = readCostTables(o.costs);
    if (o.workloads.includes('trace')) {
      const file = o.trace ?? DEFAULT_TRACE;
      trace = compileTrace(fs.readFileSync(file, 'utf8'), path.relative(process.cwd(), file) || file);
    }
  } catch (e) {
    say(e instanceof ProfileError ? e.message : (e as Error).message);
    return 2;
  }
  const beside = o.beside === undefined ? undefined : loadBeside('mmsplit simulate', o.beside, 'measured');
  if (o.beside !== undefined && !beside) return 2;
  if (!outDirReady('mmsplit simulate', o.out)) return 2;
  const tty = process.stderr.isTTY && !o.json;
  const bar = tty ? new cliProgress.SingleBar({ format: 'simulate [{bar}] {value}/{total} | {eta_formatted} left | {what}', etaBuffer: 4, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
  const t0 = performance.now();
  let started = false;
  let lab: Awaited<ReturnType<typeof simulateLab>>;
  try {
    lab = await simulateLab({
      designs: o.designs, workloads: o.workloads, cpus: o.cpus, profile, quantumNs: o.quantumNs, durationMs: o.durationMs,
      repetitions: o.repetitions, warmupMs: o.warmupMs, startLimitMs: SIM_DEFAULTS.startLimitMs,
      ...(trace ? { trace } : {}), ...(costs ? { costs } : {}),
      command: ['mmsplit', ...process.argv.slice(2)].join(' '),
    }, (done, total, what, e) => {
      if (bar) {
        if (!started) bar.start(total, done, { what });
        started = true;
        bar.update(done, { what: e ? `${what}: ${rate(e)}` : what });
      } else if (e) {
        process.stderr.write(`[${done}/${total}] ${what}: ${rate(e)}\n`);
      }
    }).finally(() => bar?.stop());
  } catch (e) {
    // A --costs table of other code is a bad file, said in one line like the others.
    if (!(e instanceof CostTableMismatch)) throw e;
    say(`${o.costs ?? 'the cost tables'}: ${e.message}`);
    return 2;
  }
  const { results, costs: used } = lab;
  if (o.saveCosts) {
    try {
      fs.writeFileSync(o.saveCosts, `${JSON.stringify(Object.fromEntries(used))}\n`);
    } catch (e) {
      say(`${o.saveCosts}: cannot write the cost tables (${(e as NodeJS.ErrnoException).code ?? e}); the results are written below`);
    }
  }
  const { html, json } = await writeReport(results, o.out, beside ? { beside } : {});
  if (o.json) {
    console.log(JSON.stringify(results, null, 1));
    for (const w of runWarnings(results)) console.error(w);
  } else {
    console.log(summaryTable(results));
    console.log(`\n${results.entries.length} simulated points on ${profile.name} in ${((performance.now() - t0) / 1000).toFixed(0)} s on ${results.machine.cores} cores (${results.machine.cpuModel}), Node ${results.machine.node}`);
    console.log(`results: ${path.resolve(json)}`);
    console.log(`report: ${path.resolve(html)}`);
  }
  await sayIfNoCharts('mmsplit simulate');
  return results.entries.some((e) => e.failure?.kind === 'error') ? 1 : 0;
}
