/**
 * The report's charts (four for every results file, a fifth where a simulation is at hand) as vega-lite
 * specifications, compiled to vega and rendered to SVG strings in Node (no browser, no canvas: vega's headless 'none' renderer and its SVG string renderer). Every value is
 * inlined in the specification, so nothing is loaded from anywhere.
 *
 * vega and vega-lite are optional peer dependencies (25 MB of node_modules, which the library and the other
 * commands do without): they are imported here only, on first use, and a missing one is an answer
 * (chartsUnavailable), not an exception in the middle of a report.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { DesignName, Entry, LabResults, WorkloadName } from '../bench/results.js';
import { REFERENCE_DESIGN } from '../designs/registry.js';
import {
  designMeta,
  WORKLOAD_UNITS,
  churnKeptPct,
  designsOf,
  failedLabel,
  findEntry,
  fmtPct,
  fmtRatio,
  fmtSi,
  fmtUs,
  isBaseline,
  isDisturbed,
  maxThreads,
  outcomeRates,
  throughput,
  throughputSpread,
  timesMmapLock,
  totalFaults,
  workloadsOf,
} from './data.js';
import { DISTURBED_MARK, headlineWorkloads } from './summary.js';

export type ChartId = 'throughput' | 'churn' | 'munmap' | 'fastpath' | 'manycpus';

export interface ChartSpec {
  id: ChartId;
  /** The vega-lite specification, or null when the results hold nothing for this chart. */
  spec: TopLevelSpec | null;
  /** Why there is no chart, when spec is null. */
  missing?: string;
  /** Which workloads and thread counts the chart shows, for the caption. */
  shows: string;
  /** How to read the marks this chart's data needed (disturbed, failed, miscounted points), for the caption. */
  notes?: string[];
}

/** Helvetica's metrics, which Arial and Liberation Sans share: the widths the layout below is computed with. */
export const CHART_FONT = 'Helvetica, Arial, "Liberation Sans", sans-serif';
const FONT = CHART_FONT;
const INK = '#222';
const MUTED = '#555';
const TARGET = '#c0392b';

/** Shared look: readable sizes, light grids, titles anchored left. */
const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 8,
  view: { stroke: '#d0d0d0' },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 'normal' as const,
    titleColor: INK,
    labelColor: INK,
    gridColor: '#ececec',
    domainColor: '#999',
    tickColor: '#999',
  },
  legend: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 'bold' as const, symbolSize: 140, symbolStrokeWidth: 2.5, rowPadding: 5 },
  title: {
    fontSize: 14,
    fontWeight: 'bold' as const,
    anchor: 'start' as const,
    color: INK,
    subtitleFontSize: 11.5,
    subtitleColor: MUTED,
    subtitlePadding: 3,
    offset: 10,
  },
  concat: { spacing: 28 },
};

function colorScale(r: LabResults, designs: DesignName[]) {
  return { domain: designs, range: designs.map((d) => designMeta(r, d).color) };
}

function designColor(r: LabResults, designs: DesignName[], legend: 'right' | 'top' | null = 'right') {
  const top = { orient: 'top' as const, direction: 'horizontal' as const, title: null, columns: 8, columnPadding: 16, symbolType: 'stroke', symbolStrokeWidth: 3 };
  return {
    field: 'design',
    type: 'nominal' as const,
    scale: colorScale(r, designs),
    legend: legend === null ? null : legend === 'top' ? top : { title: 'design', orient: 'right' as const, symbolOpacity: 1 },
  };
}

/** y-axis labels in SI units, with a plain 0 at the origin (not "0M"). */
const SI_LABELS = "datum.value === 0 ? '0' : format(datum.value, '~s')";

const designAxis = (designs: DesignName[], labels = true) => ({
  field: 'design',
  type: 'nominal' as const,
  sort: designs,
  scale: { domain: designs },
  axis: labels ? { title: null, labelFontSize: 12, labelPadding: 6, ticks: false } : null,
});

/**
 * Disturbed points are drawn faded, and their labels carry the tables' mark: their figures measure the
 * machine as much as the design. Data rows say so in a boolean `disturbed`.
 */
const DISTURBED_OPACITY = 0.4;
const fadeDisturbed = (solid = 1) => ({ condition: { test: 'datum.disturbed', value: DISTURBED_OPACITY }, value: solid });
const marked = (label: string, e: Entry) => (isDisturbed(e) ? `${label} ${DISTURBED_MARK}` : label);

/** The caption line for a chart's disturbed points, when it draws any; `how` says how they look. */
function disturbedNote(entries: Entry[], how = `Faded marks and ${DISTURBED_MARK}`): string[] {
  const n = entries.filter(isDisturbed).length;
  return n ? [`${how}: ${n} disturbed point${n === 1 ? '' : 's'} (their workers waited for a CPU that other processes held).`] : [];
}

