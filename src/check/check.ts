/**
 * The checker's controller: runs a design through a scenario over and over — each run a fresh address
 * space set up from the run's seed, its threads on real workers, under the deterministic scheduler (pct,
 * random, dfs) or free on real cores (stress) — and checks each outcome and the invariants after it. The
 * first violation stops the search and comes back with what replays it: the run's seed (pct, random,
 * stress setups) or its dfs overrides. replay() runs that one schedule again with tracing on.
 */
import { Worker } from 'node:worker_threads';
import { AddressSpace } from '../designs/address-space.js';
import { designInfo } from '../designs/registry.js';
import { Prng } from '../util/prng.js';
import type { CheckWorkerData, HandleMessage, RunJob, RunReport } from './check-worker.js';
import { BOARD_WORDS, DONE, GO, JOB, Mailbox, READY, sameHandle, THREADS, waitChange } from './board.js';
import { BufferSet } from '../shm/buffers.js';
import { checkQuiescent, checkTeardown } from './invariants.js';
import { CHECK_SCENARIOS, checkScenario } from './catalog.js';
import type { CheckScenario, RoleResult, ScenarioParams } from './scenarios.js';
import { dfsDefault, NOBODY, SchedControl, type Decision, type Strategy, type TraceEntry } from './sched.js';
import { describeError } from '../util/unwind.js';

export type CheckMode = Strategy | 'stress';
export const CHECK_MODES: readonly CheckMode[] = ['pct', 'random', 'dfs', 'stress'];

export interface CheckOptions {
  design: string;
  scenario: string;
  mode: CheckMode;
  /** Schedules to try (dfs stops earlier if it has tried them all). */
  runs: number;
  /** Where the seeds of the runs start. */
  seed: number;
  /** pct: bug depth (d); default 3. */
  depth?: number;
  /** dfs: preemptions allowed per schedule; default 2. */
  preemptions?: number;
  /** Steps before a run counts as a livelock; default 200,000. */
  maxSteps?: number;
  /** Stop searching after this long (ms) even if runs are left. */
  timeLimitMs?: number;
  /** A run that has not ended after this long (wall clock) fails as a hang. */
  runTimeoutMs?: number;
  /** Generated scenarios: run this program (encode()d) in every run instead of drawing one per run. */
  program?: string;
  /** Generated scenarios: how long to spend shrinking a failing program, ms (default 20,000; 0: not at all). */
  shrinkMs?: number;
}

/** How to run one schedule again: the run's seed, and for dfs its overrides. */
export interface ReplayToken {
  seed: number;
  overrides?: [number, number][];
}

export function formatReplay(t: ReplayToken): string {
  return t.overrides === undefined ? String(t.seed) : `${t.seed}:${t.overrides.map(([k, th]) => `${k}=${th}`).join(',')}`;
}

export function parseReplay(s: string, mode: CheckMode): ReplayToken {
  const m = /^(\d+)(?::((?:\d+=\d+)(?:,\d+=\d+)*)?)?$/.exec(s.trim());
  if (!m) throw new Error(`bad replay token '${s}' (want SEED, or SEED:DECISION=THREAD,... for dfs)`);
  const seed = Number(m[1]) >>> 0;
  if (mode !== 'dfs') {
    if (s.includes(':')) throw new Error(`replay token '${s}' has dfs overrides but the mode is ${mode}`);
    return { seed };
  }
  return { seed, overrides: m[2] ? m[2].split(',').map((p) => p.split('=').map(Number) as [number, number]) : [] };
}

export interface Violation {
  message: string;
  replay: string;
  /** Generated scenarios: the program that fails (shrunk when it could be), as --program takes it. */
  program?: string;
  /** …and as a report prints it. */
  programText?: string;
  /**
   * The --program a replay needs with `replay`: the shrunk program, or the one the search was given.
   * Absent when the seed alone replays it (the run drew the program from its seed): a replay given the
   * program would plan its PCT change points for that program, not for the one the search planned with.
   */
  replayProgram?: string;
  /** Operations in the program as first found, and after shrinking. */
  programSize?: { found: number; shrunk: number };
  /** The error the program as first found gave, when the shrunk one's differs. */
  foundMessage?: string;
  /** Step at which it was seen (0 if after the run). */
  steps: number;
  /** The interleaving, when the run was traced. */
  trace?: TraceEntry[];
}

