/**
 * The report page: one HTML file with inline CSS and inline SVG — no script, no font, no image, nothing
 * fetched — so it opens from disk, offline, in any browser, and can be mailed or attached to a bug.
 */
import type { Entry, LabResults } from '../bench/results.js';
import type { ChartId, ChartSpec } from './charts.js';
import {
  designMeta,
  designsOf,
  failedLabel,
  failureNotes,
  findEntry,
  fmtBytes,
  fmtCount,
  fmtMs,
  fmtPct,
  fmtSpread,
  fmtUs,
  instabilityWarning,
  interferenceWarning,
  isDisturbed,
  outcomeRates,
  throughput,
  throughputSpread,
  workloadsOf,
} from './data.js';
import { DISTURBED_LEGEND, DISTURBED_MARK, SUMMARY_HEADERS, SUMMARY_LEGEND, summaryCaption, summaryCells, summaryRows, waitCell } from './summary.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** What each chart is and what to read from it, in the kernel's vocabulary (static text, trusted HTML). */
export const CHART_TEXT: Record<ChartId, { title: string; read: string }> = {
  throughput: {
    title: 'Throughput against threads',
    read:
      'One panel per workload, one line per design; each point is the median of the repetitions, its whisker the ' +
      'lowest and highest of them (a difference between two designs smaller than their whiskers is noise). Under ' +
      '<code>mmap_lock</code> every fault takes <code>down_read(&amp;mm-&gt;mmap_lock)</code>: the rwsem count is one ' +
      'cache line that every CPU writes, and every <code>mmap</code>/<code>munmap</code> takes it for write and stalls ' +
      'all faults, so the baselines flatten as threads are added. Designs that find the VMA without the lock ' +
      '(<code>lock_vma_under_rcu</code>, <code>srcu_read_lock</code>, the speculative walk) should rise with threads on ' +
      'the <code>page_fault*</code> and <code>io</code> panels. <code>mmap1</code>/<code>mmap2</code> are all writers: ' +
      'every design serialises them on <code>mmap_write_lock</code>, so those panels show the write-side cost of each ' +
      'design (VMA marking, <code>call_srcu</code>, <code>synchronize_srcu</code>) rather than scaling.',
  },
  churn: {
    title: 'The cost of churn',
    read:
      'Fault workers touch one large mapping while churn workers <code>mmap</code>/<code>munmap</code>/<code>mprotect</code> ' +
      'small unrelated regions. Left: the fault rate each design keeps, as a share of its own rate with no churn ' +
      'workers (dashed: the 90% goal). Right: the same fault rate against the <code>mmap-lock</code> baseline (dashed: ' +
      'the 5× goal). With one <code>mmap_lock</code>, each churn call is a writer that waits for every fault in flight and ' +
      'blocks the next ones; with per-VMA locking a writer only excludes faults on the VMA it changes, and these ' +
      'regions are not the one being faulted.',
  },
  munmap: {
    title: 'munmap latency',
    read:
      'How long <code>munmap()</code> takes to return: p50, p90, p99 and maximum on a log scale. <code>srcu</code> ' +
      'detaches the VMA and hands the freeing (<code>fput</code>, <code>vm_area_free</code>) to <code>call_srcu()</code>; ' +
      '<code>srcu-sync</code> waits in <code>synchronize_srcu()</code> for every fault in flight — a full grace period ' +
      'per munmap, which the thread calls “stupid slow” and would make <code>munmap()</code>/<code>exit()</code> ' +
      'unusable. Look for the gap between those two rows; the <code>mmap_lock</code> baselines show long tails where ' +
      'munmap queues behind faults holding the lock for read.',
  },
  fastpath: {
    title: 'Fast path, retry and fallback',
    read:
      'Per design, the fault outcomes summed over the repetitions at the most threads, as shares of the faults the ' +
      'counters saw (fast path + fell back, which every fault of a design with a fast path ends as), named like ' +
      '<code>/proc/vmstat</code>: <em>fast path</em> is <code>vma_lock_success</code> (the fault completed without ' +
      '<code>mmap_lock</code>); <em>retried</em> counts fast-path attempts repeated (<code>vma_lock_retry</code>, a ' +
      'speculative fault whose validation failed); <em>fell back</em> is <code>vma_lock_abort</code> + ' +
      '<code>vma_lock_miss</code>: the fault gave up and took the slower path (<code>mmap_lock</code>; for ' +
      '<code>rcu-fault</code>, the VMA refcount, e.g. when the allocation would sleep). Each axis has its own scale: ' +
      'small fallback rates matter. The baselines have no fast path.',
  },
  manycpus: {
    title: 'Many CPUs, simulated',
    read:
      'The thread’s argument is about many CPUs: <code>mmap_lock</code> stops scaling when dozens of threads fault while ' +
      'one maps. Each row is a workload: its throughput against simulated CPUs (<code>mmsplit simulate</code>: the real ' +
      'designs on a simulated machine, README “Many CPUs, simulated”), the same over <code>mmap-lock</code> at the same ' +
      'CPUs (for <code>churn</code>, dashed: the thread’s 5× goal), and the share of faults that fell back from the fast ' +
      'path. On <code>page_fault1</code> the baseline should flatten or fall while the designs that fault without the ' +
      'lock rise; under <code>churn</code>, every <code>mmap</code>/<code>munmap</code> writer stalls all of the ' +
      'baseline’s faults, more of them as CPUs are added. Where a measured results file is beside the simulated one, ' +
      'its points are drawn dashed and hollow at their worker threads: the simulation’s 1 and 2 CPUs should meet them.',
  },
};