/** The caption line for a chart's failed points, when it has any; `how` says how they look. */
function failedNote(entries: Entry[], how = 'Labelled failed, no figure'): string[] {
  const failed = entries.filter((e) => e.failure);
  return failed.length ? [`${how}: ${failed.map((e) => `${e.design} ${e.workload} at ${e.threads} threads (${e.failure!.kind}: ${e.failure!.message})`).join('; ')}.`] : [];
}

/** Log-scale domain covering [lo, hi], widened to whole decades. */
function decades(lo: number, hi: number): [number, number] {
  const a = Math.pow(10, Math.floor(Math.log10(Math.max(lo, 1e-3))));
  const b = Math.pow(10, Math.ceil(Math.log10(Math.max(hi, a * 10))));
  return [a, b];
}

// ---------------------------------------------------------------------------------------------------------
// (a) throughput against threads, one panel per workload, one line per design

export function throughputSpec(r: LabResults): ChartSpec {
  const designs = designsOf(r);
  const workloads = workloadsOf(r);
  // A failed point has no throughput: it is drawn as a cross on the axis, never at its partial samples' rate.
  const values = r.entries.map((e) => {
    const spread = e.failure ? undefined : throughputSpread(e);
    return {
      design: e.design,
      workload: e.workload,
      threads: e.threads,
      value: e.failure ? null : throughput(e),
      lo: spread?.lo ?? null,
      hi: spread?.hi ?? null,
      disturbed: isDisturbed(e),
      failed: !!e.failure,
    };
  });
  const threads = [...new Set(r.entries.map((e) => e.threads))].sort((a, b) => a - b);
  // A little room beyond the fewest and most threads, so that the points there and their whiskers show whole.
  const EDGE = 2 ** 0.12;
  const lo = threads[0]!;
  const hi = threads[threads.length - 1]!;
  const x =
    hi > lo
      ? { field: 'threads', type: 'quantitative' as const, scale: { type: 'log' as const, base: 2, domain: [lo / EDGE, hi * EDGE], nice: false }, axis: { values: threads, format: 'd', title: 'threads', grid: true } }
      : { field: 'threads', type: 'quantitative' as const, scale: { domain: [0, hi + 1] }, axis: { values: threads, format: 'd', title: 'threads' } };
  const color = designColor(r, designs, 'top');
  const panel = (w: WorkloadName) => ({
    title: { text: w, subtitle: WORKLOAD_UNITS[w].what, limit: 250 },
    width: 212,
    height: 150,
    transform: [{ filter: { field: 'workload', equal: w } }],
    encoding: {
      x,
      y: { field: 'value', type: 'quantitative' as const, scale: { zero: true }, axis: { labelExpr: SI_LABELS, title: WORKLOAD_UNITS[w].ops, tickCount: 5 } },
      color,
    },
    layer: [
      // Whiskers: the lowest and highest repetition behind each median.
      {
        mark: { type: 'errorbar' as const, ticks: { size: 7 }, thickness: 1.5, clip: true },
        encoding: { y: { field: 'lo', type: 'quantitative' as const, title: WORKLOAD_UNITS[w].ops }, y2: { field: 'hi' }, opacity: fadeDisturbed(0.8) },
      },
      { mark: { type: 'line' as const, strokeWidth: 2, clip: true } },
      { mark: { type: 'point' as const, filled: true, size: 36, opacity: 1, clip: true } },
      // Disturbed points are hollowed by a white-filled ring over them (drawn, invisible, over every point, so
      // that no layer's data is empty): the line still runs through them, the eye sees which ones to doubt.
      { mark: { type: 'point' as const, filled: false, fill: 'white', size: 40, strokeWidth: 1.8, clip: true }, encoding: { opacity: { condition: { test: 'datum.disturbed', value: 1 }, value: 0 } } },
      {
        transform: [{ filter: 'datum.failed' }],
        // (invalid: null: vega-lite would drop these rows for the panel's y field, null for a failed point.)
        mark: { type: 'point' as const, shape: 'M-1,-1L1,1M1,-1L-1,1', filled: false, size: 70, strokeWidth: 2.2, opacity: 1, invalid: null },
        encoding: { y: { datum: 0 } },
      },
    ],
  });
  const spec = {
    config: CONFIG,
    data: { values },
    columns: Math.min(4, workloads.length),
    concat: workloads.map(panel),
  } as unknown as TopLevelSpec;
  const notes = [
    'Each point is a median; whiskers span the lowest and highest repetition.',
    ...disturbedNote(r.entries, 'Hollow points'),
    ...failedNote(r.entries, '✕ on the axis, no figure: failed'),
  ];
  return { id: 'throughput', spec, shows: `every workload, ${threads.join(', ')} threads`, notes };
}

