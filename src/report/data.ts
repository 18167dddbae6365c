/**
 * What the report derives from a results file: points at the most threads, ratios against mmap-lock and
 * against one thread, churn kept %, fast-path outcome rates. Shared by the charts, the HTML and the summary.
 */
import { isDesign, REFERENCE_DESIGN } from '../designs/registry.js';
import {
  DESIGN_NAMES,
  designSummary,
  type DesignSummary,
  churnKeptPct,
  median,
  sampleRates,
  type DesignName,
  type Entry,
  type LabResults,
  type Sample,
  type WorkloadName,
} from '../bench/results.js';

/**
 * Tableau hues no built-in design uses: for a design a results file names but does not describe, and for
 * the one `mmsplit new-design` writes.
 */
export const SPARE_COLORS = ['#9c755f', '#edc948', '#ff9da7', '#bab0ac', '#86bcb6', '#d37295'];

/**
 * What the report shows of a design: from the results file (version 3 carries it for every design, loaded
 * ones included), else from the registry (a built-in design in an older file).
 */
export function designMeta(r: LabResults, d: DesignName): DesignSummary {
  const own = r.configuration.designInfo?.[d];
  if (own) return own;
  if (isDesign(d)) return designSummary(d);
  const k = r.configuration.designs.indexOf(d);
  return { summary: d, description: 'a design this mmsplit does not know', color: SPARE_COLORS[Math.max(0, k) % SPARE_COLORS.length]!, baseline: false };
}

/** What one operation is, per workload (the y axis of the throughput chart). */
export const WORKLOAD_UNITS: Record<WorkloadName, { ops: string; what: string }> = {
  page_fault1: { ops: 'faults/s', what: 'anonymous memory: touch each page' },
  page_fault2: { ops: 'faults/s', what: 'private file mapping: CoW faults' },
  page_fault3: { ops: 'faults/s', what: 'shared file mapping: page-cache faults' },
  mmap1: { ops: 'mmap+munmap/s', what: 'mmap + munmap, nothing touched' },
  mmap2: { ops: 'mmap+munmap/s', what: "mmap + munmap (will-it-scale's mmap2)" },
  churn: { ops: 'faults/s (fault workers)', what: 'faults vs mmap/munmap/mprotect elsewhere' },
  io: { ops: 'faults/s', what: 'page-cache misses that sleep on the read' },
  trace: { ops: 'trace events/s', what: "a real program's strace log replayed" },
  'vma-lookup': { ops: 'lookups/s', what: 'uprobe-style VMA lookups vs mmap/munmap/mprotect elsewhere' },
  'maps-read': { ops: 'maps reads/s', what: '/proc/PID/maps read whole while a thread unmaps and remaps pages' },
};

/** Designs in the results: the built-in ones in the registry's order, then the others as configured. */
export function designsOf(r: LabResults): DesignName[] {
  const ds = r.configuration.designs;
  return [...DESIGN_NAMES.filter((d) => ds.includes(d)), ...ds.filter((d) => !DESIGN_NAMES.includes(d))];
}

/** Workloads in the results' configured order that have at least one entry. */
export function workloadsOf(r: LabResults): WorkloadName[] {
  return r.configuration.workloads.filter((w) => r.entries.some((e) => e.workload === w));
}

export function isBaseline(r: LabResults, d: DesignName): boolean {
  return designMeta(r, d).baseline;
}

export function findEntry(r: LabResults, design: DesignName, workload: WorkloadName, threads: number): Entry | undefined {
  return r.entries.find((e) => e.design === design && e.workload === workload && e.threads === threads);
}

/** The most threads any design was measured at for a workload (undefined if no entry). */
export function maxThreads(r: LabResults, workload: WorkloadName): number | undefined {
  const ts = r.entries.filter((e) => e.workload === workload).map((e) => e.threads);
  return ts.length ? Math.max(...ts) : undefined;
}

/** The fewest threads any design was measured at for a workload (1 unless the workload needs more). */
export function minThreads(r: LabResults, workload: WorkloadName): number | undefined {
  const ts = r.entries.filter((e) => e.workload === workload).map((e) => e.threads);
  return ts.length ? Math.min(...ts) : undefined;
}