const CSS = `
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa; --warn: #9a3412; --warnbg: #fff4e5; }
* { box-sizing: border-box; }
html { background: #fff; }
body { margin: 0 auto; max-width: 1240px; padding: 28px 32px 48px; color: var(--ink);
  font: 15px/1.5 Helvetica, Arial, "Liberation Sans", system-ui, sans-serif; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 40px 0 6px; padding-top: 14px; border-top: 1px solid var(--line); }
h2 .n { color: var(--muted); font-weight: normal; margin-right: 6px; }
p.lead { margin: 0 0 18px; color: var(--muted); }
code { white-space: nowrap; font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: var(--soft); padding: 0 3px; border-radius: 3px; }
.banner { background: var(--warnbg); color: var(--warn); border: 1px solid #f5c99b; border-radius: 6px; padding: 10px 14px; margin: 14px 0; font-weight: 600; }
.banner.disturbed, .banner.unstable { font-weight: normal; }
.banner.disturbed b, .banner.unstable b { font-weight: 700; }
.mark { color: var(--warn); font-weight: 700; padding-left: 3px; }
.mark.quiet { visibility: hidden; }
td.disturbed { background: var(--warnbg); }
td.failed { color: #b42318; font-weight: 600; }
td.note { white-space: normal; text-align: left; min-width: 280px; max-width: 480px; }
ul.failures { color: #b42318; font-size: 13px; margin: 6px 0 0; }
.meta { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 12px 28px; margin: 18px 0 8px; align-items: start; }
.meta section { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.meta h3 { margin: 0 0 6px; font-size: 13px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
.meta dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; font-size: 14px; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
.notes { font-size: 14px; color: var(--muted); }
.key { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 3px 28px; font-size: 14px; margin: 8px 0 0; padding: 0; list-style: none; }
.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 7px; vertical-align: -1px; }
.key li { padding-left: 19px; text-indent: -19px; }
.key b { font-weight: 600; margin-right: 6px; }
h3.keyh { margin: 18px 0 4px; font-size: 13px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
table { border-collapse: collapse; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
th { text-align: right; font-weight: 600; border-bottom: 2px solid var(--line); background: #fff; }
th.l, td.l { text-align: left; }
td { text-align: right; }
tbody + tbody tr:first-child td { border-top: 2px solid var(--line); }
td.na { color: #8c959f; }
.caption { color: var(--muted); font-size: 13px; margin: 0 0 8px; }
figure { margin: 12px 0 0; }
figure .chart { overflow-x: auto; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.read { max-width: 980px; }
.missing { padding: 16px; border: 1px dashed var(--line); color: var(--muted); border-radius: 6px; }
details { margin-top: 40px; }
details summary { cursor: pointer; font-weight: 600; }
details table { margin-top: 10px; font-size: 13px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; border-top: 1px solid var(--line); padding-top: 10px; }
@media print { body { max-width: none; padding: 0; } h2 { break-before: auto; } figure { break-inside: avoid; } }
`;