// ---------------------------------------------------------------------------------------------------------
// (b) the cost of churn: kept % of churn-free throughput, and faults/s with churn against mmap-lock

export function churnSpec(r: LabResults): ChartSpec {
  const T = maxThreads(r, 'churn');
  if (T === undefined) return { id: 'churn', spec: null, missing: 'The results hold no churn entries.', shows: '' };
  const designs = designsOf(r);
  const shown = designs.flatMap((d) => findEntry(r, d, 'churn', T) ?? []);
  const base = findEntry(r, REFERENCE_DESIGN, 'churn', T);
  const rows = shown.map((e) => {
    if (e.failure || !e.churn) return { design: e.design, kept: null, keptLo: null, keptHi: null, keptAt: 0, keptLabel: failedLabel(e), x: null, xLo: null, xHi: null, xAt: 1, xLabel: failedLabel(e), disturbed: isDisturbed(e) };
    const kept = churnKeptPct(e);
    const x = timesMmapLock(r, e);
    // Whiskers: the repetitions' lowest and highest rate over the same denominator as the bar, a median
    // (the churn-free run's, mmap-lock's), whose own spread is not folded in.
    const s = throughputSpread(e);
    const over = (d: number | undefined, k: number) => (s && d && d > 0 ? { lo: (s.lo / d) * k, hi: (s.hi / d) * k } : undefined);
    const keptRange = over(e.churn.baselineFaultsPerSec, 100);
    const xRange = x === undefined ? undefined : over(throughput(base!), 1);
    return {
      design: e.design,
      kept: kept ?? null,
      keptLo: keptRange?.lo ?? null,
      keptHi: keptRange?.hi ?? null,
      keptAt: Math.max(kept ?? 0, keptRange?.hi ?? 0),
      keptLabel: marked(fmtPct(kept), e),
      x: x ?? null,
      xLo: xRange?.lo ?? null,
      xHi: xRange?.hi ?? null,
      xAt: x === undefined ? null : Math.max(x, xRange?.hi ?? 0, 1),
      xLabel: marked(`${fmtRatio(x)}  ${fmtSi(throughput(e))}/s`, e),
      disturbed: isDisturbed(e),
    };
  });
  // (A churn point that failed before its baseline has no churn object; one that has it tells the split.)
  const split = shown.find((e) => e.churn)?.churn;
  const height = rows.length * 24;
  const maxKept = Math.max(100, ...rows.map((x) => x.keptHi ?? x.kept ?? 0));
  /** A dashed goal line with its label above the plot, drawn under the bars. */
  const goal = (v: number, label: string) => ({
    data: { values: [{ v, label }] },
    layer: [
      { mark: { type: 'rule' as const, color: TARGET, strokeDash: [5, 3], strokeWidth: 1.5 }, encoding: { x: { field: 'v', type: 'quantitative' as const } } },
      {
        mark: { type: 'text' as const, color: TARGET, align: 'right' as const, baseline: 'bottom' as const, dx: -3, y: -2, fontSize: 11 },
        encoding: { x: { field: 'v', type: 'quantitative' as const }, text: { field: 'label' } },
      },
    ],
  });
  /** The bar, its whisker and its label for one panel's fields. */
  const bars = (field: string, x: Record<string, unknown>, extra: Record<string, unknown> = {}) => [
    { mark: { type: 'bar' as const, height: 16 }, encoding: { y: designAxis(designs), x: { field, ...x }, ...extra, color: designColor(r, designs), opacity: fadeDisturbed() } },
    {
      mark: { type: 'rule' as const, color: INK, strokeWidth: 1.5 },
      encoding: { y: designAxis(designs), x: { field: `${field}Lo`, type: 'quantitative' as const }, x2: { field: `${field}Hi` }, opacity: fadeDisturbed(0.8) },
    },
    {
      mark: { type: 'text' as const, align: 'left' as const, dx: 5, fontSize: 11.5, color: INK },
      encoding: { y: designAxis(designs), x: { field: `${field}At`, type: 'quantitative' as const }, text: { field: `${field}Label` } },
    },
  ];
  const keptPanel = {
    title: { text: 'Fault throughput kept under churn', subtitle: 'faults/s with churn workers, as % of the same design without them' },
    width: 300,
    height,
    layer: [
      goal(90, '90%'),
      ...bars('kept', { type: 'quantitative' as const, scale: { domain: [0, Math.ceil((maxKept * 1.18) / 10) * 10] }, axis: { title: '% of churn-free faults/s', values: [0, 20, 40, 60, 80, 100] } }),
    ],
  };
  const xs = rows.flatMap((x) => [x.x, x.xLo, x.xHi]).filter((x): x is number => x !== null && x > 0);
  const panels: unknown[] = [keptPanel];
  if (xs.length) {
    const [lo, hi] = decades(Math.min(0.5, ...xs), Math.max(...xs) * 6);
    panels.push({
      title: { text: 'Faults/s under churn, against mmap-lock', subtitle: '× mmap-lock at the same threads (log scale); label: ratio and faults/s' },
      width: 330,
      height,
      layer: [
        goal(5, '5×'),
        ...bars(
          'x',
          { type: 'quantitative' as const, scale: { type: 'log' as const, domain: [lo, hi] }, axis: { title: '× mmap-lock faults/s (log scale; bars start at 1×)', format: '~g' } },
          { x2: { datum: 1 } },
        ),
      ],
    });
  }
  const spec = { config: CONFIG, data: { values: rows }, hconcat: panels } as unknown as TopLevelSpec;
  const notes = ['Bars are medians; whiskers span the lowest and highest repetition over the same denominator.', ...disturbedNote(shown), ...failedNote(shown)];
  return { id: 'churn', spec, shows: `churn at ${T} threads${split ? `: ${split.faultWorkers} fault + ${split.churnWorkers} churn workers` : ''}`, notes };
}

