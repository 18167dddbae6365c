// Shared benchmark plumbing: batch timing with medians, the machine description, table and JSON output.
import { cpuBetween, readCpu } from '../src/bench/cpu.js';
import { machineInfo } from '../src/bench/lab.js';
import type { Interference } from '../src/bench/results.js';
import { judgeInterference } from '../src/bench/runner.js';
import { fmtSpread } from '../src/report/data.js';
import { DISTURBED_MARK } from '../src/report/summary.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  v8: string;
}

/** The lab's machine description (src/bench/lab.ts), in the benches' shape. */
export function machine(): MachineInfo {
  const m = machineInfo();
  return { cpu: m.cpuModel, cores: m.cores, memoryGiB: Math.round(m.memoryBytes / 2 ** 30), os: `${m.os} ${m.arch}`, node: m.node, v8: m.v8 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/**
 * Times `batch()` — which runs `opsPerBatch` operations — `reps` times after a warm-up, and returns the
 * median nanoseconds per operation (one timer read per batch).
 */
export function medianNsPerOp(batch: () => unknown, opsPerBatch: number, reps = 11, what?: string): { median: number; samples: number[] } {
  batch(); // warm-up: let V8 optimize the loop
  batch();
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    batch();
    samples.push(Number(process.hrtime.bigint() - t0) / opsPerBatch);
  }
  if (what !== undefined) noteSpread(what, samples);
  return { median: median(samples), samples };
}

/** Times `loop(n)`, a function that runs the operation n times, in batches of n: median ns per operation. */
export function nsPerOp(loop: (n: number) => void, n: number, reps = 11, what?: string): { median: number; samples: number[] } {
  loop(Math.min(n, 50_000));
  return medianNsPerOp(() => loop(n), n, reps, what);
}

/** This process's main thread and the machine as the bench began (every bench imports this module first). */
const watchFrom = { cpu: readCpu([process.pid]), t: performance.now() };
/** The widest spread of the runs behind a median, of those a bench noted (noteSpread). */
let widest: { what: string; ratio: number } | undefined;

/** Notes the runs behind one of the bench's medians (`what` names it): runQuality() reports the widest. */
export function noteSpread(what: string, samples: readonly number[]): void {
  const lo = Math.min(...samples);
  const ratio = Math.max(...samples) / lo;
  if (lo > 0 && (widest === undefined || ratio > widest.ratio)) widest = { what, ratio };
}

/**
 * How far apart the runs behind the bench's medians lay (the widest, max / min), and how much the machine
 * took from its main thread since it began, by the lab's rule (judgeInterference: it waited for a CPU while
 * other processes kept the CPUs busy; undefined off Linux). For --json.
 */
export function runQuality(): { widestSpread?: { what: string; ratio: number }; interference?: Interference } {
  const now = performance.now();
  const cpu = cpuBetween(watchFrom.cpu, readCpu([process.pid]), now - watchFrom.t);
  const interference = cpu ? judgeInterference([{ samples: [{ elapsedMs: now - watchFrom.t, ops: 0, faults: 0, cpu }], workers: 1 }], 1) : undefined;
  return { ...(widest ? { widestSpread: widest } : {}), ...(interference ? { interference } : {}) };
}

/** The end of a bench's table output: runQuality() in words, a warning if the machine took the CPUs. */
export function printRunQuality(): void {
  const q = runQuality();
  if (q.widestSpread) console.log(`\nSpread: the runs behind each median lie within ${q.widestSpread.ratio.toFixed(2)}× of each other (the widest: ${q.widestSpread.what}).`);
  if (q.interference?.disturbed) console.log(`\nWarning: the machine was busy while this bench ran (${q.interference.reason}): its figures measure the machine as much as the code; run again on a quiet machine.`);
}

export function printTable(headers: string[], rows: (string | number)[][]): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) console.log(line(r));
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Math.abs(x) >= 1000) return x.toFixed(0);
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/**
 * A figure as the lab's summary prints one: the median, its runs' lowest and highest in brackets, and the
 * lab's mark when the machine took the CPUs from its workers — "1.50 M (1.45–1.55) !".
 */
