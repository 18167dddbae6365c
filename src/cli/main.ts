#!/usr/bin/env node
// The mmsplit command. Subcommands are registered here as the layers that provide them land.
import { Command, InvalidArgumentError } from 'commander';
import { createRequire } from 'node:module';
import { addReportOptions } from './output.js';
import { tortureCommand } from './torture.js';
import { replayCommand } from './replay.js';
import { WORKLOAD_NAMES, type WorkloadName } from '../bench/results.js';
import { designInfo, designNames, DesignDefinitionError, isDesignPath, mutantNames, resolveDesigns } from '../designs/registry.js';
import { defaultThreads, LAB_DEFAULTS } from '../bench/lab.js';
import { CHECK_MODES, CHECK_SCENARIOS, parseReplay, type CheckMode } from '../check/check.js';
import { checkScenario } from '../check/catalog.js';
import { seedFromEnv } from '../util/prng.js';
import { SIM_DEFAULTS } from '../sim/defaults.js';
import { PROFILES } from '../sim/profile.js';

const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string; description: string };

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

/** A comma-separated list of names, each one of `all`. */
function nameList<T extends string>(all: readonly T[], what: string) {
  return (v: string): T[] => {
    const names = v.split(',').map((x) => x.trim()).filter(Boolean);
    if (names.length === 0) throw new InvalidArgumentError(`expected ${what} names separated by commas`);
    for (const n of names) if (!(all as readonly string[]).includes(n)) throw new InvalidArgumentError(`unknown ${what} '${n}' (have: ${all.join(', ')})`);
    return [...new Set(names)] as T[];
  };
}

/** A design's name (checked now) or a module's path (loaded by the action: importing is asynchronous). */
function designArg(v: string): string {
  if (!isDesignPath(v)) {
    try {
      designInfo(v);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  }
  return v;
}

/** Names and paths, comma-separated (--designs) or one per --design, gathered in order. */
function designArgs(v: string, before: string[] = []): string[] {
  const list = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new InvalidArgumentError('expected design names or module paths separated by commas');
  return [...before, ...list.map(designArg)];
}

/** Bad usage an action finds (a value commander could not check): one line on stderr, exit 2. */
class UsageError extends Error {}

function usage(command: string, flag: string, why: string): never {
  throw new UsageError(`mmsplit ${command}: ${flag}: ${why}`);
}

/** Loads the modules among `args`; a module that is not a design is bad usage. */
async function loadDesigns(command: string, args: string[]): Promise<string[]> {
  try {
    return await resolveDesigns(args);
  } catch (e) {
    if (!(e instanceof DesignDefinitionError)) throw e;
    return usage(command, '--design', e.message);
  }
}

function threadList(v: string): number[] {
  const ts = v.split(',').map((x) => Number(x.trim()));
  if (ts.some((t) => !Number.isInteger(t) || t < 1 || t > 1024)) throw new InvalidArgumentError('thread counts are integers from 1 to 1024, separated by commas');
  if (ts.some((t, i) => i > 0 && t <= ts[i - 1]!)) throw new InvalidArgumentError('thread counts must be ascending and distinct (e.g. 1,2,4,8)');
  return ts;
}

function nonNegativeSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds ≥ 0');
  return n;
}

const program = new Command()
  .name('mmsplit')
  .description(pkg.description)
  .version(pkg.version)
  // Bad usage: the one-line reason and where to look, not the whole help; exit 2 (0 success, 1 a finding,
  // 2 bad usage or input, as every command answers). The subcommands inherit both.
  .showHelpAfterError('(mmsplit COMMAND --help lists its options)')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

addReportOptions(
  program
    .command('demo')
    .description('a short demonstration: every synchronization primitive on real worker threads, checked and measured')
    .option('--duration <s>', 'seconds per primitive', seconds, 0.4),
).action(async (o: { duration: number; json?: boolean }) => {
  process.exitCode = await tortureCommand({ durationMs: o.duration * 1000, json: !!o.json });
});

addReportOptions(
  program
    .command('torture')
    .description('torture-test synchronization primitives on real worker threads (locktorture/rcutorture style)')
    .argument('[scenarios...]', 'scenarios to run (default: all): arena spinlock mutex rwsem rwsem-starvation rwsem-handoff seqcount rcu srcu')
    .option('--workers <n>', 'worker threads per scenario (default: the cores present, at least 2)', positiveInt)
    .option('--duration <s>', 'seconds per scenario', seconds, 5)
    .option('--seed <n>', 'seed for the random choices', positiveInt),
).action(async (scenarios: string[], o: { workers?: number; duration: number; seed?: number; json?: boolean }) => {
  process.exitCode = await tortureCommand({
    scenarios,
    durationMs: o.duration * 1000,
    json: !!o.json,
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  });
});