/** Total faults over the measured repetitions. */
export function totalFaults(e: Entry): number {
  return e.samples.reduce((a, s) => a + s.faults, 0);
}

export interface OutcomeRates {
  /** % of the counted faults completed on the fast path. */
  fastPathPct: number;
  /** Fast-path retries per 100 counted faults. */
  retryPct: number;
  /** % of the counted faults that fell back to the slower path. */
  fallbackPct: number;
  /** The counted faults (fastPath + fallback) as % of the samples' faults: 100 when both count the same window. */
  countedPct: number;
}

/**
 * Fast-path outcome rates of an entry, as shares of the faults the counters saw (fastPath + fallback: every
 * fault of a design with a fast path ends one way or the other), so that the shares add up to 100% even
 * when the counters' window is not the samples' (countedPct says by how much it differs). Undefined for
 * baselines (no fast path), failed points, and entries whose counters saw no fault.
 */
export function outcomeRates(r: LabResults, e: Entry): OutcomeRates | undefined {
  const c = e.counters;
  const counted = c.fastPath + c.fallback;
  const faults = totalFaults(e);
  if (isBaseline(r, e.design) || e.failure || counted === 0 || faults === 0) return undefined;
  return {
    fastPathPct: (c.fastPath / counted) * 100,
    retryPct: (c.retry / counted) * 100,
    fallbackPct: (c.fallback / counted) * 100,
    countedPct: (counted / faults) * 100,
  };
}

/** The runner marked the point: even its least disturbed attempt lost CPU to other processes. */
export function isDisturbed(e: Entry): boolean {
  return e.interference?.disturbed === true;
}

/**
 * The disturbed points, and what the machine did to them: medians over those points of the share of time
 * their workers waited for a CPU and of the CPUs other processes kept busy. Undefined for a quiet run.
 */
export function disturbance(r: LabResults): { points: number; runqueueShare: number; otherBusyCpus: number } | undefined {
  const hit = r.entries.flatMap((e) => (e.interference?.disturbed ? [e.interference] : []));
  if (!hit.length) return undefined;
  return { points: hit.length, runqueueShare: median(hit.map((i) => i.runqueueShare)), otherBusyCpus: median(hit.map((i) => i.otherBusyCpus)) };
}

/**
 * One line, the way pyperf and hyperfine warn, when any point was disturbed (undefined for a quiet run): how
 * many points, how long their workers waited for a CPU, how busy the rest of the machine kept it.
 */
export function interferenceWarning(r: LabResults): string | undefined {
  const d = disturbance(r);
  if (!d) return undefined;
  const reruns = r.configuration.reruns ?? 0;
  return (
    `WARNING: ${d.points} of ${r.entries.length} points were disturbed${reruns ? ` even after up to ${reruns} re-run${reruns === 1 ? '' : 's'}` : ''}: ` +
    `their workers waited for a CPU ${fmtShare(d.runqueueShare)} of the time (other processes kept ${d.otherBusyCpus.toFixed(1)} CPUs busy; medians over those points). ` +
    `Their figures measure the machine, not the design: re-run on a quiet machine (mmsplit bench --reruns N re-runs disturbed points).`
  );
}

/**
 * A point whose fastest sample ran more than this many times as fast as its slowest is unstable: its median
 * could have come out elsewhere. Samples of one run lie within ±5% of each other on a quiet machine; the
 * host here slows the whole machine down in spells (half speed for seconds, with every worker on its CPU),
 * and two workers that hand the CPU to each other (trace) vary by more from run to run.
 */
export const UNSTABLE_SPREAD = 1.5;

/** The points whose samples lie more than UNSTABLE_SPREAD apart (failed points are not measured). */
export function unstablePoints(r: LabResults): { entry: Entry; ratio: number }[] {
  return r.entries.flatMap((e) => {
    const s = throughputSpread(e);
    if (e.failure || !s || e.samples.length < 2 || !(s.lo > 0)) return [];
    const ratio = s.hi / s.lo;
    return ratio > UNSTABLE_SPREAD ? [{ entry: e, ratio }] : [];
  });
}