export interface CheckReport {
  design: string;
  scenario: string;
  mode: CheckMode;
  seed: number;
  runs: number;
  /** dfs: every schedule within the preemption bound was tried. */
  exhausted: boolean;
  elapsedMs: number;
  schedulesPerMinute: number;
  /** Means over the runs: yield points, context switches, preemptions. */
  meanSteps: number;
  meanSwitches: number;
  /** How the design's faults went, summed over runs (fastPath, fallback, …). */
  stats: Record<string, number>;
  /** Kernel paths the runs' threads reached (MM_PATHS, schedPoint labels), with how often, summed over runs. */
  coverage: Record<string, number>;
  violation?: Violation;
}

interface RunOutcome {
  /** Generated scenarios: the program the run ran. */
  program?: unknown;
  steps: number;
  switches: number;
  preemptions: number;
  decisions: Decision[];
  stats: Record<string, number>[];
  coverage: [string, number][][];
  violation?: string;
  trace: TraceEntry[];
}

/**
 * Watches one scheduled run from the controller (mmsplit explore): step() at every yield point, while the
 * thread that reached it and every other worker wait, so that it reads the address space as the threads
 * left it; end() once they are all done (or one failed), before the run is judged. It reads and must
 * write nothing shared: the run takes the same turns as it does unwatched.
 */
export interface RunRecorder {
  step(as: AddressSpace, step: number, thread: number, ctl: SchedControl): void;
  end(as: AddressSpace, steps: number, ctl: SchedControl): void;
}

const FRAMES = 128;

/** A worker of the pool: its thread number is its place in the pool. */
interface PoolWorker {
  worker: Worker;
  reply: Mailbox;
  /** The handles it was sent (HandleMessage.epoch). */
  epochs: Set<number>;
  /** Why it died, if it did. */
  crashed?: string;
}

/**
 * The checker's worker threads, kept from run to run (replaced after a run that failed), and the memory of
 * the runs' address spaces: each run creates a fresh one over the same buffers (BufferSet), so that the
 * workers keep the handle they were sent, and jobs and reports go through shared memory (board.ts).
 */
class CheckPool {
  readonly ctl = SchedControl.create();
  private readonly board = new Int32Array(new SharedArrayBuffer(4 * BOARD_WORDS));
  private readonly jobBox = new Mailbox();
  /** Two sets: a run is set up in one while the last one runs in the other. */
  private readonly buffers = [new BufferSet(), new BufferSet()];
  /** What each set's address space's handle was last, as sent to the workers. */
  private readonly handles: (HandleMessage | undefined)[] = [];
  private epochs = 0;
  private serials = 0;
  private workers: PoolWorker[] = [];

  private ensure(n: number): PoolWorker[] {
    while (this.workers.length < n) {
      const reply = new Mailbox();
      const data: CheckWorkerData = { sched: this.ctl.buffer, board: this.board.buffer as SharedArrayBuffer, job: this.jobBox.buffer, reply: reply.buffer, me: this.workers.length };
      const worker = new Worker(new URL('./check-worker.js', import.meta.url), { workerData: data });
      worker.unref();
      const w: PoolWorker = { worker, reply, epochs: new Set() };
      // A crash ends the worker's part of the run: wake the controller, which counts it as reported.
      worker.once('error', (e) => {
        w.crashed = e.message;
        Atomics.notify(this.board, DONE);
      });
      this.workers.push(w);
    }
    return this.workers.slice(0, n);
  }

  async replace(): Promise<void> {
    const old = this.workers;
    this.workers = [];
    await Promise.all(old.map((w) => w.worker.terminate()));
  }

  async close(): Promise<void> {
    await this.replace();
  }