// ---------------------------------------------------------------------------------------------------------
// (c) munmap latency percentiles per design, log scale

/**
 * Workloads whose munmaps are about the locking (small regions) come first — maps-read's first of all (its
 * munmaps are the updates that /proc/PID/maps readers hold up, the figure of 6.17's series), then io's: its
 * munmaps happen while faults sleep for I/O, where synchronize_srcu() has to wait them out; page_fault* zap
 * 128 MiB.
 */
const MUNMAP_PREFERENCE: WorkloadName[] = ['maps-read', 'io', 'churn', 'vma-lookup', 'mmap1', 'mmap2', 'trace', 'page_fault1', 'page_fault2', 'page_fault3'];

/** A latency the chart may draw: a failed point's percentiles are of its partial run, and it is labelled failed. */
const hasLatency = (e: Entry) => !!e.munmapLatencyUs && !e.failure;

export function munmapWorkloads(r: LabResults): WorkloadName[] {
  const have = (w: WorkloadName) => r.entries.some((e) => e.workload === w && hasLatency(e));
  const small = MUNMAP_PREFERENCE.filter((w) => have(w) && !w.startsWith('page_fault'));
  return (small.length ? small : MUNMAP_PREFERENCE.filter(have)).slice(0, 4);
}

export function munmapSpec(r: LabResults): ChartSpec {
  const workloads = munmapWorkloads(r);
  if (!workloads.length) return { id: 'munmap', spec: null, missing: 'No entry carries munmap latency.', shows: '' };
  const designs = designsOf(r);
  const ranges: Record<string, unknown>[] = [];
  const points: Record<string, unknown>[] = [];
  const shown: string[] = [];
  const drawn: Entry[] = [];
  for (const w of workloads) {
    const T = Math.max(...r.entries.filter((e) => e.workload === w && hasLatency(e)).map((e) => e.threads));
    shown.push(`${w} at ${T} threads`);
    for (const d of designs) {
      const e = findEntry(r, d, w, T);
      if (!e || !(e.munmapLatencyUs || e.failure)) continue;
      drawn.push(e);
      const disturbed = isDisturbed(e);
      const l = e.munmapLatencyUs;
      if (!l || e.failure) {
        ranges.push({ workload: w, design: d, lo: null, hi: null, label: failedLabel(e), disturbed });
        continue;
      }
      ranges.push({ workload: w, design: d, lo: l.p50, hi: l.max, label: marked(`p50 ${fmtUs(l.p50)} · p99 ${fmtUs(l.p99)}`, e), disturbed });
      for (const p of ['p50', 'p90', 'p99', 'max'] as const) points.push({ workload: w, design: d, percentile: p, us: l[p], disturbed });
    }
  }
  const all = points.map((p) => p['us'] as number).filter((x) => x > 0);
  const [lo, hi] = decades(Math.min(...all), Math.max(...all));
  const plotWidth = 560;
  const x = (field: string) => ({
    field,
    type: 'quantitative' as const,
    scale: { type: 'log' as const, domain: [lo, hi] },
    axis: { title: 'munmap() latency, µs (log scale)', format: '~s', grid: true },
  });
  const panel = (w: WorkloadName) => {
    const ds = designs.filter((d) => ranges.some((g) => g['workload'] === w && g['design'] === d));
    return {
      title: { text: shown[workloads.indexOf(w)]!, subtitle: WORKLOAD_UNITS[w].what },
      width: plotWidth,
      height: ds.length * 22,
      layer: [
        {
          data: { values: ranges },
          transform: [{ filter: { field: 'workload', equal: w } }],
          mark: { type: 'rule' as const, strokeWidth: 2.5 },
          encoding: { y: designAxis(ds), x: x('lo'), x2: { field: 'hi' }, color: designColor(r, designs), opacity: fadeDisturbed(0.6) },
        },
        {
          data: { values: points },
          transform: [{ filter: { field: 'workload', equal: w } }],
          mark: { type: 'point' as const, filled: true, size: 80, opacity: 1, stroke: 'white', strokeWidth: 0.8 },
          encoding: {
            y: designAxis(ds),
            x: x('us'),
            color: designColor(r, designs),
            opacity: fadeDisturbed(),
            shape: {
              field: 'percentile',
              type: 'nominal' as const,
              scale: { domain: ['p50', 'p90', 'p99', 'max'], range: ['circle', 'square', 'diamond', 'triangle-right'] },
              legend: { title: 'percentile', orient: 'right' as const, symbolFillColor: MUTED, symbolStrokeColor: MUTED },
            },
          },
        },
        {
          data: { values: ranges },
          transform: [{ filter: { field: 'workload', equal: w } }],
          mark: { type: 'text' as const, align: 'left' as const, fontSize: 11, color: INK },
          encoding: { y: designAxis(ds), x: { value: plotWidth + 12 }, text: { field: 'label' } },
        },
      ],
    };
  };
  const spec = { config: CONFIG, vconcat: workloads.map(panel) } as unknown as TopLevelSpec;
  return { id: 'munmap', spec, shows: shown.join('; '), notes: [...disturbedNote(drawn), ...failedNote(drawn)] };
}