addReportOptions(
  program
    .command('bench')
    .description('the lab: run workloads under locking designs on real worker threads; write results JSON and an HTML report; print the summary')
    .option('--designs <list>', `designs, comma-separated: names (default: all built in: ${designNames().join(', ')}) or paths of design modules (./my-design.js)`, designArgs)
    .option('--design <name|file>', 'one more design, by name or module path (repeatable; with --designs, added to them)', designArgs)
    .option('--workloads <list>', `workloads, comma-separated, from ${WORKLOAD_NAMES.join(', ')} (default: ${LAB_DEFAULTS.workloads.join(', ')})`, nameList(WORKLOAD_NAMES, 'workload'))
    .option('--threads <list>', 'worker counts, comma-separated and ascending (default: 1 to the cores present)', threadList)
    .option('--duration <s>', 'seconds per measured repetition', seconds, LAB_DEFAULTS.durationMs / 1000)
    .option('--warmup <s>', 'seconds of unmeasured run before each point', nonNegativeSeconds, LAB_DEFAULTS.warmupMs / 1000)
    .option('--repetitions <n>', 'measured repetitions per point, over all its rounds (the median is reported)', positiveInt, LAB_DEFAULTS.repetitions)
    .option('--rounds <n>', 'separate runs a point\'s repetitions are split over, interleaved with the other points\' so that a slow spell of the machine falls on one of them (at most --repetitions)', positiveInt, LAB_DEFAULTS.rounds)
    .option('--reruns <n>', 're-runs a point may spend, over its rounds, on rounds whose workers were kept off their CPUs by other processes (0: never)', (v: string) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number');
      return Number(v);
    }, LAB_DEFAULTS.reruns)
    .option('--trace <file>', 'the strace log workload trace replays (strace -f -y -e trace=memory; default: a Python run shipped in test/fixtures)')
    .option('--out <dir>', 'folder to write results.json and index.html into', 'report'),
).action(async (o: { designs?: string[]; design?: string[]; workloads?: WorkloadName[]; threads?: number[]; duration: number; warmup: number; repetitions: number; rounds: number; reruns: number; trace?: string; out: string; json?: boolean }) => {
  const asked = [...(o.designs ?? []), ...(o.design ?? [])];
  const designs = asked.length > 0 ? await loadDesigns('bench', asked) : LAB_DEFAULTS.designs;
  const mutant = designs.find((d) => designInfo(d).mutantOf !== undefined);
  if (mutant !== undefined) {
    usage('bench', '--design', `${mutant} is a mutant of ${designInfo(mutant).mutantOf} (broken on purpose): the lab measures designs; check it with mmsplit check --design ${mutant}`);
  }
  const { benchCommand } = await import('./bench.js'); // the lab and the report load for this command only
  process.exitCode = await benchCommand({
    designs,
    workloads: o.workloads ?? LAB_DEFAULTS.workloads,
    workloadsGiven: o.workloads !== undefined,
    threads: o.threads ?? defaultThreads(),
    durationMs: o.duration * 1000,
    warmupMs: o.warmup * 1000,
    repetitions: o.repetitions,
    rounds: o.rounds,
    reruns: o.reruns,
    ...(o.trace !== undefined ? { trace: o.trace } : {}),
    out: o.out,
    json: !!o.json,
  });
});

function cpuList(v: string): number[] {
  const cs = v.split(',').map((x) => Number(x.trim()));
  if (cs.some((c) => !Number.isInteger(c) || c < 1 || c > 256)) throw new InvalidArgumentError('CPU counts are integers from 1 to 256, separated by commas');
  if (cs.some((c, i) => i > 0 && c <= cs[i - 1]!)) throw new InvalidArgumentError('CPU counts must be ascending and distinct (e.g. 1,2,4,8)');
  return cs;
}

