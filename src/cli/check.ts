// `mmsplit check`: explore a design's interleavings scenario by scenario; on a violation, print it with the
// replay token and the traced interleaving that led to it; `--replay` runs one schedule again, traced.
import os from 'node:os';
import { CHECK_SCENARIOS, parseReplay, replay, runCheck, type CheckMode, type CheckReport, type ReplayToken } from '../check/check.js';
import { designInfo } from '../designs/registry.js';
import { MM_PATHS } from '../mm/paths.js';
import type { TraceEntry } from '../check/sched.js';
import { table } from './output.js';
import { explore } from '../explore/explore.js';
import { writeExplorePage } from '../explore/page.js';

export interface CheckCommandOptions {
  design: string;
  /** The module the design was loaded from, as given on the command line (the replay command names it). */
  module?: string;
  /** Generated scenario: run this program (as a violation's replay command gives it). */
  program?: string;
  /** Print which kernel paths the runs reached and which they never did. */
  coverage?: boolean;
  scenarios?: string[];
  mode: CheckMode;
  runs: number;
  seed: number;
  depth: number;
  preemptions: number;
  timeLimitMs?: number;
  replay?: ReplayToken;
  traceLines: number;
  json: boolean;
  /** On a violation, write the explorer's page of it into this folder (checked writable before the search). */
  explore?: string;
}

function command(o: CheckCommandOptions, scenario: string, token: string, program?: string): string {
  const extra = o.mode === 'pct' && o.depth !== 3 ? ` --depth ${o.depth}` : '';
  const design = o.module !== undefined ? `${o.module} --name ${o.design}` : o.design;
  return `mmsplit check --design ${design} --scenario ${scenario} --mode ${o.mode}${extra} --replay ${token}${program !== undefined ? ` --program '${program}'` : ''}`;
}

/** What the runs of every scenario reached, against what the mm, the fault core and the design can reach. */
export function coverageOf(design: string, reports: CheckReport[]): { paths: [string, number][]; never: string[]; unreachable: [string, string][]; counters: [string, number][]; points: [string, number][] } {
  const reached: Record<string, number> = {};
  const stats: Record<string, number> = {};
  for (const r of reports) {
    for (const [k, n] of Object.entries(r.coverage)) reached[k] = (reached[k] ?? 0) + n;
    for (const [k, n] of Object.entries(r.stats)) stats[k] = (stats[k] ?? 0) + n;
  }
  const known: string[] = Object.values(MM_PATHS);
  const info = designInfo(design);
  const counters = ['fastPath', 'retry', 'fallback', ...Object.keys(info.counters ?? {})];
  // A path the design says it cannot take stays listed as reached if a run took it (a mutant's may).
  const why = info.unreachable ?? {};
  return {
    paths: known.filter((p) => reached[p]).map((p) => [p, reached[p]!]),
    never: known.filter((p) => !reached[p] && why[p] === undefined),
    unreachable: known.filter((p) => !reached[p] && why[p] !== undefined).map((p) => [p, why[p]!]),
    counters: counters.map((c) => [c, stats[c] ?? 0]),
    points: Object.entries(reached).filter(([p]) => !known.includes(p)).sort((a, b) => b[1] - a[1]),
  };
}

function printCoverage(design: string, reports: CheckReport[]): void {
  const c = coverageOf(design, reports);
  const n = (x: number) => x.toLocaleString('en-US');
  console.log(`\nCoverage of ${design} over ${n(reports.reduce((a, r) => a + r.runs, 0))} schedules in ${reports.length} scenarios:`);
  console.log(`  fault core and VMA operations: ${c.paths.length} of ${c.paths.length + c.never.length} paths reached${c.unreachable.length ? ` (${c.unreachable.length} more unreachable by construction)` : ''}`);
  for (const [p, k] of c.paths) console.log(`    ${n(k).padStart(10)}  ${p}`);
  for (const p of c.never) console.log(`    ${'never'.padStart(10)}  ${p}`);
  for (const [p, why] of c.unreachable) console.log(`    ${'unreachable'.padStart(10)}  ${p}: ${why}`);
  console.log(`  the design's counters (never: a way its faults can end that no run took):`);
  for (const [k, v] of c.counters) console.log(`    ${(v ? n(v) : 'never').padStart(10)}  ${k}`);
  console.log(`  schedPoints reached: ${c.points.length ? '' : 'none'}`);
  for (const [p, k] of c.points) console.log(`    ${n(k).padStart(10)}  ${p}`);
}

/** A generated scenario's program, indented under its heading. */
function programLines(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}

/**
 * The interleaving, each thread in its own column: every line the scenario wrote (calls, accesses, their
 * results, the violation) and the yield points around each context switch; a long stretch of one thread's
 * yield points in between is folded into one line. The last `lines` lines (0: all).
 */
export function formatTrace(trace: TraceEntry[], lines: number): string {
  const out: string[] = [];
  const line = (e: TraceEntry) => `  ${String(e.step).padStart(7)} ${' '.repeat(6 * e.thread)}T${e.thread} ${e.what}`;
  const KEEP = 2;
  for (let i = 0; i < trace.length; ) {
    const e = trace[i]!;
    if (!e.point) {
      out.push(line(e));
      i++;
      continue;
    }
    let j = i;
    while (j < trace.length && trace[j]!.point && trace[j]!.thread === e.thread) j++;
    if (j - i <= 2 * KEEP + 1) for (let k = i; k < j; k++) out.push(line(trace[k]!));
    else {
      for (let k = i; k < i + KEEP; k++) out.push(line(trace[k]!));
      out.push(`  ${' '.repeat(8)}${' '.repeat(6 * e.thread)}   … ${j - i - 2 * KEEP} more steps of T${e.thread}`);
      for (let k = j - KEEP; k < j; k++) out.push(line(trace[k]!));
    }
    i = j;
  }
  if (lines === 0 || out.length <= lines) return out.join('\n');
  return [`  … ${out.length - lines} earlier lines (--trace-lines 0 shows all)`, ...out.slice(-lines)].join('\n');
}