// ---------------------------------------------------------------------------------------------------------
// (d) fast path / retry / fallback per design

/**
 * The shares are of the faults the counters saw (fastPath + fallback: a fault of a design with a fast path
 * ends one way or the other), so that fast path and fell back add up to 100% whatever window the counters
 * covered; the caption says where that window's faults differ from the samples'.
 */
const OUTCOMES = [
  { key: 'fastPathPct', title: 'fast path', subtitle: '% of counted faults (vma_lock_success)', axis: '% of counted faults' },
  { key: 'retryPct', title: 'retried', subtitle: 'per 100 counted faults (vma_lock_retry)', axis: 'per 100 counted faults' },
  { key: 'fallbackPct', title: 'fell back', subtitle: '% of counted faults (abort + miss)', axis: '% of counted faults' },
] as const;

/**
 * Each rate panel is RATE_PANEL px wide and its bars span at most RATE_BARS of it: the labels beside the
 * bars fit in the rest, inside the panel, so that neither they nor the bars set the chart's width — the grid
 * is as wide for 3 designs as for 8, for one workload as for all, whatever the counters say.
 */
const RATE_PANEL = 210;
const RATE_BARS = 150;

/** Counted and sampled faults may differ by this much (%) before the caption says so. */
const COUNTED_TOLERANCE_PCT = 2;

/** Workloads for the fast-path chart: the headline workloads that fault, else every workload that faults. */
export function fastPathWorkloads(r: LabResults): WorkloadName[] {
  const faults = (w: WorkloadName) => r.entries.some((e) => e.workload === w && totalFaults(e) > 0);
  const h = headlineWorkloads(r).filter(faults);
  return h.length ? h : workloadsOf(r).filter(faults);
}

/**
 * The upper end of a rate axis: 100 for the shares, which cannot exceed it; for retries, which can (a fault
 * may retry many times), a nice bound above the largest, so that no bar runs past its panel — vega would
 * widen the whole chart to make room for it.
 */
function rateMax(values: number[], key: (typeof OUTCOMES)[number]['key']): number {
  if (key !== 'retryPct') return 100;
  const m = Math.max(0, ...values);
  if (m <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(m)));
  return [1, 2, 2.5, 5, 10].find((k) => k * p >= m * 1.0001)! * p;
}