function nonNegative(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected ${what} ≥ 0`);
    return n;
  };
}

addReportOptions(
  program
    .command('simulate')
    .description('the lab on a simulated machine of N CPUs: the real designs and workloads, run one thread at a time with a virtual clock per CPU, a cache-coherence model of every atomic, futex wake-ups and memory bandwidth (src/sim/); write results JSON (marked simulated) and an HTML report; print the summary')
    .option('--designs <list>', `designs, comma-separated: names or paths of design modules (default: ${SIM_DEFAULTS.designs.join(', ')})`, designArgs)
    .option('--design <name|file>', 'one more design, by name or module path (repeatable)', designArgs)
    .option('--workloads <list>', `workloads, comma-separated, from ${WORKLOAD_NAMES.join(', ')} (default: ${SIM_DEFAULTS.workloads.join(', ')})`, nameList(WORKLOAD_NAMES, 'workload'))
    .option('--cpus <list>', `simulated CPU counts, ascending, 1 to 256 (default: ${SIM_DEFAULTS.cpus.join(',')})`, cpuList)
    .option('--profile <name|file>', `the simulated machine: a built-in profile (${Object.keys(PROFILES).join(', ')}) or a profile JSON file`, SIM_DEFAULTS.profile)
    .option('--quantum <ns>', 'how far a CPU\'s virtual clock may run ahead of the next before it hands over (lax synchronisation), ns', nonNegative('a number of ns'), SIM_DEFAULTS.quantumNs)
    .option('--duration <ms>', 'virtual ms per sample', seconds, SIM_DEFAULTS.durationMs)
    .option('--warmup <ms>', `virtual ms of warm-up before a point's samples, from the instant every CPU's thread has done its first operation (their first mmaps may queue on the mmap_lock; at most ${SIM_DEFAULTS.startLimitMs} virtual ms is waited for it)`, nonNegative('a number of ms'), SIM_DEFAULTS.warmupMs)
    .option('--repetitions <n>', 'samples per point', positiveInt, SIM_DEFAULTS.repetitions)
    .option('--costs <file>', 'code-cost tables saved by --save-costs: reuse them instead of calibrating (the same tables, profile and options give the same results)')
    .option('--save-costs <file>', 'write the code-cost tables used to this file')
    .option('--trace <file>', 'the strace log workload trace replays (default: the Python run in test/fixtures)')
    .option('--beside <results>', 'measured results (the lab\'s results.json) to draw beside the simulated ones in the many-CPU chart')
    .option('--calibrate', 'measure this machine (cache-line transfer, futex wake-up, bandwidth) and print its profile as JSON; with --out FILE, write it there too')
    .option('--out <dir>', 'folder to write results.json and index.html into (with --calibrate: the profile file)'),
).action(async (o: { designs?: string[]; design?: string[]; workloads?: WorkloadName[]; cpus?: number[]; profile: string; quantum: number; duration: number; warmup: number; repetitions: number; costs?: string; saveCosts?: string; trace?: string; beside?: string; calibrate?: boolean; out?: string; json?: boolean }) => {
  const { simulateCommand, calibrateCommand } = await import('./simulate.js');
  if (o.calibrate) {
    process.exitCode = await calibrateCommand(o.out);
    return;
  }
  const asked = [...(o.designs ?? []), ...(o.design ?? [])];
  const designs = asked.length > 0 ? await loadDesigns('simulate', asked) : SIM_DEFAULTS.designs;
  process.exitCode = await simulateCommand({
    designs,
    workloads: o.workloads ?? SIM_DEFAULTS.workloads,
    cpus: o.cpus ?? SIM_DEFAULTS.cpus,
    profile: o.profile,
    quantumNs: o.quantum,
    durationMs: o.duration,
    warmupMs: o.warmup,
    repetitions: o.repetitions,
    ...(o.costs !== undefined ? { costs: o.costs } : {}),
    ...(o.saveCosts !== undefined ? { saveCosts: o.saveCosts } : {}),
    ...(o.trace !== undefined ? { trace: o.trace } : {}),
    ...(o.beside !== undefined ? { beside: o.beside } : {}),
    out: o.out ?? 'report-sim',
    json: !!o.json,
  });
});

addReportOptions(
  program
    .command('report')
    .description('render a saved lab results file as a self-contained HTML report with SVG charts, and print the summary')
    .argument('<results>', 'results JSON written by the lab or by mmsplit simulate (format: docs/results-format.md)')
    .argument('[beside]', 'a results file of the other kind (simulated beside measured, or measured beside simulated): drawn with it in the many-CPU chart')
    .option('--out <dir>', 'folder to write index.html and results.json (and simulated.json or measured.json) into', 'report'),
).action(async (file: string, beside: string | undefined, o: { out: string; json?: boolean }) => {
  // Loaded on demand, like bench: only these commands draw reports (vega itself loads in report/charts.ts).
  const { reportCommand } = await import('./report.js');
  process.exitCode = await reportCommand(file, { out: o.out, json: !!o.json, ...(beside !== undefined ? { beside } : {}) });
});

addReportOptions(
  program
    .command('replay')
    .description('replay an strace memory trace on the Linux-exact address space and check every result')
    .argument('<trace>', 'what strace -f -y -e trace=memory printed')
    .requiredOption('--maps <before>', '/proc/PID/maps snapshot taken just before the first call')
    .option('--expect <after>', '/proc/PID/maps snapshot after the last call, to compare with (dev and inode ignored)')
    .option('--mmap-base <addr>', 'mmap_base (default: inferred from the layout)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0 || n % 4096) throw new InvalidArgumentError('expected a page-aligned address (0x… or decimal)');
      return n;
    })
    .option('--brk <addr>', 'the program break before the first call (default: the end of [heap])', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an address');
      return n;
    })
    .option('--start-brk <addr>', 'start_brk, when BEFORE has no [heap] and brk was randomised', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an address');
      return n;
    })
    .option('--no-thp', 'no THP alignment of large anonymous mappings')
    .option('--no-file-thp', 'files are not placed by thp_get_unmapped_area (ext4/xfs on 6.18 are)')
    .option('--no-assume-written', 'private VMAs made writable during the trace are not taken to be written (memtrace\'s traces are not)')
    .option('--file-size <path=bytes...>', 'size of a mapped file (faults beyond its end fail)')
    .option('--html [dir]', 'also write a page that steps through the calls, the layout after each drawn (DIR/index.html, default replay/)'),
).action(async (trace: string, o: { maps: string; expect?: string; json?: boolean; mmapBase?: number; brk?: number; startBrk?: number; thp: boolean; fileThp: boolean; assumeWritten: boolean; fileSize?: string[]; html?: string | true }) => {
  const html = o.html === true ? 'replay' : o.html;
  if (html !== undefined) {
    // The page's folder is checked before the replay, as explore's is.
    const { prepareOutDir } = await import('../report/index.js');
    try {
      prepareOutDir(html);
    } catch (e) {
      usage('replay', '--html', (e as Error).message);
    }
  }
  process.exitCode = replayCommand(trace, { ...o, ...(html !== undefined ? { html } : { html: undefined }) });
});

addReportOptions(
  program
    .command('check')
    .description('explore thread interleavings of a design deterministically (pct, random, dfs) or on real cores (stress); catch violations and replay them by seed')
    .requiredOption('--design <name|file>', `a design (${designNames().join(', ')}), a mutant (${mutantNames().join(', ')}), or the path of a design module (./my-design.js: every design it exports)`, designArg)
    .option('--name <name>', 'with a design module: only this one of its designs, or one of their mutants')
    .option('--scenario <list>', `scenarios, comma-separated (default: all: ${CHECK_SCENARIOS.map((s) => s.name).join(', ')})`, nameList(CHECK_SCENARIOS.map((s) => s.name), 'scenario'))
    .option('--mode <mode>', `how to explore: ${CHECK_MODES.join(', ')}`, (v: string) => {
      if (!(CHECK_MODES as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown mode '${v}' (have: ${CHECK_MODES.join(', ')})`);
      return v as CheckMode;
    }, 'pct')
    .option('--runs <n>', 'schedules per scenario', positiveInt, 1000)
    .option('--seed <n>', 'where the runs\' seeds start', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError('expected an integer from 0 to 4294967295');
      return n;
    })
    .option('--time <s>', 'stop each scenario after this many seconds', seconds)
    .option('--depth <d>', 'pct: bug depth (d - 1 priority change points)', positiveInt, 3)
    .option('--preemptions <k>', 'dfs: preemptions per schedule', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
      return n;
    }, 2)
    .option('--replay <token>', 'run one schedule again, traced: the seed a failure printed (SEED:DECISION=THREAD,… for dfs)')
    .option('--coverage', 'after the runs, print which paths of the fault core and the VMA operations, which of the design\'s counters and which schedPoints they reached, and which they never did')
    .option('--program <text>', 'with --scenario generated: run this program (as a violation\'s replay command prints it) instead of drawing one per run')
    .option('--trace-lines <n>', 'lines of the interleaving to print, the last ones (0: all)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer ≥ 0');
      return n;
    }, 60)
    .option('--explore <dir>', 'on a violation, write the page that steps through it (as mmsplit explore does) into this folder'),
).action(async (o: { design: string; name?: string; program?: string; coverage?: boolean; scenario?: string[]; mode: CheckMode; runs: number; seed?: number; time?: number; depth: number; preemptions: number; replay?: string; traceLines: number; json?: boolean; explore?: string }) => {
  const { checkCommand } = await import('./check.js');
  if (o.explore !== undefined) {
    if (o.mode === 'stress') usage('check', '--explore', 'needs a deterministic mode (pct, random, dfs): stress runs cannot be replayed');
    const { prepareOutDir } = await import('../report/index.js');
    try {
      prepareOutDir(o.explore);
    } catch (e) {
      usage('check', '--explore', (e as Error).message);
    }
  }
  const loaded = await loadDesigns('check', [o.design]);
  let designs = loaded;
  if (o.name !== undefined) {
    const mine = [...loaded, ...mutantNames().filter((n) => loaded.includes(designInfo(n).mutantOf!))];
    if (!mine.includes(o.name)) usage('check', '--name', `'${o.name}' is not defined by ${o.design} (it defines: ${mine.join(', ')})`);
    designs = [o.name];
  } else if (designs.length > 1 && o.replay !== undefined) {
    usage('check', '--replay', `${o.design} defines ${designs.join(', ')}: say which with --name`);
  }
  let replay: ReturnType<typeof parseReplay> | undefined;
  try {
    replay = o.replay !== undefined ? parseReplay(o.replay, o.mode) : undefined;
  } catch (e) {
    usage('check', '--replay', (e as Error).message);
  }
  if (o.program !== undefined) {
    const support = o.scenario?.length === 1 ? checkScenario(o.scenario[0]!).program : undefined;
    if (!support) usage('check', '--program', 'needs --scenario generated (or generated-3), and no other');
    try {
      support.decode(o.program);
    } catch (e) {
      usage('check', '--program', (e as Error).message.replace(/^program: /, ''));
    }
  }
  let worst = 0;
  for (const design of designs) {
    const code = await checkCommand({
      design,
      ...(isDesignPath(o.design) ? { module: o.design } : {}),
      ...(o.program !== undefined ? { program: o.program } : {}),
      ...(o.coverage ? { coverage: true } : {}),
      ...(o.scenario ? { scenarios: o.scenario } : {}),
      mode: o.mode,
      runs: o.runs,
      seed: o.seed ?? seedFromEnv(),
      depth: o.depth,
      preemptions: o.preemptions,
      ...(o.time !== undefined ? { timeLimitMs: o.time * 1000 } : {}),
      ...(replay !== undefined ? { replay } : {}),
      traceLines: o.traceLines,
      json: !!o.json,
      ...(o.explore !== undefined ? { explore: o.explore } : {}),
    });
    worst = Math.max(worst, code);
  }
  process.exitCode = worst;
});

