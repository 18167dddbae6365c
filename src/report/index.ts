/**
 * mmsplit/report: lab results (src/bench/results.ts, docs/results-format.md) → a self-contained HTML report
 * with SVG charts drawn by vega-lite in Node, and a plain-text summary table for the terminal.
 *
 *   const html = await renderReport(results);            // one HTML string, nothing external
 *   const { html, json } = await writeReport(results, 'report');   // report/index.html + report/results.json
 *   console.log(summaryTable(results));       // ends with runWarnings(results) when a point was disturbed or unstable
 */
import fs from 'node:fs';
import path from 'node:path';
import { validateResults, type LabResults } from '../bench/results.js';
import { chartSpecs, renderSvg, type ChartSpec } from './charts.js';
import { renderHtml } from './html.js';

export { validateResults, ResultsFormatError, type LabResults, type Entry } from '../bench/results.js';
export { summaryTable, summaryRows, summaryCaption, headlineWorkloads, type SummaryRow } from './summary.js';
export { chartSpecs, renderSvg, type ChartId, type ChartSpec } from './charts.js';
export { DESIGN_COLORS, DESIGN_DESCRIPTIONS, interferenceWarning, instabilityWarning, runWarnings, failureNotes } from './data.js';

export interface RenderOptions {
  /** The page's title and heading (default: "mmsplit lab report"). */
  title?: string;
  /** Receives vega/vega-lite warnings (they are not printed). */
  warnings?: string[];
}

/**
 * The whole report as one HTML document: header (machine, Node/V8, configuration), summary table and the
 * four charts as inline SVG. Asynchronous because vega's renderer is.
 */
export async function renderReport(results: LabResults, opts: RenderOptions = {}): Promise<string> {
  const r = validateResults(results);
  const charts: { spec: ChartSpec; svg: string | null }[] = [];
  for (const spec of chartSpecs(r)) {
    charts.push({ spec, svg: spec.spec ? scopeIds(await renderSvg(spec.spec, opts.warnings), spec.id) : null });
  }
  return renderHtml(r, opts.title ?? 'mmsplit lab report', charts);
}

/**
 * Prefix the ids an SVG defines (vega's clip paths) and its references to them with the chart's name: all
 * the SVGs share one HTML document, where an id must be unique or url(#clip1) finds another chart's clip.
 */
export function scopeIds(svg: string, scope: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, `id="${scope}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${scope}-$1)`)
    .replace(/(xlink:)?href="#([^"]+)"/g, `$1href="#${scope}-$2"`);
}

/** Writes DIR/index.html and DIR/results.json (creating DIR); returns their paths. */
export async function writeReport(results: LabResults, dir: string, opts: RenderOptions = {}): Promise<{ html: string; json: string }> {
  const page = await renderReport(results, opts);
  fs.mkdirSync(dir, { recursive: true });
  const html = path.join(dir, 'index.html');
  const json = path.join(dir, 'results.json');
  fs.writeFileSync(json, JSON.stringify(results, null, 1) + '\n');
  fs.writeFileSync(html, page);
  return { html, json };
}
