/**
 * mmsplit/report: lab results (src/bench/results.ts, docs/results-format.md) → a self-contained HTML report
 * with SVG charts drawn by vega-lite in Node (where vega and vega-lite are installed: they are optional), and a
 * plain-text summary table for the terminal.
 *
 *   const html = await renderReport(results);            // one HTML string, nothing external
 *   const { html, json } = await writeReport(results, 'report');   // report/index.html + report/results.json
 *   await writeReport(measured, 'report', { beside: simulated });  // + report/simulated.json, and the many-CPU chart
 *   console.log(summaryTable(results));       // ends with runWarnings(results) when a point was disturbed or unstable
 */
// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
import fs from 'node:fs';
import path from 'node:path';
import { validateResults, type LabResults } from '../bench/results.js';
import { chartSpecs, chartsUnavailable, renderSvg, type ChartSpec } from './charts.js';
import { renderHtml } from './html.js';

export { validateResults, ResultsFormatError, type LabResults, type Entry } from '../bench/results.js';
export { summaryTable, summaryRows, summaryCaption, headlineWorkloads, type SummaryRow } from './summary.js';
export { chartSpecs, chartsUnavailable, manyCpusSpec, renderSvg, type ChartId, type ChartSpec } from './charts.js';
export { designMeta, interferenceWarning, instabilityWarning, unbegunWarning, runWarnings, failureNotes } from './data.js';

export interface RenderOptions {
  /** The page's title and heading (default: "mmsplit lab report"). */
  title?: string;
  /** Receives vega/vega-lite warnings (they are not printed). */
  warnings?: string[];
  /**
   * Results of the other kind to draw beside these: simulated ones beside a measured run, or measured ones
   * beside a simulation. They appear in the many-CPU chart; the summary and the other charts are of `results`.
   */
  beside?: LabResults;
}

/** The file writeReport keeps results beside the page's own in. */
export const besideFile = (beside: LabResults): string => (beside.simulation ? 'simulated.json' : 'measured.json');

/** Throws unless `beside` is of the other kind than `results` (one simulated, one measured). */
function checkBeside(results: LabResults, beside: LabResults): void {
  if (!!results.simulation === !!beside.simulation) {
    throw new RangeError(`results beside results must be of the other kind: both are ${results.simulation ? 'simulated' : 'measured'}`);
  }
}

/**
 * The whole report as one HTML document: header (machine, Node/V8, configuration), summary table and the
 * charts as inline SVG (the many-CPU chart too where a simulation is at hand). Asynchronous because vega's
 * renderer is. Where vega cannot be loaded (chartsUnavailable), a note that says why stands where the
 * charts would be.
 */
export async function renderReport(results: LabResults, opts: RenderOptions = {}): Promise<string> {
  const r = validateResults(results);
  const other = opts.beside && validateResults(opts.beside);
  if (other) checkBeside(r, other);
  const beside = other && { results: other, file: besideFile(other) };
  const title = opts.title ?? 'mmsplit lab report';
  const missing = await chartsUnavailable();
  if (missing !== undefined) return renderHtml(r, title, { missing }, beside);
  const charts: { spec: ChartSpec; svg: string | null }[] = [];
  for (const spec of chartSpecs(r, other)) {
    charts.push({ spec, svg: spec.spec ? scopeIds(await renderSvg(spec.spec, opts.warnings), spec.id) : null });
  }
  return renderHtml(r, title, charts, beside);
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

/**
 * Makes the folder `dir` (and any missing parent) and checks that a file can be written in it; throws an
 * Error saying why not ("/proc/x: cannot create the folder (ENOENT)"). Commands call it before their work,
 * so that a bad --out fails at once rather than after the lab has run. Not fs.mkdirSync's `recursive`:
 * under /proc, where mkdir answers ENOENT for a parent that exists, Node 20's retries it forever.
 */
export function prepareOutDir(dir: string): void {
  const make = (d: string): void => {
    try {
      fs.mkdirSync(d);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        if (!fs.statSync(d).isDirectory()) throw new Error(`${d}: exists and is not a folder`);
        return;
      }
      const parent = path.dirname(d);
      if (code !== 'ENOENT' || parent === d) throw new Error(`${d}: cannot create the folder (${code})`);
      make(parent);
    }
    try {
      fs.mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || !fs.statSync(d).isDirectory()) throw new Error(`${d}: cannot create the folder (${code})`);
    }
  };
  make(path.resolve(dir));
  const probe = path.join(dir, `.mmsplit-write-test-${process.pid}`);
  try {
    fs.writeFileSync(probe, '');
    fs.unlinkSync(probe);
  } catch (e) {
    throw new Error(`${dir}: cannot write files there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Writes DIR/results.json, then DIR/index.html (creating DIR); returns their paths. The results first: a
 * report that fails to render must not take a lab run's results with it.
 */
export async function writeReport(results: LabResults, dir: string, opts: RenderOptions = {}): Promise<{ html: string; json: string }> {
  prepareOutDir(dir);
  const html = path.join(dir, 'index.html');
  const json = path.join(dir, 'results.json');
  fs.writeFileSync(json, JSON.stringify(results, null, 1) + '\n');
  if (opts.beside) {
    checkBeside(results, opts.beside);
    fs.writeFileSync(path.join(dir, besideFile(opts.beside)), JSON.stringify(opts.beside, null, 1) + '\n');
  }
  fs.writeFileSync(html, await renderReport(results, opts));
  return { html, json };
}
