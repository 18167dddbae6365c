// mmsplit bench: run the lab, write DIR/results.json and DIR/index.html, print the summary table.
// Progress goes to stderr: a bar on a terminal, one line per point otherwise (CI logs, pipes).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { runLab, type LabConfig, type LabPoint } from '../bench/lab.js';
import type { DesignName, Entry, WorkloadName } from '../bench/results.js';
import { compileTrace } from '../workloads/trace.js';
import { runWarnings, summaryTable, writeReport } from '../report/index.js';
import { outDirReady, sayIfNoCharts } from './report.js';
import { failedLabel, fmtSpread, isDisturbed, throughput, throughputSpread } from '../report/data.js';

/** The trace the lab replays when none is named: Python running a mixed script (see its README). */
export const DEFAULT_TRACE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/strace/python3/trace.txt');

export interface BenchOptions {
  designs: DesignName[];
  workloads: WorkloadName[];
  /** Whether the workloads were chosen (a default trace that is missing is then an error, not a skip). */
  workloadsGiven: boolean;
  threads: number[];
  durationMs: number;
  warmupMs: number;
  repetitions: number;
  rounds: number;
  reruns: number;
  trace?: string;
  out: string;
  json: boolean;
}

/** A point's outcome for the progress line: its rate with the repetitions' range, or why it has none. */
const rate = (e: Entry) => {
  if (e.failure) return `${failedLabel(e)}: ${e.failure.message}`;
  const r = `${fmtSpread(throughput(e), throughputSpread(e))}/s`;
  return isDisturbed(e) ? `${r} (disturbed)` : r;
};
const name = (p: LabPoint) => `${p.design} ${p.workload} ${p.threads}w`;

export async function benchCommand(o: BenchOptions): Promise<number> {
  const notes: string[] = [];
  let workloads = o.workloads;
  let trace: LabConfig['trace'];
  if (workloads.includes('trace')) {
    const file = o.trace ?? DEFAULT_TRACE;
    if (!fs.existsSync(file) && !o.trace && !o.workloadsGiven) {
      workloads = workloads.filter((w) => w !== 'trace');
      notes.push(`workload trace left out: the default trace ${file} is not here (a checkout has it; --trace FILE names another)`);
    } else {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        console.error(`mmsplit bench: ${file}: cannot read the trace (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        return 2;
      }
      try {
        trace = compileTrace(text, path.relative(process.cwd(), file) || file);
      } catch (e) {
        console.error(`mmsplit bench: ${(e as Error).message}`);
        return 2;
      }
      if (trace.calls.length === 0) {
        console.error(`mmsplit bench: ${file}: no memory calls to replay`);
        return 2;
      }
    }
  }
  // Before the lab runs, not after: a folder that cannot take the results would lose them.
  if (!outDirReady('mmsplit bench', o.out)) return 2;
  for (const n of notes) console.error(`mmsplit bench: ${n}`);

  const tty = process.stderr.isTTY && !o.json;
  const bar = tty ? new cliProgress.SingleBar({ format: 'lab [{bar}] {value}/{total} runs | {eta_formatted} left | {point}', etaBuffer: 8, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
  const t0 = performance.now();
  const results = await runLab({
    designs: o.designs,
    workloads,
    threads: o.threads,
    durationMs: o.durationMs,
    warmupMs: o.warmupMs,
    repetitions: o.repetitions,
    rounds: o.rounds,
    reruns: o.reruns,
    ...(trace ? { trace } : {}),
    command: ['mmsplit', ...process.argv.slice(2)].join(' '),
    notes,
  }, (done, total, p, e) => {
    if (bar) {
      if (done === 0) bar.start(total, 0, { point: name(p) });
      else bar.update(done, { point: e ? `${name(p)}: ${rate(e)}` : name(p) });
    } else if (e) {
      process.stderr.write(`[${done}/${total}] ${name(p)}: ${rate(e)}\n`);
    }
  }).finally(() => bar?.stop());
  const { html, json } = await writeReport(results, o.out);
  const seconds = ((performance.now() - t0) / 1000).toFixed(0);
  if (o.json) {
    console.log(JSON.stringify(results, null, 1));
    // stdout is the results file; the warnings the table would have ended with go beside it.
    for (const w of runWarnings(results)) console.error(w);
  } else {
    console.log(summaryTable(results));
    console.log(`\n${results.entries.length} points in ${seconds} s on ${results.machine.cores} cores (${results.machine.cpuModel}), Node ${results.machine.node}, V8 ${results.machine.v8}`);
    console.log(`results: ${path.resolve(json)}`);
    console.log(`report: ${path.resolve(html)}`);
  }
  await sayIfNoCharts('mmsplit bench');
  // A point whose workers broke (a lost wake-up, an invariant) is a finding; running out of memory is a
  // result of the run, reported in it like any other.
  return results.entries.some((e) => e.failure?.kind === 'error') ? 1 : 0;
}
