/**
 * The summary: for each headline workload and each design, the point at the most threads measured —
 * throughput with the samples' spread, how long the workers waited for a CPU (and whether the point was
 * disturbed), scaling against the fewest threads, churn kept %, ratio to mmap-lock, fallback rate. As rows
 * (for --json and the HTML table) and as an aligned plain-text table (for the terminal).
 */
import type { DesignName, Failure, LabResults, WorkloadName } from '../bench/results.js';
import {
  churnKeptPct,
  designsOf,
  failureNotes,
  findEntry,
  fmtPct,
  fmtRatio,
  fmtShare,
  fmtSpread,
  runWarnings,
  isBaseline,
  isDisturbed,
  maxThreads,
  minThreads,
  outcomeRates,
  scaling,
  throughput,
  throughputSpread,
  timesMmapLock,
  workloadsOf,
  type Spread,
} from './data.js';

export interface SummaryRow {
  workload: WorkloadName;
  design: DesignName;
  /** The most threads measured for this workload. */
  threads: number;
  /** Median ops/s (churn: faults/s of the fault workers); null where the design has no entry at `threads` or it failed. */
  opsPerSec: number | null;
  /** The samples' lowest and highest ops/s (same rate as opsPerSec); null where opsPerSec is. */
  spread: Spread | null;
  /** Median share of the workers' time spent waiting for a CPU (Entry.interference); null where not recorded. */
  runqueueShare: number | null;
  /** The runner marked the point disturbed: its figure measures the machine as much as the design. */
  disturbed: boolean;
  /** What stopped the point, when it failed (it then has no opsPerSec). */
  failure: Failure | null;
  /** opsPerSec over the same design's at `scalingBaseThreads`. */
  scaling: number | null;
  /** The fewest threads measured for this workload (1, or 2 for churn when it needs one of each worker). */
  scalingBaseThreads: number;
  /** churn only: % of the same design's churn-free fault throughput kept. */
  churnKeptPct: number | null;
  /** opsPerSec over mmap-lock's at the same workload and threads. */
  timesMmapLock: number | null;
  /** % of faults that fell back from the fast path; null for designs without one and workloads without faults. */
  fallbackPct: number | null;
  /** The design has no fast path (every fault takes the mmap_lock). */
  baseline: boolean;
}

/** Workloads the summary covers: the configured headline workloads, else every workload with entries. */
export function headlineWorkloads(r: LabResults): WorkloadName[] {
  const present = workloadsOf(r);
  const h = r.configuration.headlineWorkloads;
  return h ? h.filter((w) => present.includes(w)) : present;
}

export function summaryRows(r: LabResults): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const workload of headlineWorkloads(r)) {
    const threads = maxThreads(r, workload)!;
    const t0 = minThreads(r, workload)!;
    for (const design of designsOf(r)) {
      const e = findEntry(r, design, workload, threads);
      const rates = e ? outcomeRates(r, e) : undefined;
      const ok = e && !e.failure;
      rows.push({
        workload,
        design,
        threads,
        opsPerSec: ok ? throughput(e) : null,
        spread: (ok && throughputSpread(e)) || null,
        runqueueShare: e?.interference?.runqueueShare ?? null,
        disturbed: !!e && isDisturbed(e),
        failure: e?.failure ?? null,
        scaling: (e && scaling(r, e)) ?? null,
        scalingBaseThreads: t0,
        churnKeptPct: (e && churnKeptPct(e)) ?? null,
        timesMmapLock: (e && timesMmapLock(r, e)) ?? null,
        fallbackPct: rates ? rates.fallbackPct : null,
        baseline: isBaseline(r, design),
      });
    }
  }
  return rows;
}

export const SUMMARY_HEADERS = ['workload', 'design', 'threads', 'ops/s (min–max)', 'cpu wait', 'scaling', 'churn kept', '×mmap-lock', 'fallback'] as const;

/** Marks a disturbed point in tables, after its CPU wait; DISTURBED_LEGEND says what it means. */
export const DISTURBED_MARK = '!';
export const DISTURBED_LEGEND =
  `${DISTURBED_MARK} disturbed: even the least disturbed attempt's workers waited for a CPU that other processes held; ` +
  'its figures measure the machine as much as the design.';