  /** Waits until every worker has reported or crashed, or until the deadline (performance.now(), ms). */
  private async reports(workers: PoolWorker[], deadline: number): Promise<boolean> {
    for (;;) {
      const done = Atomics.load(this.board, DONE);
      if (done + workers.filter((w) => w.crashed !== undefined).length >= workers.length) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      // A pending Atomics.waitAsync keeps no process alive (the workers are unref()ed): a timer does.
      const alive = setTimeout(() => {}, left);
      await waitChange(this.board, DONE, done, left);
      clearTimeout(alive);
    }
  }

  /**
   * A run's address space, made and set up from its seed in buffer set `slot` (two: the next run is set up
   * while this one runs); a RunOutcome if the setup itself failed.
   */
  prepare(design: string, scenario: CheckScenario, seed: number, mode: CheckMode, opts: RunOptions, slot = 0): Prepared | RunOutcome {
    const rnd = new Prng(seed);
    const as = this.buffers[slot]!.reuse(() => AddressSpace.create({ design, frames: FRAMES, tables: 64, capacity: 256, files: 16 /* a scenario opens one or two */, debug: true, maxThreads: 16 }));
    const tablesBefore = as.pages.pt.tablesInUse();
    try {
      const params = scenario.setup(as, rnd, opts.given);
      as.quiescentState();
      return { as, params, tablesBefore, slot, scenario, mode, opts, schedSeed: rnd.u32(), workers: [], serial: 0 };
    } catch (e) {
      // The design failed on the controller alone, before any race: report it like any violation.
      return { steps: 0, switches: 0, preemptions: 0, decisions: [], stats: [], coverage: [], trace: [], violation: `during setup: ${(e as Error).name}: ${(e as Error).message}`, program: opts.given };
    }
  }

  /** Lets a prepared run's threads go (the last run's reports collected). */
  launch(p: Prepared): void {
    const { as, scenario, opts } = p;
    const n = scenario.threads;
    const scheduled = p.mode !== 'stress';
    p.workers = this.ensure(n);
    const { files, ...handle } = as.handle();
    let sent = this.handles[p.slot];
    if (sent === undefined || !sameHandle(handle, sent.handle)) sent = this.handles[p.slot] = { epoch: ++this.epochs, handle };
    for (const w of p.workers) {
      if (w.epochs.has(sent.epoch)) continue;
      w.worker.postMessage(sent);
      w.epochs.add(sent.epoch);
    }
    if (scheduled) {
      this.ctl.reset({ threads: n, strategy: p.mode as Strategy, seed: p.schedSeed, maxSteps: opts.maxSteps, depth: opts.depth, expectedSteps: opts.expectedSteps, overrides: opts.overrides });
      if (opts.record) this.ctl.record();
      this.ctl.start(); // the first thread runs as soon as it has read the job
    }
    as.rcu.threadOffline(); // the controller only waits for it now: it must hold up no grace period
    p.serial = ++this.serials;
    const job: RunJob = { serial: p.serial, epoch: sent.epoch, files, scenario: scenario.name, params: p.params, scheduled, trace: opts.trace };
    this.jobBox.write(job);
    this.board[DONE] = 0;
    this.board[READY] = 0;
    this.board[GO] = 0;
    this.board[THREADS] = n;
    Atomics.add(this.board, JOB, 1); // publishes the job and the words above
    Atomics.notify(this.board, JOB);
  }