export function fastPathSpec(r: LabResults): ChartSpec {
  const workloads = fastPathWorkloads(r);
  if (!workloads.length) return { id: 'fastpath', spec: null, missing: 'No entry handled a page fault.', shows: '' };
  const designs = designsOf(r);
  const shown: string[] = [];
  const entries: Entry[] = [];
  const rows = workloads.map((w) => {
    const T = maxThreads(r, w)!;
    shown.push(`${w} at ${T} threads`);
    const data = designs.flatMap((d) => findEntry(r, d, w, T) ?? []);
    entries.push(...data);
    const cells = OUTCOMES.map((o, i) => {
      const values = data.map((e) => {
        const rates = outcomeRates(r, e);
        const first = i === 0;
        const label = e.failure
          ? first ? failedLabel(e) : ''
          : rates ? marked(fmtPct(rates[o.key]), e)
          : isBaseline(r, e.design) ? (first ? 'none: every fault takes mmap_lock' : '')
          : 'no faults counted';
        return { design: e.design, v: rates ? rates[o.key] : 0, label, disturbed: isDisturbed(e) };
      });
      const x = { field: 'v', type: 'quantitative' as const, scale: { domain: [0, rateMax(values.map((v) => v.v), o.key)], range: [0, RATE_BARS], nice: false } };
      return {
        title: { text: i === 0 ? `${w} · ${o.title}` : o.title, subtitle: o.subtitle },
        width: RATE_PANEL,
        height: data.length * 20,
        data: { values },
        encoding: { y: designAxis(designs, i === 0) },
        layer: [
          {
            mark: { type: 'bar' as const, height: 14 },
            encoding: { x: { ...x, axis: { title: o.axis, tickCount: 4 } }, color: designColor(r, designs, null), opacity: fadeDisturbed() },
          },
          { mark: { type: 'text' as const, align: 'left' as const, dx: 4, fontSize: 11, color: INK }, encoding: { x, text: { field: 'label' } } },
        ],
      };
    });
    return cells;
  });
  const miscounted = entries.flatMap((e) => {
    const c = outcomeRates(r, e)?.countedPct;
    return c !== undefined && Math.abs(c - 100) > COUNTED_TOLERANCE_PCT ? [c] : [];
  });
  const notes = [
    ...(miscounted.length
      ? [
          `At ${miscounted.length} point${miscounted.length === 1 ? '' : 's'} the counters saw ${fmtPct(Math.min(...miscounted))}` +
            `${miscounted.length > 1 ? `–${fmtPct(Math.max(...miscounted))}` : ''} of the faults the samples counted ` +
            '(they should count the same window and workers): shares there are of what the counters saw.',
        ]
      : []),
    ...disturbedNote(entries),
    ...failedNote(entries),
  ];
  // One grid, so the three columns line up from row to row; its width depends on neither designs nor workloads.
  const spec = { config: CONFIG, columns: OUTCOMES.length, concat: rows.flat(), spacing: { row: 30, column: 24 } } as unknown as TopLevelSpec;
  return { id: 'fastpath', spec, shows: shown.join('; '), notes };
}

// ---------------------------------------------------------------------------------------------------------
// (e) many CPUs: simulated throughput, × mmap-lock and fallback against CPUs, measured points beside them

/** The many-CPU chart's workloads, first of all those the thread's argument is about. */
const MANY_CPU_PREFERENCE: WorkloadName[] = ['page_fault1', 'churn'];

/** How the two sources are told apart in every panel: solid and filled for simulated, dashed and hollow for measured. */
const SOURCES = ['simulated', 'measured'] as const;