/**
 * One line, like pyperf's "the benchmark seems to be unstable", when any point's samples lie more than
 * UNSTABLE_SPREAD apart (undefined otherwise): how many, the worst, and what narrows them.
 */
export function instabilityWarning(r: LabResults): string | undefined {
  const u = unstablePoints(r);
  if (!u.length) return undefined;
  const worst = u.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  const w = worst.entry;
  const rounds = r.configuration.rounds ?? 1;
  return (
    `WARNING: ${u.length} of ${r.entries.length} points were unstable: their fastest sample ran more than ${UNSTABLE_SPREAD}× their slowest ` +
    `(worst ${w.design} ${w.workload} at ${w.threads} threads, ${worst.ratio.toFixed(1)}×). The machine's speed changed while they ran, or the workload ` +
    `is irregular; their medians are less certain than the others' (mmsplit bench --rounds N${rounds > 1 ? ` above ${rounds}` : ''} spreads more runs over time).`
  );
}

/**
 * One line when simulated points were sampled before every CPU's thread had done its first operation — it
 * did not come within simulation.startLimitMs (a thread starved from the start, say) — so that their
 * figures are of fewer CPUs at work than they say (undefined otherwise, and for measured results).
 */
export function unbegunWarning(r: LabResults): string | undefined {
  const limit = r.simulation?.startLimitMs;
  if (limit === undefined) return undefined;
  const late = r.entries.filter((e) => !e.failure && e.begunMs === undefined);
  if (!late.length) return undefined;
  const named = late.slice(0, 3).map((e) => `${e.design} ${e.workload} at ${e.threads} CPUs`).join(', ');
  return (
    `WARNING: ${late.length} of ${r.entries.length} simulated points were sampled before every CPU's thread had done its first operation ` +
    `(none came within ${limit} virtual ms: ${named}${late.length > 3 ? ', …' : ''}): some of their CPUs never ran the workload, so their figures ` +
    `are of fewer CPUs at work than they say. A thread that cannot begin is starved from the start: look at its locking (mmsplit check).`
  );
}

/** The warnings that end the summary and head the report: interference, instability, then simulated points sampled too early. */
export function runWarnings(r: LabResults): string[] {
  return [interferenceWarning(r), instabilityWarning(r), unbegunWarning(r)].filter((w): w is string => w !== undefined);
}

/** Per-sample throughput, the rate throughput() takes the median of. */
export function sampleThroughput(e: Entry, s: Sample): number {
  const r = sampleRates(s);
  return e.workload === 'churn' ? r.faultsPerSec : r.opsPerSec;
}

/** Lowest and highest of a point's per-sample rates: how far apart the repetitions behind a median lie. */
export interface Spread {
  lo: number;
  hi: number;
}

/** The spread of an entry's throughput; undefined when it has no samples. */
export function throughputSpread(e: Entry): Spread | undefined {
  if (!e.samples.length) return undefined;
  const xs = e.samples.map((s) => sampleThroughput(e, s));
  return { lo: Math.min(...xs), hi: Math.max(...xs) };
}

/** How a failed point is shown wherever a number would be: never its partial samples' rate. */
export function failedLabel(e: Entry): string {
  return `failed (${e.failure!.kind})`;
}

/** One line per failed point for notes under a table: which point, what stopped it, how far it got. */
export function failureNotes(r: LabResults): string[] {
  const reps = r.configuration.repetitions;
  return r.entries
    .filter((e) => e.failure)
    .map((e) => `${e.design} ${e.workload} at ${e.threads} threads failed (${e.failure!.kind}, after ${e.samples.length} of ${reps} repetitions): ${e.failure!.message}`);
}

/** The entry's throughput as compared across designs: faults/s for churn (its ops), ops/s otherwise. */
export function throughput(e: Entry): number {
  return e.workload === 'churn' ? e.median.faultsPerSec : e.median.opsPerSec;
}