/** Cells that say there is no figure are greyed. */
const NO_FIGURE = ['—', 'no data', 'no fast path'];

/**
 * One table cell. A figure ending in the disturbed mark gets the mark styled, with the runner's reason as its
 * tooltip; a quiet figure of a column that can carry the mark keeps an invisible one, so the digits line up.
 */
function td(text: string, cls: string[], o: { markable?: boolean; reason?: string; html?: string } = {}): string {
  const mark = ` ${DISTURBED_MARK}`;
  const disturbed = o.markable && text.endsWith(mark);
  const shown = disturbed ? text.slice(0, -mark.length) : text.trimEnd();
  let body = o.html ?? esc(shown);
  if (disturbed) body += `<span class="mark" title="${esc(o.reason ?? 'disturbed')}">${DISTURBED_MARK}</span>`;
  else if (o.markable && !NO_FIGURE.includes(shown)) body += `<span class="mark quiet">${DISTURBED_MARK}</span>`;
  const all = [...cls, NO_FIGURE.includes(shown) ? 'na' : '', disturbed ? 'disturbed' : '', text.startsWith('failed') ? 'failed' : ''].filter(Boolean);
  return `<td${all.length ? ` class="${all.join(' ')}"` : ''}>${body}</td>`;
}

/** What the word "failed" and the mark stand for: the failure's message, the runner's reason for the mark. */
function why(e: Entry): string {
  return [e.failure ? `${e.failure.kind}: ${e.failure.message}` : '', e.interference?.reason ?? ''].filter(Boolean).join('; ');
}

/** The banners over the report when any point was disturbed or unstable: the terminal's warnings, in the page. */
function disturbedBanner(r: LabResults): string {
  const w = interferenceWarning(r);
  const u = instabilityWarning(r);
  return (
    (w ? `<div class="banner disturbed" role="alert">${esc(w).replace(/^WARNING:/, '<b>Disturbed run:</b>')}</div>` : '') +
    (u ? `<div class="banner unstable" role="note">${esc(u).replace(/^WARNING:/, '<b>Unstable points:</b>')}</div>` : '')
  );
}

function swatch(color: string): string {
  return `<span class="sw" style="background:${color}"></span>`;
}