  /**
   * Waits for a launched run's threads and reads what they report (before the next launch overwrites it):
   * the outcome so far, with the reports to judge(), or with the violation if a thread failed or the run hung.
   */
  async collect(p: Prepared): Promise<{ out: RunOutcome; results?: RoleResult[] }> {
    const { as, scenario, opts } = p;
    const scheduled = p.mode !== 'stress';
    let followed: 'done' | 'aborted' | 'timeout' | undefined;
    // Recording: the controller takes its turn at every yield point, blocking here.
    const record = opts.record;
    if (record && scheduled) followed = this.ctl.follow((step, thread) => record.step(as, step, thread, this.ctl), performance.now() + opts.timeoutMs);
    if (followed === 'timeout') this.ctl.abort();
    const reported = await this.reports(p.workers, performance.now() + opts.timeoutMs); // (after a recording, as long again)
    if (record && reported && followed !== 'timeout') record.end(as, this.ctl.steps, this.ctl);
    as.rcu.threadOnline();
    const out: RunOutcome = {
      ...(scenario.program ? { program: scenario.program.of(p.params) } : {}),
      steps: scheduled ? this.ctl.steps : 0,
      switches: scheduled ? this.ctl.switches : 0,
      preemptions: scheduled ? this.ctl.preemptions : 0,
      decisions: p.mode === 'dfs' ? this.ctl.decisions() : [],
      stats: [],
      coverage: [],
      trace: [],
    };
    if (!reported || followed === 'timeout') {
      this.ctl.abort();
      await this.replace();
      out.violation = `hang: the run did not end within ${opts.timeoutMs} ms of wall-clock time (${this.ctl.describeThreads()})`;
      return { out };
    }
    // A crash aborts the others (a failing thread aborts them itself).
    const all = p.workers.map((w): RunReport => (w.crashed !== undefined ? { serial: p.serial, type: 'failed', error: `worker crashed: ${w.crashed}`, log: [] } : (w.reply.read() as RunReport)));
    // A report of another run would be judged as this one's: the checker's own fault, never the design's.
    const stray = all.find((m) => m.serial !== p.serial);
    if (stray !== undefined) throw new Error(`check: internal error: run ${p.serial} collected a report of run ${stray.serial}`);
    out.trace = all.flatMap((m) => m.log).sort((a, b) => a.seq - b.seq);
    const failure = all.find((m) => m.type === 'failed');
    if (failure || all.some((m) => m.type !== 'done')) {
      out.violation = failure?.error ?? 'a thread was aborted without a failure';
      await this.replace();
      return { out };
    }
    out.stats = all.map((m) => m.stats!);
    out.coverage = all.map((m) => m.coverage ?? []);
    return { out, results: all.map((m) => m.result!) };
  }

  /** Judges a collected run on the controller (another may be running meanwhile): its checks, the invariants, the teardown. */
  judge(p: Prepared, c: { out: RunOutcome; results?: RoleResult[] }): RunOutcome {
    if (c.results === undefined) return c.out;
    try {
      p.scenario.check(p.as, p.params, c.results);
      checkQuiescent(p.as);
      const buffers = this.buffers[p.slot]!;
      checkTeardown(p.as, p.scenario.ranges, p.tablesBefore, () => buffers.retire());
    } catch (e) {
      const err = e as Error;
      c.out.violation = err.name === 'CheckViolation' ? err.message : describeError(err);
    }
    return c.out;
  }

  /** One run, alone: set up, let the threads go, collect what they report, judge it. */
  async run(design: string, scenario: CheckScenario, seed: number, mode: CheckMode, opts: RunOptions): Promise<RunOutcome> {
    const p = this.prepare(design, scenario, seed, mode, opts);
    if (!('as' in p)) return p;
    this.launch(p);
    return this.judge(p, await this.collect(p));
  }

  /** Abandons a launched run whose outcome nobody wants (the search ended): stops it and waits for its threads. */
  async discard(p: Prepared): Promise<void> {
    if (p.mode !== 'stress') this.ctl.abort();
    await this.reports(p.workers, performance.now() + p.opts.timeoutMs);
    p.as.rcu.threadOnline();
    await this.replace(); // its threads were aborted mid-run
  }
}

interface RunOptions {
  depth: number;
  expectedSteps: number;
  overrides?: [number, number][];
  maxSteps: number;
  trace: boolean;
  timeoutMs: number;
  given?: unknown;
  record?: RunRecorder;
}

