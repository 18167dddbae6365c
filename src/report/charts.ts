/**
 * The report's four charts as vega-lite specifications, compiled to vega and rendered to SVG strings in
 * Node (no browser, no canvas: vega's headless 'none' renderer and its SVG string renderer). Every value is
 * inlined in the specification, so nothing is loaded from anywhere.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { DesignName, LabResults, WorkloadName } from '../bench/results.js';
import {
  DESIGN_COLORS,
  WORKLOAD_UNITS,
  churnKeptPct,
  designsOf,
  findEntry,
  fmtPct,
  fmtRatio,
  fmtSi,
  fmtUs,
  isBaseline,
  maxThreads,
  outcomeRates,
  throughput,
  timesMmapLock,
  totalFaults,
  workloadsOf,
} from './data.js';
import { headlineWorkloads } from './summary.js';

export type ChartId = 'throughput' | 'churn' | 'munmap' | 'fastpath';

export interface ChartSpec {
  id: ChartId;
  /** The vega-lite specification, or null when the results hold nothing for this chart. */
  spec: TopLevelSpec | null;
  /** Why there is no chart, when spec is null. */
  missing?: string;
  /** Which workloads and thread counts the chart shows, for the caption. */
  shows: string;
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

function colorScale(designs: DesignName[]) {
  return { domain: designs, range: designs.map((d) => DESIGN_COLORS[d]) };
}