/** Throughput relative to mmap-lock on the same workload and threads (none where either point failed). */
export function timesMmapLock(r: LabResults, e: Entry): number | undefined {
  const base = findEntry(r, REFERENCE_DESIGN, e.workload, e.threads);
  if (e.failure || !base || base.failure || !(throughput(base) > 0)) return undefined;
  return throughput(e) / throughput(base);
}

/** Throughput at this entry's threads over the same design's at the fewest threads measured (none if either failed). */
export function scaling(r: LabResults, e: Entry): number | undefined {
  const t0 = minThreads(r, e.workload);
  if (t0 === undefined) return undefined;
  const first = findEntry(r, e.design, e.workload, t0);
  if (e.failure || !first || first.failure || !(throughput(first) > 0)) return undefined;
  return throughput(e) / throughput(first);
}

export { churnKeptPct };

// ---------------------------------------------------------------------------------------------------------
// Number formatting shared by the HTML and the terminal

/** 1234567 → "1,234,567"; small non-integers keep two or three significant digits. */
export function fmtCount(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  if (Math.abs(x) >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** A percentage with precision that keeps small rates visible: 97.0%, 2.3%, 0.21%, 0.004%, <0.001%. */
export function fmtPct(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0%';
  const a = Math.abs(x);
  if (a >= 10) {
    // Never round a rate short of 100% up to "100.0%": 99.996% is not every fault.
    for (const d of [1, 2, 3]) if (x >= 100 || x.toFixed(d) !== '100.' + '0'.repeat(d)) return `${x.toFixed(d)}%`;
    return '>99.999%';
  }
  if (a >= 1) return `${x.toFixed(2)}%`;
  if (a >= 0.01) return `${x.toFixed(2)}%`;
  if (a >= 0.001) return `${x.toFixed(3)}%`;
  return '<0.001%';
}

/** 14.72 → "14.7×", 1.046 → "1.05×". */
export function fmtRatio(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`;
}

/** Microseconds with three significant digits: 5.62 µs, 72.4 µs, 2,610 µs. */
export function fmtUs(x: number): string {
  if (x >= 1000) return `${Math.round(x).toLocaleString('en-US')} µs`;
  return `${Number(x.toPrecision(3))} µs`;
}

/** The SI prefix a value is written with, and its divisor. */
function siPrefix(x: number): [number, string] {
  const a = Math.abs(x);
  if (a >= 1e9) return [1e9, ' G'];
  if (a >= 1e6) return [1e6, ' M'];
  if (a >= 1e3) return [1e3, ' k'];
  return [1, ''];
}

/** 1234567 → "1.23 M". */
export function fmtSi(x: number): string {
  const [div, prefix] = siPrefix(x);
  return `${(x / div).toPrecision(3)}${prefix}`;
}

/**
 * A median and its samples' range in the median's unit and precision: 2081234 (1951000–2130000) →
 * "2.08 M (1.95–2.13)". The range is what a reader needs to judge a difference between two medians.
 */
export function fmtSpread(x: number, s: Spread | undefined): string {
  const [div, prefix] = siPrefix(x);
  const m = Math.abs(x / div);
  const digits = m >= 100 ? 0 : m >= 10 ? 1 : 2;
  const f = (v: number) => (v / div).toFixed(digits);
  return `${f(x)}${prefix}${s ? ` (${f(s.lo)}–${f(s.hi)})` : ''}`;
}

/** A share (1 = all of it) as a short percentage: 0.413 → "41%", 0.0042 → "0.4%". */
export function fmtShare(x: number): string {
  const p = x * 100;
  return p >= 10 ? `${p.toFixed(0)}%` : `${p.toFixed(1)}%`;
}

export function fmtBytes(n: number): string {
  const gib = n / 2 ** 30;
  if (gib >= 1) return `${Number(gib.toPrecision(3))} GiB`;
  return `${Number((n / 2 ** 20).toPrecision(3))} MiB`;
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toPrecision(3))} s` : `${Number(ms.toPrecision(3))} ms`;
}