/** A run set up and not yet judged. */
interface Prepared {
  as: AddressSpace;
  params: ScenarioParams;
  tablesBefore: number;
  slot: number;
  scenario: CheckScenario;
  mode: CheckMode;
  opts: RunOptions;
  /** The schedule's seed, drawn from the run's after the setup's draws. */
  schedSeed: number;
  /** The workers it was launched on. */
  workers: PoolWorker[];
  /** Its number in the pool, once launched (RunJob.serial). */
  serial: number;
}

/** The seed of run `i` of a search that starts at `seed` (independent of the other runs). */
export function runSeed(seed: number, scenario: string, i: number): number {
  let h = seed ^ 0x5bd1e995;
  for (let k = 0; k < scenario.length; k++) h = Math.imul(h ^ scenario.charCodeAt(k), 0x01000193);
  return (Math.imul(h ^ i, 0x9e3779b1) ^ (i * 0x85ebca6b)) >>> 0;
}

/**
 * pct spreads its change points over the expected length of a run: measured once, deterministically, by
 * a run of the same scenario that never preempts (so a replay computes the same value).
 */
async function expectedSteps(pool: CheckPool, design: string, scenario: CheckScenario, maxSteps: number, timeoutMs: number, given?: unknown): Promise<number> {
  const r = await pool.run(design, scenario, 0, 'dfs', { depth: 1, expectedSteps: 1, overrides: [], maxSteps, trace: false, timeoutMs, given });
  return Math.max(10, r.steps);
}

/** Schedules tried on each smaller program while shrinking (their seeds start at the search's). */
const SHRINK_RUNS = 40;

/**
 * Makes a generated scenario's failing program smaller: the first candidate one step smaller that still
 * fails (any violation) in one of SHRINK_RUNS schedules becomes the program, until none does or `budgetMs`
 * is spent. Returns the smallest failing program with the schedule that replays it, or undefined when the
 * program, run as given, fails in none of the schedules tried (then the seed alone replays it).
 */
async function shrinkProgram(
  pool: CheckPool,
  o: CheckOptions,
  scenario: CheckScenario,
  found: unknown,
  run: { depth: number; maxSteps: number; timeoutMs: number },
  budgetMs: number,
): Promise<{ program: unknown; seed: number; message: string } | undefined> {
  const started = performance.now();
  const support = scenario.program!;
  const failing = async (program: unknown): Promise<{ seed: number; message: string } | undefined> => {
    const k = o.mode === 'pct' ? await expectedSteps(pool, o.design, scenario, run.maxSteps, run.timeoutMs, program) : 0;
    for (let j = 0; j < SHRINK_RUNS && performance.now() - started < budgetMs; j++) {
      const seed = runSeed(o.seed, `${o.scenario}/shrink`, j);
      const r = await pool.run(o.design, scenario, seed, o.mode, { depth: run.depth, expectedSteps: k, overrides: [], maxSteps: run.maxSteps, trace: false, timeoutMs: run.timeoutMs, given: program });
      if (r.violation !== undefined) return { seed, message: r.violation };
    }
    return undefined;
  };
  const first = await failing(found);
  if (first === undefined) return undefined;
  let best = { program: found, ...first };
  for (let progress = true; progress && performance.now() - started < budgetMs; ) {
    progress = false;
    for (const candidate of support.smaller(best.program)) {
      if (performance.now() - started >= budgetMs) break;
      const f = await failing(candidate);
      if (f !== undefined) {
        best = { program: candidate, ...f };
        progress = true;
        break;
      }
    }
  }
  return best;
}

/**
 * The outcomes of runs 0, 1, … of a search whose runs are independent (pct, random, stress: each is its
 * seed's), in order, two at a time: run i + 1 is set up (in the other buffer set) while run i runs, and
 * starts as soon as run i's threads are done, so that run i's checks, invariants and teardown on the
 * controller run beside it — on another core, which the one worker running at a time leaves free. Closing
 * the generator abandons the run in flight.
 */