/** What the columns that are not self-explanatory hold (the terminal prints it under the table, the HTML above). */
export const SUMMARY_LEGEND =
  'ops/s: median of the repetitions, the lowest and highest in brackets; cpu wait: share of the workers\' time spent ' +
  'runnable but waiting for a CPU (schedstat run delay, median over the repetitions)';

/**
 * A point's CPU wait as tables show it: the mark goes after the wait it explains, and a quiet point keeps the
 * mark's width so that the percentages line up.
 */
export function waitCell(runqueueShare: number | null, disturbed: boolean): string {
  return runqueueShare === null ? '—' : `${fmtShare(runqueueShare)} ${disturbed ? DISTURBED_MARK : ' '}`;
}

/** The cells of one summary row as the terminal and the HTML show them. */
export function summaryCells(row: SummaryRow): string[] {
  const na = row.opsPerSec === null;
  return [
    row.workload,
    row.design,
    String(row.threads),
    row.failure ? `failed (${row.failure.kind})` : na ? 'no data' : fmtSpread(row.opsPerSec!, row.spread ?? undefined),
    waitCell(row.runqueueShare, row.disturbed),
    row.scaling === null ? '—' : `${fmtRatio(row.scaling)}${row.scalingBaseThreads !== 1 ? ` (vs ${row.scalingBaseThreads})` : ''}`,
    row.workload === 'churn' && row.churnKeptPct !== null ? fmtPct(row.churnKeptPct) : '—',
    fmtRatio(row.timesMmapLock ?? undefined),
    row.fallbackPct !== null ? fmtPct(row.fallbackPct) : row.baseline && !na ? 'no fast path' : '—',
  ];
}

/** Left-align the text columns (workload, design), right-align the numbers; a blank line between workloads. */
function align(headers: readonly string[], groups: string[][][], leftColumns: number): string {
  const all = groups.flat();
  const widths = headers.map((h, i) => Math.max(h.length, ...all.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(headers), widths.map((w) => '-'.repeat(w)).join('  ')];
  groups.forEach((g, i) => {
    if (i > 0) out.push('');
    for (const r of g) out.push(line(r));
  });
  return out.join('\n');
}

/** One line saying what the table is: medians of how many repetitions, at how many threads, on what. */
export function summaryCaption(r: LabResults): string {
  const c = r.configuration;
  const m = r.machine;
  if (r.simulation) {
    return `SIMULATED on ${r.simulation.profile['name']} (${r.simulation.profile['cpus']} CPUs) — medians of ${c.repetitions} × ${c.durationMs} virtual ms at the most CPUs simulated; ` +
      `simulator ran on ${m.cores} cores, ${m.cpuModel}, Node ${m.node}`;
  }
  return (
    `${r.synthetic ? 'SYNTHETIC DATA (not a measurement) — ' : ''}` +
    `medians of ${c.repetitions} × ${c.durationMs / 1000} s${(c.rounds ?? 1) > 1 ? ` from ${c.rounds} runs apart in time` : ''} at the most threads measured; ` +
    `${m.cores} cores, ${m.cpuModel}, Node ${m.node}`
  );
}

/**
 * The terminal summary: a caption line, the aligned table, what its columns and marks mean, one line per
 * failed point, and at the end the warnings (runWarnings) when any point was disturbed or unstable.
 */
export function summaryTable(r: LabResults): string {
  const rows = summaryRows(r);
  const groups: string[][][] = [];
  for (const w of headlineWorkloads(r)) groups.push(rows.filter((x) => x.workload === w).map(summaryCells));
  const warnings = runWarnings(r);
  const after = [
    SUMMARY_LEGEND,
    ...(rows.some((x) => x.disturbed) ? [DISTURBED_LEGEND] : []),
    ...failureNotes(r),
    ...(warnings.length ? ['', ...warnings] : []),
  ];
  return `${summaryCaption(r)}\n\n${align(SUMMARY_HEADERS, groups, 2)}\n\n${after.join('\n')}`;
}
