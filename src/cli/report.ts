// mmsplit report RESULTS.json [OTHER.json] [--out DIR] [--json]: render a saved lab results file, with a
// second one of the other kind (simulated beside measured, or measured beside simulated) drawn beside it.
// Exit 0 on success, 2 when a file cannot be read, is not JSON or is not a valid results file (the message
// names the file and the bad field; no stack trace), when both are of one kind, or when --out cannot take
// the report; 1 for anything else.
import fs from 'node:fs';
import path from 'node:path';
import { ResultsFormatError, validateResults, type LabResults } from '../bench/results.js';
import { chartsUnavailable, prepareOutDir, runWarnings, summaryRows, summaryTable, writeReport } from '../report/index.js';

export interface ReportCommandOptions {
  out: string;
  json: boolean;
  /** A results file of the other kind to draw beside. */
  beside?: string;
}

export const EXIT_BAD_INPUT = 2;

/** Reads and validates a results file; returns the results or an error message naming file and field. */
export function loadResults(file: string): { results: LabResults } | { error: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: `${file}: cannot read the file (${code ?? (e as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { error: `${file}: not JSON (${(e as Error).message})` };
  }
  try {
    return { results: validateResults(json) };
  } catch (e) {
    if (e instanceof ResultsFormatError) {
      return { error: `${file}: not a valid mmsplit results file: ${e.path ? `field ${e.path}: ` : ''}${e.problem}` };
    }
    throw e;
  }
}

/** Which kind results are: from the lab (measured) or from mmsplit simulate. */
export const resultsKind = (r: LabResults): 'measured' | 'simulated' => (r.simulation ? 'simulated' : 'measured');

/**
 * Loads results of the `kind` to draw beside others for `command` (simulated beside measured, or measured
 * beside simulated); else one line on stderr saying why, and undefined.
 */
export function loadBeside(command: string, file: string, kind: 'measured' | 'simulated'): LabResults | undefined {
  const loaded = loadResults(file);
  if ('error' in loaded) {
    console.error(`${command}: ${loaded.error}`);
    return undefined;
  }
  if (resultsKind(loaded.results) !== kind) {
    console.error(`${command}: ${file}: ${resultsKind(loaded.results)} results, where ${kind} ones are drawn beside (one measured and one simulated file)`);
    return undefined;
  }
  return loaded.results;
}

export async function reportCommand(file: string, o: ReportCommandOptions): Promise<number> {
  const loaded = loadResults(file);
  if ('error' in loaded) {
    console.error(`mmsplit report: ${loaded.error}`);
    return EXIT_BAD_INPUT;
  }
  const beside = o.beside === undefined ? undefined : loadBeside('mmsplit report', o.beside, resultsKind(loaded.results) === 'measured' ? 'simulated' : 'measured');
  if (o.beside !== undefined && !beside) return EXIT_BAD_INPUT;
  if (!outDirReady('mmsplit report', o.out)) return EXIT_BAD_INPUT;
  const { html, json } = await writeReport(loaded.results, o.out, beside ? { beside } : {});
  const report = path.resolve(html);
  if (o.json) {
    console.log(JSON.stringify({ report, results: path.resolve(json), summary: summaryRows(loaded.results) }, null, 2));
    // stdout is JSON; the warnings the table would have ended with go beside it.
    for (const w of runWarnings(loaded.results)) console.error(w);
  } else {
    console.log(summaryTable(loaded.results));
    console.log(`\nreport: ${report}`);
  }
  await sayIfNoCharts('mmsplit report');
  return 0;
}

/** Whether --out can take a report, checked before any work (else one line on stderr): bench and report. */
export function outDirReady(command: string, dir: string): boolean {
  try {
    prepareOutDir(dir);
    return true;
  } catch (e) {
    console.error(`${command}: --out ${(e as Error).message}`);
    return false;
  }
}

/** One line on stderr when the report's charts could not be drawn (vega or vega-lite missing). */
export async function sayIfNoCharts(command: string): Promise<void> {
  const why = await chartsUnavailable();
  if (why) console.error(`${command}: charts not drawn: ${why}`);
}