async function* pipeline(pool: CheckPool, o: CheckOptions, scenario: CheckScenario, opts: RunOptions): AsyncGenerator<RunOutcome, void, void> {
  const prepare = (i: number) => pool.prepare(o.design, scenario, runSeed(o.seed, o.scenario, i), o.mode, opts, i & 1);
  let cur = prepare(0);
  let running: Prepared | undefined;
  try {
    for (let i = 0; ; i++) {
      if ('as' in cur && running !== cur) {
        pool.launch(cur);
        running = cur;
      }
      const next = i + 1 < o.runs ? prepare(i + 1) : undefined;
      let out = cur as RunOutcome;
      if ('as' in cur) {
        const c = await pool.collect(cur);
        running = undefined;
        if (c.results !== undefined && next !== undefined && 'as' in next) {
          pool.launch(next);
          running = next;
        }
        out = pool.judge(cur, c);
      }
      yield out;
      if (next === undefined) return;
      cur = next;
    }
  } finally {
    if (running !== undefined) await pool.discard(running);
  }
}

/** dfs backtracking: the overrides of the next schedule, or undefined when none is left within the bound. */
export function nextDfsSchedule(decisions: Decision[], overrides: [number, number][], bound: number): [number, number][] | undefined {
  // Preemptions spent before each decision.
  const spent: number[] = [];
  let p = 0;
  for (const d of decisions) {
    spent.push(p);
    if (d.previous !== NOBODY && d.chosen !== d.previous) p++;
  }
  for (let j = decisions.length - 1; j >= 0; j--) {
    const d = decisions[j]!;
    // Alternatives in order: the default first, then the other enabled threads by index.
    const order = [dfsDefault(d.enabled, d.previous)];
    for (let t = 0; t < 8; t++) if ((d.enabled & (1 << t)) !== 0 && t !== order[0]) order.push(t);
    for (let k = order.indexOf(d.chosen) + 1; k < order.length; k++) {
      const alt = order[k]!;
      const cost = d.previous !== NOBODY && alt !== d.previous ? 1 : 0;
      if (spent[j]! + cost > bound) continue;
      return [...overrides.filter(([at]) => at < j), [j, alt]];
    }
  }
  return undefined;
}

function sumStats(into: Record<string, number>, stats: Record<string, number>[]): void {
  for (const s of stats) for (const [k, v] of Object.entries(s)) if (typeof v === 'number') into[k] = (into[k] ?? 0) + v;
}