function row(r: CheckReport): (string | number)[] {
  return [r.scenario, r.mode, r.runs, Math.round(r.schedulesPerMinute), Math.round(r.meanSteps), r.meanSwitches, r.violation ? 'VIOLATION' : r.exhausted ? 'ok (all schedules)' : 'ok'];
}

export async function checkCommand(o: CheckCommandOptions): Promise<number> {
  const scenarios = o.scenarios?.length ? o.scenarios : CHECK_SCENARIOS.map((s) => s.name);
  const env = { node: process.version, v8: process.versions.v8, cores: os.availableParallelism() };
  if (o.replay) {
    if (scenarios.length !== 1) throw new Error('--replay needs exactly one --scenario');
    const r = await replay({ design: o.design, scenario: scenarios[0]!, mode: o.mode, token: o.replay, depth: o.depth, ...(o.program !== undefined ? { program: o.program } : {}) });
    if (o.json) console.log(JSON.stringify({ command: 'check', replay: true, design: o.design, scenario: scenarios[0], mode: o.mode, ...env, ...r }, null, 2));
    else {
      console.log(`mmsplit check: replaying ${o.design} / ${scenarios[0]} (${o.mode}) — ${r.steps} steps`);
      if (r.programText) console.log(`\nThe program:\n${programLines(r.programText)}\n`);
      console.log(formatTrace(r.trace, o.traceLines));
      console.log(r.violation ? `\nVIOLATION: ${r.violation}` : '\nno violation in this schedule');
    }
    return r.violation ? 1 : 0;
  }
  const reports: CheckReport[] = [];
  if (!o.json) console.log(`mmsplit check: ${o.design}, ${o.mode}, up to ${o.runs.toLocaleString('en-US')} schedules per scenario, seed ${o.seed}`);
  for (const scenario of scenarios) {
    const r = await runCheck({
      design: o.design, scenario, mode: o.mode, runs: o.runs, seed: o.seed, depth: o.depth, preemptions: o.preemptions,
      ...(o.timeLimitMs !== undefined ? { timeLimitMs: o.timeLimitMs } : {}), ...(o.program !== undefined ? { program: o.program } : {}),
    });
    reports.push(r);
    if (!o.json) console.log(`  ${scenario}: ${r.violation ? 'VIOLATION' : 'ok'} (${r.runs.toLocaleString('en-US')} schedules, ${Math.round(r.schedulesPerMinute).toLocaleString('en-US')}/min)`);
    if (r.violation) break;
  }
  const failed = reports.find((r) => r.violation);
  let trace: TraceEntry[] | undefined;
  let explored: string | undefined;
  if (failed && o.mode !== 'stress') {
    const v = failed.violation!;
    const again = { design: o.design, scenario: failed.scenario, mode: o.mode, token: parseReplay(v.replay, o.mode), depth: o.depth, ...(v.replayProgram !== undefined ? { program: v.replayProgram } : {}) };
    if (o.explore !== undefined) {
      // The explorer's replay is the traced one, recorded: its trace is the one printed below.
      const run = await explore({ ...again, mode: o.mode, seed: o.seed, runs: o.runs });
      trace = run.trace;
      explored = writeExplorePage(run, o.explore);
    } else trace = (await replay(again)).trace;
  }
  if (o.json) {
    console.log(JSON.stringify({ command: 'check', design: o.design, mode: o.mode, seed: o.seed, ...env, reports, ...(o.coverage ? { coverage: coverageOf(o.design, reports) } : {}), ...(failed ? { replayCommand: command(o, failed.scenario, failed.violation!.replay, failed.violation!.replayProgram), trace, ...(explored ? { page: explored } : {}) } : {}) }, null, 2));
  } else {
    console.log();
    console.log(table(['scenario', 'mode', 'schedules', 'per min', 'steps', 'switches', 'result'], reports.map(row)));
    if (failed) {
      const v = failed.violation!;
      console.log(`\nVIOLATION in ${failed.scenario} after ${failed.runs} schedules: ${v.message}`);
      if (v.foundMessage !== undefined) console.log(`(the program as first found failed with: ${v.foundMessage})`);
      if (v.programText !== undefined) {
        const size = v.programSize!;
        const how = size.shrunk < size.found ? `shrunk from ${size.found} operations to ${size.shrunk}` : `${size.found} operations, not shrunk`;
        console.log(`\nThe program (${how}):\n${programLines(v.programText)}`);
      }
      console.log(`\nseed ${v.replay.split(':')[0]}; replay with:\n  ${command(o, failed.scenario, v.replay, v.replayProgram)}`);
      if (trace) console.log(`\nThe interleaving (step, thread, what):\n${formatTrace(trace, o.traceLines)}`);
      if (explored) console.log(`\nwrote ${explored}: the interleaving step by step, with the address space (mmsplit explore)`);
    } else {
      console.log(`\nNo violation (seed ${o.seed}; ${env.node}, V8 ${env.v8}, ${env.cores} cores).`);
    }
    if (o.coverage) printCoverage(o.design, reports);
  }
  return failed ? 1 : 0;
}