export function figure(median: number, lo: number, hi: number, disturbed: boolean): string {
  return `${fmtSpread(median, { lo, hi })}${disturbed ? ` ${DISTURBED_MARK}` : ''}`;
}

/**
 * The closing warning of a bench some of whose `total` figures were disturbed, one line each (`disturbed`);
 * nothing if none. `marked`: its tables carry the lab's mark on them.
 */
export function printDisturbed(disturbed: readonly string[], total: number, marked = true): void {
  if (disturbed.length === 0) return;
  console.log(`\nWarning: ${disturbed.length} of ${total} figures${marked ? ` (marked ${DISTURBED_MARK})` : ''} were measured while other processes took the CPUs from the workers:`);
  for (const d of disturbed) console.log(`  ${d}`);
  console.log('They measure the machine as much as the designs: run again on a quiet machine (npm run bench:interference measures what such load does).');
}

export function printMachine(m: MachineInfo): void {
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, V8 ${m.v8}`);
}

export const wantsJson = process.argv.includes('--json');

const argv = process.argv.slice(2);

/**
 * Refuses a command line with anything `bench` does not take — an unknown flag, a flag of `withValue`
 * without its value — in one line naming it, exit 2: reading only the flags it knows, a bench asked for
 * one thing ran another without a word (`bench:fault --designs spf` ran every design). `--json` is every
 * bench's.
 */
export function checkFlags(bench: string, withValue: readonly string[]): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') continue;
    if (!withValue.includes(a)) {
      console.error(`${bench}: unknown ${a.startsWith('-') ? 'flag' : 'argument'} ${a} (it takes ${[...withValue, '--json'].join(', ')})`);
      process.exit(2);
    }
    const v = argv[++i];
    if (v === undefined || v.startsWith('--')) {
      console.error(`${bench}: ${a}: expected a value after it`);
      process.exit(2);
    }
  }
}

/** The value after flag `name` on the command line, if given. */
export function argValue(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/**
 * Flag `name`'s value as a number above 0 — with `whole`, a whole number — (else one line naming `bench`
 * and exit 2); `dflt` if absent.
 */
export function positiveArg(bench: string, name: string, dflt: number, whole = false): number {
  const v = argValue(name);
  if (v === undefined) return dflt;
  const x = Number(v);
  if (!(x > 0 && Number.isFinite(x)) || (whole && !Number.isInteger(x))) {
    console.error(`${bench}: ${name}: expected ${whole ? 'a whole number' : 'a number'} above 0, got ${v}`);
    process.exit(2);
  }
  return x;
}

/** Flag `name`'s comma-separated names, each one of `allowed` (else one line naming `bench` and exit 2); `dflt` if absent. */
export function namesArg<T extends string>(bench: string, name: string, allowed: readonly T[], dflt: readonly T[]): T[] {
  // Every occurrence counts (`--design a --design b` as `--design a,b`).
  const xs = argv.flatMap((a, i) => (argv[i - 1] === name ? a.split(',') : []));
  if (xs.length === 0) return [...dflt];
  const bad = xs.find((x) => !allowed.includes(x as T));
  if (bad !== undefined) {
    console.error(`${bench}: ${name}: unknown name ${bad} (one of ${allowed.join(', ')})`);
    process.exit(2);
  }
  return xs as T[];
}

/** Flag `name`'s comma-separated whole numbers (else one line and exit 2); `dflt` if absent. */
export function numbersArg(bench: string, name: string, dflt: number[]): number[] {
  const v = argValue(name);
  const xs = v === undefined ? dflt : v.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 0)) {
    console.error(`${bench}: ${name}: expected whole numbers, comma-separated`);
    process.exit(2);
  }
  return xs;
}