/** Runs the search; resolves with the report (with a violation if one was found). */
export async function runCheck(o: CheckOptions, progress?: (done: number) => void): Promise<CheckReport> {
  designInfo(o.design);
  const scenario = checkScenario(o.scenario);
  const maxSteps = o.maxSteps ?? 200_000;
  const timeoutMs = o.runTimeoutMs ?? 30_000;
  const depth = o.depth ?? 3;
  const bound = o.preemptions ?? 2;
  const pool = new CheckPool();
  const started = performance.now();
  const stats: Record<string, number> = {};
  const coverage: Record<string, number> = {};
  let runs = 0;
  let steps = 0;
  let switches = 0;
  let exhausted = false;
  let violation: Violation | undefined;
  const given = givenProgram(scenario, o.program);
  try {
    const k = o.mode === 'pct' ? await expectedSteps(pool, o.design, scenario, maxSteps, timeoutMs, given) : 0;
    const opts: RunOptions = { depth, expectedSteps: k, maxSteps, trace: false, timeoutMs, given };
    // dfs's next schedule depends on the last one's decisions; the other modes' runs are independent.
    const independent = o.mode === 'dfs' ? undefined : pipeline(pool, o, scenario, opts);
    let overrides: [number, number][] | undefined = [];
    let failed: { r: RunOutcome; seed: number; overrides?: [number, number][] } | undefined;
    while (runs < o.runs && (o.timeLimitMs === undefined || performance.now() - started < o.timeLimitMs)) {
      const seed = o.mode === 'dfs' ? o.seed : runSeed(o.seed, o.scenario, runs);
      const r = independent ? (await independent.next()).value! : await pool.run(o.design, scenario, seed, o.mode, { ...opts, overrides });
      runs++;
      steps += r.steps;
      switches += r.switches;
      sumStats(stats, r.stats);
      for (const c of r.coverage) for (const [path, n] of c) coverage[path] = (coverage[path] ?? 0) + n;
      progress?.(runs);
      if (r.violation !== undefined) {
        failed = { r, seed, overrides };
        break;
      }
      if (o.mode === 'dfs') {
        overrides = nextDfsSchedule(r.decisions, overrides!, bound);
        if (overrides === undefined) {
          exhausted = true;
          break;
        }
      }
    }
    await independent?.return(); // the run started beside the last one is abandoned
    if (failed !== undefined) {
      const { r, seed } = failed;
      const token: ReplayToken = o.mode === 'dfs' ? { seed, overrides: failed.overrides! } : { seed };
      violation = { message: r.violation!, replay: formatReplay(token), steps: r.steps };
      const support = scenario.program;
      if (support && r.program !== undefined) {
        const shrinkMs = o.shrinkMs ?? 20_000;
        const shrunk = shrinkMs > 0 && o.mode !== 'stress' && o.mode !== 'dfs' ? await shrinkProgram(pool, o, scenario, r.program, { depth, maxSteps, timeoutMs }, shrinkMs) : undefined;
        const program = shrunk?.program ?? r.program;
        violation = {
          ...violation,
          ...(shrunk ? { message: shrunk.message, replay: formatReplay({ seed: shrunk.seed }), ...(shrunk.message !== r.violation ? { foundMessage: r.violation } : {}) } : {}),
          program: support.encode(program),
          ...(shrunk || given !== undefined ? { replayProgram: support.encode(program) } : {}),
          programText: support.describe(program),
          programSize: { found: support.size(r.program), shrunk: support.size(program) },
        };
      }
    }
  } finally {
    await pool.close();
  }
  const elapsedMs = performance.now() - started;
  return {
    design: o.design,
    scenario: o.scenario,
    mode: o.mode,
    seed: o.seed,
    runs,
    exhausted,
    elapsedMs,
    schedulesPerMinute: runs / (elapsedMs / 60_000),
    meanSteps: runs ? steps / runs : 0,
    meanSwitches: runs ? switches / runs : 0,
    stats,
    coverage,
    ...(violation ? { violation } : {}),
  };
}

/** The program `--program` gives a generated scenario (undefined: each run draws its own). */
function givenProgram(scenario: CheckScenario, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  if (!scenario.program) throw new Error(`--program is for a generated scenario, not ${scenario.name}`);
  return scenario.program.decode(text);
}

/** Runs one schedule again, traced: the same violation (or none) and the interleaving that led to it. */
export async function replay(o: { design: string; scenario: string; mode: CheckMode; token: ReplayToken; depth?: number; maxSteps?: number; runTimeoutMs?: number; program?: string; record?: RunRecorder }): Promise<{ violation?: string; steps: number; trace: TraceEntry[]; programText?: string }> {
  designInfo(o.design);
  const scenario = checkScenario(o.scenario);
  const maxSteps = o.maxSteps ?? 200_000;
  const timeoutMs = o.runTimeoutMs ?? 30_000;
  const given = givenProgram(scenario, o.program);
  const pool = new CheckPool();
  try {
    const k = o.mode === 'pct' ? await expectedSteps(pool, o.design, scenario, maxSteps, timeoutMs, given) : 0;
    const r = await pool.run(o.design, scenario, o.token.seed, o.mode, { depth: o.depth ?? 3, expectedSteps: k, overrides: o.token.overrides ?? [], maxSteps, trace: o.mode !== 'stress', timeoutMs, given, ...(o.record && o.mode !== 'stress' ? { record: o.record } : {}) });
    const programText = scenario.program && r.program !== undefined ? scenario.program.describe(r.program) : undefined;
    return { ...(r.violation !== undefined ? { violation: r.violation } : {}), steps: r.steps, trace: r.trace, ...(programText ? { programText } : {}) };
  } finally {
    await pool.close();
  }
}

export { CHECK_SCENARIOS };