export function manyCpusSpec(simulated: LabResults, measured?: LabResults): ChartSpec {
  const ws = workloadsOf(simulated);
  const workloads = [...MANY_CPU_PREFERENCE.filter((w) => ws.includes(w)), ...ws.filter((w) => !MANY_CPU_PREFERENCE.includes(w))];
  // Measured points are drawn for the simulated designs only: each is there to be set against its simulation.
  const designs = designsOf(simulated);
  const sources = measured ? [{ source: SOURCES[0], r: simulated }, { source: SOURCES[1], r: measured }] : [{ source: SOURCES[0], r: simulated }];
  const entries: Entry[] = [];
  const values = sources.flatMap(({ source, r }) =>
    r.entries
      .filter((e) => workloads.includes(e.workload) && designs.includes(e.design))
      .map((e) => {
        entries.push(e);
        const spread = e.failure ? undefined : throughputSpread(e);
        const rates = outcomeRates(r, e);
        return {
          source,
          design: e.design,
          workload: e.workload,
          cpus: e.threads,
          value: e.failure ? null : throughput(e),
          lo: spread?.lo ?? null,
          hi: spread?.hi ?? null,
          x: timesMmapLock(r, e) ?? null,
          fallback: rates ? rates.fallbackPct : null,
          disturbed: isDisturbed(e),
        };
      }),
  );
  const cpus = [...new Set(values.map((v) => v.cpus))].sort((a, b) => a - b);
  const EDGE = 2 ** 0.15;
  const lo = cpus[0]!;
  const hi = cpus[cpus.length - 1]!;
  const x = {
    field: 'cpus',
    type: 'quantitative' as const,
    scale: hi > lo ? { type: 'log' as const, base: 2, domain: [lo / EDGE, hi * EDGE], nice: false } : { domain: [0, hi + 1] },
    axis: { values: cpus, format: 'd', title: 'CPUs (simulated) · threads (measured)', grid: true },
  };
  // The legends of the first panel serve the whole chart: the designs' colours, and the sources' strokes.
  const strokeDash = (legend: boolean) => ({
    field: 'source',
    type: 'nominal' as const,
    scale: { domain: [...SOURCES], range: [[1, 0], [5, 3]] },
    legend: legend && measured ? { orient: 'top' as const, direction: 'horizontal' as const, title: null, symbolType: 'stroke', symbolStrokeColor: INK } : null,
  });
  /** One line per design and source through `y`'s points, hollow squares for the measured ones. */
  const lines = (y: Record<string, unknown>, legend: boolean, whiskers: boolean) =>
    [
      ...(whiskers ? [{ mark: { type: 'errorbar' as const, ticks: { size: 6 }, thickness: 1.3, clip: true }, encoding: { y: { field: 'lo', type: 'quantitative' as const, axis: y['axis'] }, y2: { field: 'hi' }, opacity: fadeDisturbed(0.7) } }] : []),
      { mark: { type: 'line' as const, strokeWidth: 2, clip: true }, encoding: { strokeDash: strokeDash(legend) } },
      { transform: [{ filter: { field: 'source', equal: SOURCES[0] } }], mark: { type: 'point' as const, filled: true, size: 30, clip: true }, encoding: { opacity: fadeDisturbed() } },
      { transform: [{ filter: { field: 'source', equal: SOURCES[1] } }], mark: { type: 'point' as const, shape: 'square', filled: false, fill: 'white', size: 42, strokeWidth: 1.8, clip: true }, encoding: { opacity: fadeDisturbed() } },
    ].map((layer) => ({ ...layer, encoding: { x, y: { type: 'quantitative' as const, ...y }, color: designColor(simulated, designs, legend ? 'top' : null), ...layer.encoding } }));
  const xs = values.flatMap((v) => (v.x !== null && v.x > 0 ? [v.x] : []));
  const timesScale = { type: 'log' as const, domain: decades(Math.min(0.5, ...xs), Math.max(2, ...xs) * 1.5) };
  const panel = (w: WorkloadName, title: string, subtitle: string, filter: string, layer: unknown[]) => ({
    title: { text: title, subtitle, limit: 260 },
    width: 230,
    height: 160,
    transform: [{ filter: { field: 'workload', equal: w } }, { filter }],
    layer,
  });
  const has = (w: WorkloadName, field: 'x' | 'fallback') => values.some((v) => v.workload === w && v[field] !== null);
  // A row per workload; a panel only where some point has its figure (no × mmap-lock without mmap-lock, no
  // fallback for the baselines alone).
  const rows = workloads.map((w, row) => ({
    hconcat: [
      panel(w, w, `${WORKLOAD_UNITS[w].ops} against CPUs`, 'datum.value !== null', lines({ field: 'value', scale: { zero: true }, axis: { labelExpr: SI_LABELS, title: WORKLOAD_UNITS[w].ops, tickCount: 5 } }, row === 0, true)),
      ...(has(w, 'x')
        ? [
            panel(w, `${w} · × ${REFERENCE_DESIGN}`, `over ${REFERENCE_DESIGN}'s rate at the same CPUs (log)`, 'datum.x !== null && datum.x > 0', [
              // The thread's goal for faults under churn: 5× the baseline.
              ...(w === 'churn' ? [{ data: { values: [{ v: 5 }] }, mark: { type: 'rule' as const, color: TARGET, strokeDash: [5, 3], strokeWidth: 1.3 }, encoding: { y: { field: 'v', type: 'quantitative' as const, scale: timesScale } } }] : []),
              ...lines({ field: 'x', scale: timesScale, axis: { title: `× ${REFERENCE_DESIGN}`, format: '~g' } }, false, false),
            ]),
          ]
        : []),
      ...(has(w, 'fallback') ? [panel(w, `${w} · fell back`, '% of counted faults that left the fast path', 'datum.fallback !== null', lines({ field: 'fallback', scale: { zero: true }, axis: { title: '% of counted faults', tickCount: 5 } }, false, false))] : []),
    ],
  }));
  const spec = { config: CONFIG, data: { values }, vconcat: rows } as unknown as TopLevelSpec;
  const p = simulated.simulation!.profile;
  const notes = [
    `Solid lines and filled points: simulated on ${String(p['name'])} (${String(p['cpus'])} CPUs), per virtual second; whiskers span the lowest and highest sample.`,
    ...(measured
      ? [`Dashed lines and hollow squares: measured on ${measured.machine.cpuModel} (${measured.machine.cores} cores), per second, at its worker threads.`]
      : ['No measured results beside them (mmsplit report MEASURED.json SIMULATED.json draws both).']),
    ...disturbedNote(entries, 'Faded marks'),
    ...failedNote(entries, 'Not drawn'),
  ];
  return { id: 'manycpus', spec, shows: `${workloads.join(', ')} at ${cpus.join(', ')} CPUs`, notes };
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

/* Helvetica advance widths (per 1000 em) for ASCII 32..126, from its AFM; Arial and Liberation Sans match. */
const HELVETICA = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556,
  556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
  667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556,
  556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];