const EXPLORE_MODES = CHECK_MODES.filter((m) => m !== 'stress');

addReportOptions(
  program
    .command('explore')
    .description('record one schedule of a design as the checker replays it — a replay token\'s, a mutant\'s violation found by the search, or a design\'s first schedule — and write a page that steps through it: threads, VMAs, PTEs, locks')
    .requiredOption('--design <name|file>', `a design (${designNames().join(', ')}) or a mutant (${mutantNames().join(', ')}), or the path of a design module`, designArg)
    .option('--name <name>', 'with a design module: which of its designs or mutants')
    .option('--scenario <name>', `the scenario (default: a mutant's search tries every one in turn; a design's, the first): ${CHECK_SCENARIOS.map((s) => s.name).join(', ')}`, nameList(CHECK_SCENARIOS.map((s) => s.name), 'scenario'))
    .option('--replay <token>', 'the schedule a violation printed (needs --scenario)')
    .option('--mode <mode>', `how the schedule is chosen: ${EXPLORE_MODES.join(', ')}`, (v: string) => {
      if (!(EXPLORE_MODES as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown mode '${v}' (have: ${EXPLORE_MODES.join(', ')})`);
      return v as CheckMode;
    }, 'pct')
    .option('--seed <n>', 'where the search\'s seeds start', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError('expected an integer from 0 to 4294967295');
      return n;
    })
    .option('--runs <n>', 'a mutant\'s search: schedules per scenario', positiveInt, 1000)
    .option('--depth <d>', 'pct: bug depth (d - 1 priority change points)', positiveInt, 3)
    .option('--program <text>', 'with --scenario generated: run this program (as a violation\'s replay command prints it)')
    .option('--out <dir>', 'folder to write index.html into', 'explore')
    .option('--serve [port]', 'then serve the page on 127.0.0.1 (default port: a free one), print its URL, and run until Ctrl-C'),
).action(async (o: { design: string; name?: string; scenario?: string[]; replay?: string; mode: 'pct' | 'random' | 'dfs'; seed?: number; runs: number; depth: number; program?: string; out: string; json?: boolean; serve?: string | true }) => {
  // Checked here, before any schedule runs (a search can take a minute): 0 asks for a free port.
  let serve: number | undefined;
  if (o.serve !== undefined) {
    serve = o.serve === true ? 0 : /^\d+$/.test(o.serve) ? Number(o.serve) : NaN;
    if (!(serve >= 0 && serve <= 65535)) usage('explore', '--serve', `'${String(o.serve)}' is not a port (0 to 65535; 0 or none: a free one)`);
  }
  const loaded = await loadDesigns('explore', [o.design]);
  let design = loaded[0]!;
  if (o.name !== undefined) {
    const mine = [...loaded, ...mutantNames().filter((n) => loaded.includes(designInfo(n).mutantOf!))];
    if (!mine.includes(o.name)) usage('explore', '--name', `'${o.name}' is not defined by ${o.design} (it defines: ${mine.join(', ')})`);
    design = o.name;
  } else if (loaded.length > 1) usage('explore', '--design', `${o.design} defines ${loaded.join(', ')}: say which with --name`);
  if (o.scenario !== undefined && o.scenario.length !== 1) usage('explore', '--scenario', 'one scenario, not a list');
  const scenario = o.scenario?.[0];
  let token: ReturnType<typeof parseReplay> | undefined;
  if (o.replay !== undefined) {
    if (scenario === undefined) usage('explore', '--replay', 'needs --scenario (the one the violation names)');
    try {
      token = parseReplay(o.replay, o.mode);
    } catch (e) {
      usage('explore', '--replay', (e as Error).message);
    }
  }
  if (o.program !== undefined) {
    const support = scenario !== undefined ? checkScenario(scenario).program : undefined;
    if (!support) usage('explore', '--program', 'needs --scenario generated (or generated-3)');
    try {
      support.decode(o.program);
    } catch (e) {
      usage('explore', '--program', (e as Error).message.replace(/^program: /, ''));
    }
  }
  // The page's folder is checked before any schedule runs: a search can take a minute.
  const { prepareOutDir } = await import('../report/index.js');
  try {
    prepareOutDir(o.out);
  } catch (e) {
    usage('explore', '--out', (e as Error).message);
  }
  const { exploreCommand } = await import('./explore.js');
  process.exitCode = await exploreCommand({
    design, mode: o.mode, seed: o.seed ?? seedFromEnv(), depth: o.depth, runs: o.runs, out: o.out, json: !!o.json,
    ...(serve !== undefined ? { serve } : {}), ...(scenario !== undefined ? { scenario } : {}), ...(token !== undefined ? { token } : {}), ...(o.program !== undefined ? { program: o.program } : {}),
  });
});

program
  .command('new-design')
  .description('write a starting design (the mmap_lock baseline, commented step by step) and a test that checks it, into the current folder')
  .argument('<name>', 'the design\'s name: NAME.js (or NAME.ts) and NAME.test.mjs are written')
  .option('--ts', 'write it in TypeScript (type-checked against mmsplit\'s types when loaded)')
  .action(async (name: string, o: { ts?: boolean }) => {
    const { newDesignCommand } = await import('./new-design.js');
    process.exitCode = newDesignCommand(name, { ts: !!o.ts });
  });

program.parseAsync().catch((e: Error) => {
  if (e instanceof UsageError) {
    console.error(e.message);
    process.exitCode = 2;
    return;
  }
  console.error(`mmsplit: ${e.message}`);
  process.exitCode = 1;
});