function designColor(designs: DesignName[], legend: 'right' | 'top' | null = 'right') {
  const top = { orient: 'top' as const, direction: 'horizontal' as const, title: null, columns: 8, columnPadding: 16, symbolType: 'stroke', symbolStrokeWidth: 3 };
  return {
    field: 'design',
    type: 'nominal' as const,
    scale: colorScale(designs),
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
  const values = r.entries.map((e) => ({ design: e.design, workload: e.workload, threads: e.threads, value: throughput(e) }));
  const threads = [...new Set(r.entries.map((e) => e.threads))].sort((a, b) => a - b);
  const lo = threads[0]!;
  const hi = threads[threads.length - 1]!;
  const x =
    hi > lo
      ? { field: 'threads', type: 'quantitative' as const, scale: { type: 'log' as const, base: 2, domain: [lo, hi], nice: false }, axis: { values: threads, format: 'd', title: 'threads', grid: true } }
      : { field: 'threads', type: 'quantitative' as const, scale: { domain: [0, hi + 1] }, axis: { values: threads, format: 'd', title: 'threads' } };
  const panel = (w: WorkloadName) => ({
    title: { text: w, subtitle: WORKLOAD_UNITS[w].what, limit: 250 },
    width: 212,
    height: 150,
    transform: [{ filter: { field: 'workload', equal: w } }],
    encoding: {
      x,
      y: { field: 'value', type: 'quantitative' as const, scale: { zero: true }, axis: { labelExpr: SI_LABELS, title: WORKLOAD_UNITS[w].ops, tickCount: 5 } },
      color: designColor(designs, 'top'),
    },
    layer: [
      { mark: { type: 'line' as const, strokeWidth: 2, clip: true } },
      { mark: { type: 'point' as const, filled: true, size: 36, opacity: 1, clip: true } },
    ],
  });
  const spec = {
    config: CONFIG,
    data: { values },
    columns: Math.min(4, workloads.length),
    concat: workloads.map(panel),
  } as unknown as TopLevelSpec;
  return { id: 'throughput', spec, shows: `every workload, ${threads.join(', ')} threads` };
}

// ---------------------------------------------------------------------------------------------------------
// (b) the cost of churn: kept % of churn-free throughput, and faults/s with churn against mmap-lock

export function churnSpec(r: LabResults): ChartSpec {
  const T = maxThreads(r, 'churn');
  if (T === undefined) return { id: 'churn', spec: null, missing: 'The results hold no churn entries.', shows: '' };
  const designs = designsOf(r);
  const rows = designs.flatMap((d) => {
    const e = findEntry(r, d, 'churn', T);
    if (!e) return [];
    const kept = churnKeptPct(e);
    const x = timesMmapLock(r, e);
    const xLabel = `${fmtRatio(x)}  ${fmtSi(throughput(e))}/s`;
    return [{ design: d, kept: kept ?? null, keptLabel: fmtPct(kept), x: x ?? null, xAt: x === undefined ? null : Math.max(x, 1), xLabel }];
  });
  const e0 = findEntry(r, designs.find((d) => findEntry(r, d, 'churn', T))!, 'churn', T)!;
  const { faultWorkers, churnWorkers } = e0.churn!;
  const height = rows.length * 24;
  const maxKept = Math.max(100, ...rows.map((x) => x.kept ?? 0));
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
  const keptPanel = {
    title: { text: 'Fault throughput kept under churn', subtitle: 'faults/s with churn workers, as % of the same design without them' },
    width: 300,
    height,
    layer: [
      goal(90, '90%'),
      {
        mark: { type: 'bar' as const, height: 16 },
        encoding: {
          y: designAxis(designs),
          x: { field: 'kept', type: 'quantitative' as const, scale: { domain: [0, Math.ceil((maxKept * 1.18) / 10) * 10] }, axis: { title: '% of churn-free faults/s', values: [0, 20, 40, 60, 80, 100] } },
          color: designColor(designs),
        },
      },
      {
        mark: { type: 'text' as const, align: 'left' as const, dx: 4, fontSize: 11.5, color: INK },
        encoding: { y: designAxis(designs), x: { field: 'kept', type: 'quantitative' as const }, text: { field: 'keptLabel' } },
      },
    ],
  };
  const xs = rows.map((x) => x.x).filter((x): x is number => x !== null && x > 0);
  const panels: unknown[] = [keptPanel];
  if (xs.length) {
    const [lo, hi] = decades(Math.min(0.5, ...xs), Math.max(...xs) * 6);
    panels.push({
      title: { text: 'Faults/s under churn, against mmap-lock', subtitle: '× mmap-lock at the same threads (log scale); label: ratio and faults/s' },
      width: 330,
      height,
      layer: [
        goal(5, '5×'),
        {
          mark: { type: 'bar' as const, height: 16 },
          encoding: {
            y: designAxis(designs),
            x: { field: 'x', type: 'quantitative' as const, scale: { type: 'log' as const, domain: [lo, hi] }, axis: { title: '× mmap-lock faults/s (log scale; bars start at 1×)', format: '~g' } },
            x2: { datum: 1 },
            color: designColor(designs),
          },
        },
        {
          mark: { type: 'text' as const, align: 'left' as const, dx: 4, fontSize: 11.5, color: INK },
          encoding: { y: designAxis(designs), x: { field: 'xAt', type: 'quantitative' as const }, text: { field: 'xLabel' } },
        },
      ],
    });
  }
  const spec = { config: CONFIG, data: { values: rows }, hconcat: panels } as unknown as TopLevelSpec;
  return { id: 'churn', spec, shows: `churn at ${T} threads: ${faultWorkers} fault + ${churnWorkers} churn workers` };
}

// ---------------------------------------------------------------------------------------------------------
// (c) munmap latency percentiles per design, log scale

/**
 * Workloads whose munmaps are about the locking (small regions) come first — io's first of all: its munmaps
 * happen while faults sleep for I/O, where synchronize_srcu() has to wait them out; page_fault* zap 128 MiB.
 */
const MUNMAP_PREFERENCE: WorkloadName[] = ['io', 'churn', 'mmap1', 'mmap2', 'trace', 'page_fault1', 'page_fault2', 'page_fault3'];

export function munmapWorkloads(r: LabResults): WorkloadName[] {
  const have = (w: WorkloadName) => r.entries.some((e) => e.workload === w && e.munmapLatencyUs);
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
  for (const w of workloads) {
    const T = Math.max(...r.entries.filter((e) => e.workload === w && e.munmapLatencyUs).map((e) => e.threads));
    shown.push(`${w} at ${T} threads`);
    for (const d of designs) {
      const l = findEntry(r, d, w, T)?.munmapLatencyUs;
      if (!l) continue;
      ranges.push({ workload: w, design: d, lo: l.p50, hi: l.max, label: `p50 ${fmtUs(l.p50)} · p99 ${fmtUs(l.p99)}` });
      for (const p of ['p50', 'p90', 'p99', 'max'] as const) points.push({ workload: w, design: d, percentile: p, us: l[p] });
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
          mark: { type: 'rule' as const, strokeWidth: 2.5, opacity: 0.6 },
          encoding: { y: designAxis(ds), x: x('lo'), x2: { field: 'hi' }, color: designColor(designs) },
        },
        {
          data: { values: points },
          transform: [{ filter: { field: 'workload', equal: w } }],
          mark: { type: 'point' as const, filled: true, size: 80, opacity: 1, stroke: 'white', strokeWidth: 0.8 },
          encoding: {
            y: designAxis(ds),
            x: x('us'),
            color: designColor(designs),
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
  return { id: 'munmap', spec, shows: shown.join('; ') };
}

// ---------------------------------------------------------------------------------------------------------
// (d) fast path / retry / fallback per design

const OUTCOMES = [
  { key: 'fastPathPct', title: 'fast path', subtitle: '% of faults (vma_lock_success)' },
  { key: 'retryPct', title: 'retried', subtitle: 'retries per 100 faults (vma_lock_retry)' },
  { key: 'fallbackPct', title: 'fell back', subtitle: '% of faults (vma_lock_abort + miss)' },
] as const;

/** Workloads for the fast-path chart: the headline workloads that fault, else every workload that faults. */
export function fastPathWorkloads(r: LabResults): WorkloadName[] {
  const faults = (w: WorkloadName) => r.entries.some((e) => e.workload === w && totalFaults(e) > 0);
  const h = headlineWorkloads(r).filter(faults);
  return h.length ? h : workloadsOf(r).filter(faults);
}

/** A nice upper bound for a rate axis (never a degenerate [0, 0]). */
function rateMax(values: number[], key: string): number {
  const m = Math.max(0, ...values);
  if (key === 'fastPathPct') return 100;
  if (m <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(m)));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * p >= m * 1.0001) return Math.min(100, k * p);
  return 100;
}

export function fastPathSpec(r: LabResults): ChartSpec {
  const workloads = fastPathWorkloads(r);
  if (!workloads.length) return { id: 'fastpath', spec: null, missing: 'No entry handled a page fault.', shows: '' };
  const designs = designsOf(r);
  const shown: string[] = [];
  const rows = workloads.map((w) => {
    const T = maxThreads(r, w)!;
    shown.push(`${w} at ${T} threads`);
    const data = designs.flatMap((d) => {
      const e = findEntry(r, d, w, T);
      if (!e) return [];
      const rates = outcomeRates(e);
      return [{ design: d, rates, baseline: isBaseline(d) }];
    });
    const cells = OUTCOMES.map((o, i) => {
      const values = data.map((x) => ({
        design: x.design,
        v: x.rates ? x.rates[o.key] : 0,
        label: x.rates ? fmtPct(x.rates[o.key]) : x.baseline ? (i === 0 ? 'none: every fault takes mmap_lock' : '') : 'no faults',
      }));
      const max = rateMax(
        values.map((v) => v.v),
        o.key,
      );
      return {
        title: { text: i === 0 ? `${w} · ${o.title}` : o.title, subtitle: o.subtitle },
        width: 200,
        height: data.length * 20,
        data: { values },
        encoding: { y: designAxis(designs, i === 0) },
        layer: [
          {
            mark: { type: 'bar' as const, height: 14 },
            encoding: {
              x: { field: 'v', type: 'quantitative' as const, scale: { domain: [0, max], nice: false }, axis: { title: i === 1 ? 'per 100 faults' : '% of faults', tickCount: 4 } },
              color: designColor(designs, null),
            },
          },
          {
            mark: { type: 'text' as const, align: 'left' as const, dx: 4, fontSize: 11, color: INK },
            encoding: { x: { field: 'v', type: 'quantitative' as const, scale: { domain: [0, max], nice: false } }, text: { field: 'label' } },
          },
        ],
      };
    });
    return cells;
  });
  // One grid, so the three columns line up from row to row.
  const spec = { config: CONFIG, columns: OUTCOMES.length, concat: rows.flat(), spacing: { row: 30, column: 70 } } as unknown as TopLevelSpec;
  return { id: 'fastpath', spec, shows: shown.join('; ') };
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

/** Compile a vega-lite spec and render it to an SVG string, headless. Warnings are collected, not printed. */
export async function renderSvg(spec: TopLevelSpec, warnings: string[] = []): Promise<string> {
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
  const vg = compile(spec, { logger: logger as never }).spec;
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

export function chartSpecs(r: LabResults): ChartSpec[] {
  return [throughputSpec(r), churnSpec(r), munmapSpec(r), fastPathSpec(r)];
}