const OTHER: Record<string, number> = { 'µ': 556, '×': 584, '·': 278, '—': 1000, '–': 556, '≥': 549, '≤': 549, '…': 1000 };

/**
 * Text width as vega lays it out. Without a canvas, vega guesses 0.8 em per character, which is far too wide
 * for labels and titles and spreads every chart out; this uses the font's real advance widths, plus 4% for
 * fallback fonts (DejaVu Sans) that run a little wider.
 */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let w = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    w += c >= 32 && c <= 126 ? HELVETICA[c - 32]! : (OTHER[ch] ?? 600);
  }
  return (w / 1000) * fontSize * (bold ? 1.08 : 1) * 1.04;
}

interface TextItem {
  text?: unknown;
  fontSize?: number;
  fontWeight?: string | number;
}

function vegaTextWidth(item: TextItem, text?: unknown): number {
  const t = text ?? item.text;
  const s = t == null ? '' : Array.isArray(t) ? t.join(' ') : String(t);
  const fw = item.fontWeight;
  return textWidth(s, item.fontSize ?? 11, fw === 'bold' || (typeof fw === 'number' && fw >= 600));
}

export class ChartRenderError extends Error {}

interface VegaModules {
  vega: typeof import('vega');
  vegaLite: typeof import('vega-lite');
}

let vegaModules: Promise<VegaModules | string> | undefined;

/** vega and vega-lite, imported once; or, when either cannot be, why (one line). */
function loadVega(): Promise<VegaModules | string> {
  vegaModules ??= Promise.allSettled([import('vega'), import('vega-lite')]).then(([vega, vegaLite]) => {
    if (vega.status === 'fulfilled' && vegaLite.status === 'fulfilled') return { vega: vega.value, vegaLite: vegaLite.value };
    const missing: string[] = [];
    const broken: string[] = [];
    for (const [name, r] of [['vega', vega], ['vega-lite', vegaLite]] as const) {
      if (r.status === 'fulfilled') continue;
      const e = r.reason as NodeJS.ErrnoException;
      // Not found is the package itself missing, not one of its own dependencies ("Cannot find package 'vega'").
      if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(`'${name}'`)) missing.push(name);
      else broken.push(`${name} cannot be loaded (${String(e?.message ?? e).split('\n')[0]})`);
    }
    // A missing package first: it is what the other one failed for, if it failed, and installing mends both.
    if (missing.length) return `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed (npm install vega vega-lite draws them)`;
    return broken.join('; ');
  });
  return vegaModules;
}

/** Why charts cannot be drawn here (vega or vega-lite missing or broken), or undefined when they can. */
export async function chartsUnavailable(): Promise<string | undefined> {
  const v = await loadVega();
  return typeof v === 'string' ? v : undefined;
}

/**
 * Compile a vega-lite spec and render it to an SVG string, headless. Warnings are collected, not printed.
 * Throws ChartRenderError where vega cannot be loaded: ask chartsUnavailable() first.
 */
export async function renderSvg(spec: TopLevelSpec, warnings: string[] = []): Promise<string> {
  const v = await loadVega();
  if (typeof v === 'string') throw new ChartRenderError(`charts not drawn: ${v}`);
  const { vega, vegaLite } = v;
  const logger = {
    level(): number {
      return vega.Warn;
    },
    warn(...a: unknown[]) {
      warnings.push(a.map(String).join(' '));
      return this;
    },
    info() {
      return this;
    },
    debug() {
      return this;
    },
    error(...a: unknown[]) {
      throw new ChartRenderError(a.map(String).join(' '));
    },
  };
  const vg = vegaLite.compile(spec, { logger: logger as never }).spec;
  const metrics = (vega as unknown as { textMetrics: unknown }).textMetrics as { width: (item: TextItem, text?: unknown) => number };
  const saved = metrics.width;
  metrics.width = vegaTextWidth;
  const view = new vega.View(vega.parse(vg), { renderer: 'none', logger: logger as never });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
    metrics.width = saved;
  }
}

/**
 * The report's charts: the four of every results file, and, where simulated results are at hand (`r` itself,
 * or `beside` it), the many-CPU chart, with the measured points of the other file drawn beside them.
 */
export function chartSpecs(r: LabResults, beside?: LabResults): ChartSpec[] {
  const specs = [throughputSpec(r), churnSpec(r), munmapSpec(r), fastPathSpec(r)];
  const simulated = r.simulation ? r : beside;
  if (simulated) specs.push(manyCpusSpec(simulated, r.simulation ? beside : r));
  return specs;
}