function header(r: LabResults, title: string, beside?: Beside): string {
  const m = r.machine;
  const c = r.configuration;
  const dl = (pairs: [string, string][]) => `<dl>${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
  const params = c.workloadParams
    ? Object.entries(c.workloadParams)
        .map(([w, ps]) => `<code>${esc(w)}</code> ${esc(Object.entries(ps).map(([k, v]) => `${k}=${v}`).join(' '))}`)
        .join('<br>')
    : '';
  const machine: [string, string][] = [
    ['CPU', esc(m.cpuModel)],
    ['cores', String(m.cores)],
    ['memory', esc(fmtBytes(m.memoryBytes))],
    ['OS', esc(m.os + (m.arch ? ` (${m.arch})` : ''))],
    ['Node', esc(m.node)],
    ['V8', esc(m.v8)],
  ];
  const run: [string, string][] = [
    ['finished', esc(r.createdAt)],
    ['designs', esc(designsOf(r).join(', '))],
    ['workloads', esc(c.workloads.join(', '))],
    ['threads', esc(c.threads.join(', '))],
    ['each point', esc(`median of ${c.repetitions} × ${fmtMs(c.durationMs)}${(c.rounds ?? 1) > 1 ? ` in ${c.rounds} rounds (fresh workers and address space each, interleaved with the other points)` : ''}, after ${fmtMs(c.warmupMs)} warm-up${(c.rounds ?? 1) > 1 ? ' each' : ''}`)],
    ['seed', esc(String(c.seed))],
    ...(c.command ? ([['command', `<code>${esc(c.command)}</code>`]] as [string, string][]) : []),
    ...(params ? ([['parameters', params]] as [string, string][]) : []),
  ];
  const key = designsOf(r)
    .map((d) => {
      const m = designMeta(r, d);
      return `<li>${swatch(m.color)}<b>${esc(d)}</b>${esc(m.description)}${m.source ? ` <i>(${esc(m.source)})</i>` : ''}</li>`;
    })
    .join('');
  return `<header>
<h1>${esc(title)}</h1>
<p class="lead">The address-space locking designs of “Splitting the mmap_sem” (LKML, 2020), run on real worker threads and measured side by side.</p>
${r.synthetic ? '<div class="banner" role="note">SYNTHETIC DATA — these numbers were made up to exercise the report; they are not a measurement.</div>' : ''}
${r.simulation ? `<div class="banner" role="note">SIMULATED — a machine of ${esc(String(r.simulation.profile['cpus']))} CPUs (${esc(String(r.simulation.profile['name']))}: ${esc(String(r.simulation.profile['description']))}) simulated by mmsplit simulate; threads are simulated CPUs and every rate is per virtual second. The profile's sources: ${esc(String(r.simulation.profile['source']))}</div>` : ''}
${disturbedBanner(r)}
${beside ? besideNote(beside) : ''}
<div class="meta">
<section><h3>Machine</h3>${dl(machine)}</section>
<section><h3>Run</h3>${dl(run)}</section>
</div>
${r.notes?.length ? `<ul class="notes">${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<h3 class="keyh">Designs (colours are the same in every chart)</h3>
<ul class="key" aria-label="designs">${key}</ul>
</header>`;
}

function summarySection(r: LabResults): string {
  const rows = summaryRows(r);
  const groups = [...new Set(rows.map((x) => x.workload))];
  const wait = SUMMARY_HEADERS.indexOf('cpu wait');
  const bodies = groups
    .map(
      (w) =>
        `<tbody>${rows
          .filter((x) => x.workload === w)
          .map((x, k) => {
            const cells = summaryCells(x);
            if (k > 0) cells[0] = '';
            const reason = findEntry(r, x.design, x.workload, x.threads)?.interference?.reason;
            return `<tr>${cells.map((c, i) => td(c, i < 2 ? ['l'] : [], { markable: i === wait, ...(reason ? { reason } : {}), ...(i === 1 ? { html: `${swatch(designMeta(r, x.design).color)}${esc(c)}` } : {}) })).join('')}</tr>`;
          })
          .join('')}</tbody>`,
    )
    .join('');
  const failures = failureNotes(r);
  return `<section id="summary">
<h2>Summary</h2>
<p class="caption">${esc(summaryCaption(r))}. ${esc(SUMMARY_LEGEND)}; <em>scaling</em>: against the same design at 1 thread (or the fewest threads measured);
<em>churn kept</em>: % of the design's churn-free fault rate; <em>fallback</em>: % of counted faults that left the fast path.${rows.some((x) => x.disturbed) ? ` <span class="mark">${DISTURBED_MARK}</span>${esc(DISTURBED_LEGEND.slice(DISTURBED_MARK.length))}` : ''}</p>
<table class="summary"><thead><tr>${SUMMARY_HEADERS.map((h, i) => `<th${i < 2 ? ' class="l"' : ''}>${esc(h)}</th>`).join('')}</tr></thead>${bodies}</table>
${failures.length ? `<ul class="failures">${failures.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>` : ''}
</section>`;
}

function chartSection(n: number, c: ChartSpec, svg: string | null): string {
  const t = CHART_TEXT[c.id];
  const notes = (c.notes ?? []).map((n) => ` ${esc(n)}`).join('');
  const body = svg ? `<div class="chart">${svg}</div><figcaption>Shows: ${esc(c.shows)}.${notes}</figcaption>` : `<div class="missing">${esc(c.missing ?? 'No data.')}</div>`;
  return `<section id="chart-${c.id}">
<h2><span class="n">${String.fromCharCode(96 + n)}.</span>${esc(t.title)}</h2>
<p class="read">${t.read}</p>
<figure data-chart="${c.id}">${body}</figure>
</section>`;
}

function allPoints(r: LabResults): string {
  const designs = designsOf(r);
  const workloads = workloadsOf(r);
  const sorted = [...r.entries].sort(
    (a, b) => workloads.indexOf(a.workload) - workloads.indexOf(b.workload) || designs.indexOf(a.design) - designs.indexOf(b.design) || a.threads - b.threads,
  );
  const heads = ['workload', 'design', 'threads', 'ops/s (min–max)', 'faults/s', 'cpu wait', 'attempts', 'fast path', 'retry', 'fallback', 'own counters', 'munmap p50', 'p99', 'max', 'note'];
  const left = (i: number) => i < 2 || i === 10 ? ['l'] : i === 14 ? ['note'] : [];
  const rows = sorted.map((e) => {
    const rates = outcomeRates(r, e);
    const l = e.failure ? undefined : e.munmapLatencyUs;
    const extra = e.counters.extra ? Object.entries(e.counters.extra).map(([k, v]) => `${k}=${fmtCount(v)}`).join(' ') : '';
    const i = e.interference;
    const cells = [
      e.workload,
      e.design,
      String(e.threads),
      e.failure ? failedLabel(e) : fmtSpread(throughput(e), throughputSpread(e)),
      e.failure ? '—' : fmtCount(e.median.faultsPerSec),
      waitCell(i?.runqueueShare ?? null, isDisturbed(e)),
      i ? String(i.attempts) : '—',
      rates ? fmtPct(rates.fastPathPct) : '—',
      rates ? fmtPct(rates.retryPct) : '—',
      rates ? fmtPct(rates.fallbackPct) : '—',
      extra || '—',
      l ? fmtUs(l.p50) : '—',
      l ? fmtUs(l.p99) : '—',
      l ? fmtUs(l.max) : '—',
      why(e),
    ];
    const reason = e.interference?.reason;
    return `<tr>${cells.map((c, k) => td(c, left(k), { markable: k === 5, ...(reason ? { reason } : {}) })).join('')}</tr>`;
  });
  return `<details id="all-points">
<summary>Every point (${r.entries.length} entries): medians with the repetitions' range, CPU wait and attempts, counters as shares of counted faults, munmap percentiles</summary>
<table><thead><tr>${heads.map((h, i) => `<th${left(i).includes('l') || i === 14 ? ' class="l"' : ''}>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>
</details>`;
}

/** In place of the chart sections where vega cannot be loaded: why, and how to draw them later. */
function chartsMissing(why: string): string {
  return `<section id="charts">
<h2>Charts</h2>
<div class="missing">Charts not drawn: ${esc(why)}. The summary above and every point below are complete; once vega and vega-lite
are installed, <code>mmsplit report results.json</code> draws this report again with its charts.</div>
</section>`;
}

/** Results of the other kind drawn beside the page's own (simulated beside measured, or measured beside simulated), and the file beside results.json that holds them. */
export interface Beside {
  results: LabResults;
  file: string;
}

/** What the results beside the page's own are, where they came from, and which chart draws them. */
function besideNote(b: Beside): string {
  const r = b.results;
  const what = r.simulation
    ? `simulated results on ${esc(String(r.simulation.profile['name']))} (${esc(String(r.simulation.profile['cpus']))} CPUs; ${r.entries.length} points)`
    : `measured results on ${esc(r.machine.cpuModel)} (${r.machine.cores} cores; ${r.entries.length} points, ${esc(r.createdAt)})`;
  return `<p class="lead">Beside these results: ${what}, in <code>${esc(b.file)}</code>, drawn with them in the chart “${esc(CHART_TEXT.manycpus.title)}”.</p>`;
}

/** The page: the charts rendered to SVG (null where a chart has no data), or why none could be drawn. */
export function renderHtml(r: LabResults, title: string, charts: { spec: ChartSpec; svg: string | null }[] | { missing: string }, beside?: Beside): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mmsplit report (results format v${r.version})">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
${header(r, title, beside)}
${summarySection(r)}
${'missing' in charts ? chartsMissing(charts.missing) : charts.map((c, i) => chartSection(i + 1, c.spec, c.svg)).join('\n')}
${allPoints(r)}
<footer>Rendered by <code>mmsplit report</code> from results format v${r.version}. Self-contained: inline CSS and SVG, no scripts, nothing fetched. The data is in <code>results.json</code>${beside ? ` and <code>${esc(beside.file)}</code>` : ''} beside this file.</footer>
</body>
</html>
`;
}
