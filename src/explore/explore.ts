/**
 * `mmsplit explore`: one schedule of a design, replayed by the checker with the recorder watching, made
 * into the data of one page (page.ts). Which schedule: the one a replay token names; for a mutant without
 * one, the violation check.ts's search finds (runCheck, scenario by scenario as `mmsplit check` goes); for a
 * design without one, the first schedule `check` would try.
 */
import { formatReplay, parseReplay, replay, runCheck, runSeed, type CheckMode, type ReplayToken } from '../check/check.js';
import { CHECK_SCENARIOS } from '../check/catalog.js';
import type { TraceEntry } from '../check/sched.js';
import { designInfo } from '../designs/registry.js';
import { AddressSpaceRecorder, type Snapshot, type StepRecord } from './record.js';

export type ExploreMode = Exclude<CheckMode, 'stress'>;

export interface ExploreOptions {
  design: string;
  /** The scenario; default: every one in turn for a mutant's search, the first for a design. */
  scenario?: string;
  mode: ExploreMode;
  seed: number;
  depth: number;
  /** Schedules per scenario the search tries (a mutant without a token). */
  runs: number;
  token?: ReplayToken;
  /** A generated scenario's program (--program). */
  program?: string;
  /** Called as the search goes (scenario, schedules tried so far), for progress lines. */
  progress?: (scenario: string, done: number) => void;
}

/** Where the run went wrong, as the page highlights it. */
export interface ExploreViolation {
  /** The checker's words. */
  message: string;
  /** Index into `steps` of the step the page shows as the violation. */
  at: number;
  /** How that step was chosen. */
  where: string;
  /** The address the message names (a PTE's), when it names one. */
  addr?: number;
}

/** Everything the page draws. */
export interface ExploreRun {
  design: string;
  summary: string;
  scenario: string;
  description: string;
  mode: ExploreMode;
  depth: number;
  threads: number;
  token: string;
  /** The `mmsplit check` and `mmsplit explore` commands that replay this schedule. */
  checkCommand: string;
  exploreCommand: string;
  /** How the schedule was chosen. */
  origin: string;
  programText?: string;
  violation?: ExploreViolation;
  /** The design's per-VMA words, in layout order. */
  vmaWords: string[];
  trace: TraceEntry[];
  steps: StepRecord[];
  states: Snapshot[];
  /** Wall time of the recorded replay, ms. */
  recordMs: number;
}

/** Finds the schedule to show, replays it recorded, and returns what the page needs. */
export async function explore(o: ExploreOptions): Promise<ExploreRun> {
  const info = designInfo(o.design);
  let scenario = o.scenario ?? CHECK_SCENARIOS[0]!.name;
  let token = o.token;
  let program = o.program;
  let origin: string;
  if (token !== undefined) origin = `replay token ${formatReplay(token)}`;
  else if (info.mutantOf !== undefined) {
    // The mutant's bug, found as `mmsplit check` finds it: the same search, scenario by scenario.
    const scenarios = o.scenario !== undefined ? [o.scenario] : CHECK_SCENARIOS.map((s) => s.name);
    origin = '';
    for (const s of scenarios) {
      const r = await runCheck({ design: o.design, scenario: s, mode: o.mode, runs: o.runs, seed: o.seed, depth: o.depth, ...(o.program !== undefined ? { program: o.program } : {}) }, (done) => o.progress?.(s, done));
      if (r.violation) {
        scenario = s;
        token = parseReplay(r.violation.replay, o.mode);
        program = r.violation.replayProgram;
        origin = `found by the search (${o.mode}, seed ${o.seed}) after ${r.runs} schedules of ${s}`;
        break;
      }
    }
    if (token === undefined) origin = `the search (${o.mode}, seed ${o.seed}, ${o.runs} schedules per scenario) found no violation: the first schedule of ${scenario}`;
  } else origin = `the first schedule \`mmsplit check --seed ${o.seed}\` tries`;
  token ??= o.mode === 'dfs' ? { seed: o.seed, overrides: [] } : { seed: runSeed(o.seed, scenario, 0) };

  const recorder = new AddressSpaceRecorder();
  const started = performance.now();
  const r = await replay({ design: o.design, scenario, mode: o.mode, token, depth: o.depth, ...(program !== undefined ? { program } : {}), record: recorder });
  const recordMs = performance.now() - started;
  const { steps, states } = recorder.recording();
  const tokenText = formatReplay(token);
  const depthFlag = o.mode === 'pct' && o.depth !== 3 ? ` --depth ${o.depth}` : '';
  const programFlag = program !== undefined ? ` --program '${program}'` : '';
  const tail = `--design ${o.design} --scenario ${scenario} --mode ${o.mode}${depthFlag} --replay ${tokenText}${programFlag}`;
  const sc = CHECK_SCENARIOS.find((s) => s.name === scenario)!;
  return {
    design: o.design, summary: info.summary ?? '', scenario, description: sc.description, mode: o.mode, depth: o.depth, threads: sc.threads,
    token: tokenText, checkCommand: `mmsplit check ${tail}`, exploreCommand: `mmsplit explore ${tail}`, origin,
    ...(r.programText !== undefined ? { programText: r.programText } : {}),
    ...(r.violation !== undefined ? { violation: locateViolation(r.violation, r.trace, steps, states) } : {}),
    vmaWords: Object.keys(info.vmaWords ?? {}), trace: r.trace, steps, states, recordMs,
  };
}

/**
 * The step the page shows as the violation. A thread that saw it go wrong wrote '✗ …' into the trace:
 * that step. A violation the invariants found after the run and that names a PTE's address: the step
 * from which on that PTE was as the invariants found it (where it was installed). Otherwise the end.
 */
export function locateViolation(message: string, trace: TraceEntry[], steps: StepRecord[], states: Snapshot[]): ExploreViolation {
  const m = /0x([0-9a-f]+)/i.exec(message);
  const addr = m ? parseInt(m[1]!, 16) : undefined;
  const base = { message, ...(addr !== undefined ? { addr } : {}) };
  const seen = trace.find((e) => !e.point && e.what.startsWith('✗'));
  if (seen) {
    let at = steps.findIndex((s) => s.step > seen.step);
    if (at < 0) at = steps.length - 1;
    return { ...base, at, where: `T${seen.thread} saw it at step ${seen.step}` };
  }
  const last = steps.length - 1;
  if (addr !== undefined && last >= 0) {
    // What the invariants judge of a PTE: the frame and its rights (not the dirty bit a later store sets).
    const pteAt = (i: number) => {
      const p = states[steps[i]!.state]!.ptes.find((q) => q.addr === addr);
      return p ? `${p.pfn} ${p.present} ${p.writable}` : 'null';
    };
    const final = pteAt(last);
    if (final !== 'null') {
      let at = last;
      while (at > 0 && pteAt(at - 1) === final) at--;
      const who = steps[at]!.thread;
      return { ...base, at, where: `found after the run by the invariants; the PTE for 0x${addr.toString(16)} went in at step ${steps[at]!.step}${who >= 0 ? `, while T${who} ran` : ''}` };
    }
  }
  return { ...base, at: Math.max(0, last), where: 'found after the run by the invariants' };
}
