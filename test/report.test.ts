/**
 * The lab's results format (src/bench/results.ts) and the report (src/report/): validation of the committed
 * synthetic sample and of broken variants (each error names the bad field), version-1 files still read, the
 * four charts rendered to SVG with real marks (spread whiskers, disturbed and failed points) and at a bounded
 * width, the page self-contained, the terminal summary with its spread, marks and interference warning, and
 * `mmsplit report` on good and bad files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DESIGN_NAMES,
  ResultsFormatError,
  churnKeptPct,
  median,
  interferenceMedians,
  sampleMedians,
  sampleRates,
  validateResults,
  type LabResults,
} from '../src/bench/results.js';
import { designMeta, instabilityWarning, interferenceWarning, renderReport, runWarnings, summaryRows, summaryTable, unbegunWarning, writeReport } from '../src/report/index.js';
import { chartSpecs, renderSvg, textWidth } from '../src/report/charts.js';
import { esc } from '../src/report/html.js';

// Compiled to dist*/test/, so the repository root is two levels up.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const SAMPLE = path.join(ROOT, 'test/fixtures/results/sample.json');
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** node --import NO_VEGA: as where vega and vega-lite (optional peer dependencies) are not installed. */
const NO_VEGA = new URL('./support/no-vega.js', import.meta.url).href;
const T = { timeout: 60_000 };

const raw = (): Record<string, any> => JSON.parse(fs.readFileSync(SAMPLE, 'utf8'));
const sample = (): LabResults => validateResults(raw());

let rendered: Promise<string> | undefined;
const html = (): Promise<string> => (rendered ??= renderReport(sample()));

/** The figure of one chart: from `<figure data-chart="id">` to its `</figure>`. */
function figure(page: string, id: string): string {
  const start = page.indexOf(`<figure data-chart="${id}">`);
  assert.ok(start >= 0, `figure ${id} present`);
  return page.slice(start, page.indexOf('</figure>', start));
}

/** For each vega mark group of a type (line, rect, rule, symbol, text) the elements it draws. */
function markGroups(svg: string, type: string): string[][] {
  const out: string[][] = [];
  const open = `<g class="mark-${type} role-mark`;
  for (let i = svg.indexOf(open); i >= 0; i = svg.indexOf(open, i + 1)) {
    const end = svg.indexOf('>', i);
    // A layer with nothing to draw (no failed point in the panel) is an empty <g …/>.
    const body = svg[end - 1] === '/' ? '' : svg.slice(end + 1, svg.indexOf('</g>', i));
    out.push(body.match(/<(path|line|text)\b[^>]*>/g) ?? []);
  }
  return out;
}

/** The width an SVG declares, px. */
const svgWidth = (svg: string): number => Number(/<svg[^>]*\bwidth="([\d.]+)"/.exec(svg)![1]);

/** A version-1 document: the sample without the fields version 2 added. */
function version1(d: any): any {
  d.version = 1;
  delete d.configuration.reruns;
  for (const e of d.entries) {
    delete e.interference;
    delete e.failure;
    for (const s of [...e.samples, ...(e.churn?.baselineSamples ?? [])]) delete s.cpu;
  }
  // Version 1 has no failed points: the one failed point's missing repetitions are filled in.
  const f = d.entries.find((e: any) => e.samples.length < d.configuration.repetitions);
  while (f.samples.length < d.configuration.repetitions) f.samples.push(f.samples[0]);
  return d;
}

/** The sample as a quiet machine would have measured it: nothing disturbed. */
function quiet(r: LabResults): LabResults {
  for (const e of r.entries) {
    if (!e.interference) continue;
    e.interference.disturbed = false;
    delete e.interference.reason;
  }
  return validateResults(r);
}

/** Elements that actually draw something: a path with a non-empty d, a line, a text with content. */
function drawn(elements: string[]): string[] {
  return elements.filter((e) => (e.startsWith('<path') ? /\bd="M[^"]+"/.test(e) : true));
}

function expectError(doc: unknown, path: string, problem?: RegExp): void {
  assert.throws(
    () => validateResults(doc),
    (e: unknown) => {
      assert.ok(e instanceof ResultsFormatError, `a ResultsFormatError, got ${String(e)}`);
      assert.equal(e.path, path, `error names ${path}: ${e.message}`);
      assert.ok(e.message.startsWith(path ? `${path}: ` : ''), e.message);
      if (problem) assert.match(e.message, problem);
      return true;
    },
  );
}

/** The synthetic sample's designs: the built-in ones when generate.mjs last changed (a design added since is not in it). */
function sampleDesigns(): string[] {
  return [...sample().configuration.designs];
}

test('validateResults accepts the synthetic sample and returns it unchanged', T, () => {
  const doc = raw();
  const r = validateResults(doc);
  assert.deepEqual(r, doc);
  assert.equal(r.synthetic, true);
  assert.deepEqual(r.configuration.designs, DESIGN_NAMES.filter((d) => r.configuration.designs.includes(d)), 'built-in designs, in the registry\'s order');
  assert.ok(r.configuration.designs.length >= 8);
  assert.equal(r.entries.length, 248);
  const churn = r.entries.filter((e) => e.workload === 'churn');
  assert.ok(churn.length > 0 && churn.every((e) => e.churn && churnKeptPct(e)! > 0));
});

test('sample.json is what generate.mjs writes (the fixture is reproducible)', T, () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'test/fixtures/results/generate.mjs'), '--stdout'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout === fs.readFileSync(SAMPLE, 'utf8'), 'regenerate with: node test/fixtures/results/generate.mjs');
});

test('validateResults rejects broken documents, naming the bad field', T, () => {
  const churnAt = raw().entries.findIndex((e: any) => e.workload === 'churn');
  const munmapAt = raw().entries.findIndex((e: any) => e.munmapLatencyUs);
  const disturbedAt = raw().entries.findIndex((e: any) => e.interference.disturbed);
  const failedAt = raw().entries.findIndex((e: any) => e.failure);
  assert.equal(raw().entries[9].interference.disturbed, false, 'entries[9] is a quiet 2-thread point');
  assert.equal(raw().entries[9].threads, 2);
  const cases: [string, (d: any) => unknown, string, RegExp?][] = [
    ['not an object', () => [], '', /expected an object/],
    ['wrong format', (d) => ((d.format = 'other'), d), 'format'],
    ['future version', (d) => ((d.version = 4), d), 'version', /unsupported version 4 \(this mmsplit reads versions 1, 2 and 3\)/],
    ['bad date', (d) => ((d.createdAt = 'yesterday'), d), 'createdAt'],
    ['unknown top-level field', (d) => ((d.result = []), d), 'result', /unknown field/],
    ['machine missing', (d) => (delete d.machine, d), 'machine'],
    ['zero cores', (d) => ((d.machine.cores = 0), d), 'machine.cores', /≥ 1/],
    ['no v8', (d) => ((d.machine.v8 = ''), d), 'machine.v8'],
    ['unknown design', (d) => ((d.configuration.designs[2] = 'maple'), d), 'configuration.designs[2]', /per-vma-lock/],
    ['threads descending', (d) => ((d.configuration.threads = [1, 4, 2, 8]), d), 'configuration.threads[2]', /ascending/],
    ['fractional repetitions', (d) => ((d.configuration.repetitions = 2.5), d), 'configuration.repetitions', /integer/],
    ['more rounds than repetitions', (d) => ((d.configuration.rounds = 4), d), 'configuration.rounds', /only 3 repetitions/],
    ['zero rounds', (d) => ((d.configuration.rounds = 0), d), 'configuration.rounds', /≥ 1/],
    ['headline not configured', (d) => ((d.configuration.workloads = ['page_fault1']), (d.entries = []), d), 'configuration.headlineWorkloads[1]'],
    ['no entries', (d) => ((d.entries = []), d), 'entries', /at least 1/],
    ['ops/s not a number', (d) => ((d.entries[3].median.opsPerSec = 'fast'), d), 'entries[3].median.opsPerSec', /"fast"/],
    ['median disagrees with samples', (d) => ((d.entries[7].median.faultsPerSec *= 1.01), d), 'entries[7].median.faultsPerSec', /median of the samples/],
    ['misspelt design', (d) => ((d.entries[0].design = 'mmap_lock'), d), 'entries[0].design'],
    ['threads not configured', (d) => ((d.entries[1].threads = 3), d), 'entries[1].threads'],
    ['a sample missing', (d) => (d.entries[5].samples.pop(), d), 'entries[5].samples', /expected 3 samples/],
    ['negative count', (d) => ((d.entries[9].samples[1].faults = -1), d), 'entries[9].samples[1].faults'],
    ['zero elapsed', (d) => ((d.entries[9].samples[0].elapsedMs = 0), d), 'entries[9].samples[0].elapsedMs', /> 0/],
    ['misspelt counter', (d) => ((d.entries[2].counters.fastpath = 1), d), 'entries[2].counters.fastpath', /unknown field/],
    ['common counter among extras', (d) => ((d.entries[20].counters.extra = { retry: 1 }), d), 'entries[20].counters.extra.retry'],
    ['fractional counter', (d) => ((d.entries[20].counters.fallback = 0.5), d), 'entries[20].counters.fallback'],
    ['percentiles decrease', (d) => ((d.entries[munmapAt].munmapLatencyUs.p99 = 0), d), `entries[${munmapAt}].munmapLatencyUs.p99`, /must not decrease/],
    ['churn info missing', (d) => (delete d.entries[churnAt].churn, d), `entries[${churnAt}].churn`],
    ['churn workers do not add up', (d) => ((d.entries[churnAt].churn.churnWorkers += 1), d), `entries[${churnAt}].churn.churnWorkers`, /must equal/],
    ['churn info on another workload', (d) => ((d.entries[0].churn = d.entries[churnAt].churn), d), 'entries[0].churn'],
    ['churn baseline disagrees', (d) => ((d.entries[churnAt].churn.baselineFaultsPerSec = 1), d), `entries[${churnAt}].churn.baselineFaultsPerSec`],
    ['duplicate entry', (d) => (d.entries.push(structuredClone(d.entries[4])), d), `entries[${raw().entries.length}]`, /entries\[4\]/],
    // Version 2's fields: CPU accounting, interference, failed points, reruns.
    ['negative reruns', (d) => ((d.configuration.reruns = -1), d), 'configuration.reruns', /≥ 0/],
    ['cpu time negative', (d) => ((d.entries[9].samples[1].cpu.workersOnCpuMs = -1), d), 'entries[9].samples[1].cpu.workersOnCpuMs', /≥ 0/],
    ['cpu time in ns', (d) => ((d.entries[9].samples[1].cpu.workersOnCpuMs *= 1e6), d), 'entries[9].samples[1].cpu', /more than 1.5 × 2 workers × elapsedMs/],
    ['busy CPUs beyond the machine', (d) => ((d.entries[9].samples[1].cpu.otherBusyCpus = 9.5), d), 'entries[9].samples[1].cpu.otherBusyCpus', /machine.cores \+ 1 = 9/],
    ['misspelt cpu field', (d) => ((d.entries[9].samples[1].cpu.steal = 0), d), 'entries[9].samples[1].cpu.steal', /unknown field/],
    ['fractional sleeps', (d) => ((d.entries[9].samples[1].cpu.workersSleeps = 2.5), d), 'entries[9].samples[1].cpu.workersSleeps', /integer/],
    ['preemptions missing', (d) => (delete d.entries[9].samples[1].cpu.workersPreemptions, d), 'entries[9].samples[1].cpu.workersPreemptions', /finite number/],
    [
      "churn's interference without its baseline's samples",
      (d) => {
        for (const b of d.entries[churnAt].churn.baselineSamples) b.cpu.workersRunqueueMs = 0.4 * b.elapsedMs;
        return d;
      },
      `entries[${churnAt}].interference.runqueueShare`,
      /with the churn-free baseline's/,
    ],
    ['baseline cpu of the wrong workers', (d) => ((d.entries[churnAt].churn.baselineSamples[0].cpu.workersRunqueueMs = 2.9 * d.entries[churnAt].churn.baselineSamples[0].elapsedMs), d), `entries[${churnAt}].churn.baselineSamples[0].cpu`, /1 workers/],
    ['share beyond 1.5', (d) => ((d.entries[9].interference.cpuShare = 1.6), d), 'entries[9].interference.cpuShare', /\[0, 1.5\]/],
    ['negative share', (d) => ((d.entries[9].interference.runqueueShare = -0.01), d), 'entries[9].interference.runqueueShare', /≥ 0/],
    ['share disagrees with samples', (d) => ((d.entries[9].interference.cpuShare *= 0.99), d), 'entries[9].interference.cpuShare', /median over the samples' cpu/],
    ['busy CPUs disagree', (d) => ((d.entries[9].interference.otherBusyCpus += 0.5), d), 'entries[9].interference.otherBusyCpus', /median over the samples' cpu/],
    ['disturbed not a boolean', (d) => ((d.entries[9].interference.disturbed = 'yes'), d), 'entries[9].interference.disturbed', /true or false/],
    ['no attempt', (d) => ((d.entries[9].interference.attempts = 0), d), 'entries[9].interference.attempts', /≥ 1/],
    ['fractional attempts', (d) => ((d.entries[9].interference.attempts = 1.5), d), 'entries[9].interference.attempts', /integer/],
    ['more attempts than reruns allow', (d) => ((d.entries[9].interference.attempts = 4), d), 'entries[9].interference.attempts', /at most 3/],
    ['more attempts than rounds and reruns allow', (d) => ((d.configuration.rounds = 3), (d.entries[9].interference.attempts = 6), d), 'entries[9].interference.attempts', /at most 5 \(3 rounds and 2 re-runs\)/],
    ['disturbed without a reason', (d) => (delete d.entries[disturbedAt].interference.reason, d), `entries[${disturbedAt}].interference.reason`, /non-empty string/],
    ['a quiet point with a reason', (d) => ((d.entries[9].interference.reason = 'busy'), d), 'entries[9].interference.reason', /only a disturbed point/],
    ['unknown failure kind', (d) => ((d.entries[failedAt].failure.kind = 'crash'), d), `entries[${failedAt}].failure.kind`, /oom, error/],
    ['failure without a message', (d) => ((d.entries[failedAt].failure.message = ''), d), `entries[${failedAt}].failure.message`],
    ['failure with unknown fields', (d) => ((d.entries[failedAt].failure.signal = 9), d), `entries[${failedAt}].failure.signal`, /unknown field/],
    ['failed point with too many samples', (d) => (d.entries[failedAt].samples.push(...d.entries[9].samples.slice(0, 3)), d), `entries[${failedAt}].samples`, /at most 3 samples/],
    ['failed point without samples but a median', (d) => ((d.entries[failedAt].samples = []), delete d.entries[failedAt].interference, d), `entries[${failedAt}].median.opsPerSec`, /\(none: 0\)/],
    ['version 1 with a version-2 field', (d) => ((d.version = 1), d), 'configuration.reruns', /unknown field/],
    ['version 1 with cpu', (d) => ((d = version1(d)), (d.entries[3].samples[0].cpu = { workersOnCpuMs: 1, workersRunqueueMs: 0, otherBusyCpus: 0 }), d), 'entries[3].samples[0].cpu', /unknown field/],
  ];
  for (const [what, mutate, path, problem] of cases) {
    const doc = mutate(raw());
    try {
      expectError(doc, path, problem);
    } catch (e) {
      throw new Error(`case "${what}": ${(e as Error).message}`);
    }
  }
  expectError(null, '', /expected an object, got null/);
});

test('validateResults reads version 1, failed points with fewer samples or none (medians 0), samples without cpu', T, async () => {
  const v1 = validateResults(version1(raw()));
  assert.equal(v1.version, 1);
  assert.ok(v1.entries.every((e) => !e.interference && !e.failure && e.samples.every((s) => !s.cpu)));

  const d = raw();
  const f = d.entries.find((e: any) => e.failure);
  assert.equal(f.samples.length, 1, 'the sample fails after one repetition of three');
  f.samples = [];
  f.median = { opsPerSec: 0, faultsPerSec: 0 };
  delete f.interference; // its medians would be of no samples
  // A churn point that failed before its baseline ran has no churn object.
  const churn = d.entries.find((e: any) => e.workload === 'churn' && e.threads === 8 && e.design === 'spf');
  churn.failure = { kind: 'error', message: 'a worker died: lost wake-up' };
  delete churn.churn;
  Object.assign(churn.interference, interferenceMedians([{ samples: churn.samples, workers: 8 }]));
  // A sample may lack cpu (a worker's /proc entries gone): the medians are over the others.
  const pf = d.entries.find((e: any) => e.workload === 'page_fault1' && e.threads === 4 && e.design === 'srcu');
  delete pf.samples[1].cpu;
  Object.assign(pf.interference, interferenceMedians([{ samples: pf.samples, workers: 4 }]));
  const r = validateResults(d);
  assert.match(summaryTable(r), /churn\s+spf\s+8\s+failed \(error\)/);
  await renderReport(r);
  const failed = r.entries.find((e) => e.failure && e.workload === 'io')!;
  assert.deepEqual(failed.samples, []);
  assert.match(summaryTable(r), /srcu-sync\s+8\s+failed \(oom\)/);
  assert.match(summaryTable(r), /after 0 of 3 repetitions\): out of frames/);
});

test('median: middle value, mean of the two middle values for an even count', T, () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('renderReport draws the four charts as inline SVG with marks', T, async () => {
  const page = await html();
  const designs = sampleDesigns();

  const throughput = figure(page, 'throughput');
  const lines = markGroups(throughput, 'line').map(drawn);
  assert.ok(lines.length >= 8, `a line layer per workload panel, got ${lines.length}`);
  assert.equal(lines.flat().length, designs.length * 8, 'one line per design in each of the 8 workload panels');
  assert.ok(markGroups(throughput, 'symbol').flat().length >= 200, 'a point per entry');

  const churn = figure(page, 'churn');
  const bars = markGroups(churn, 'rect').map(drawn);
  assert.equal(bars.length, 2, 'two bar panels: kept % and × mmap-lock');
  for (const b of bars) assert.equal(b.length, designs.length, 'a bar per design');
  assert.match(churn, /97\.3%/, "per-vma-lock's kept % is labelled");

  const munmap = figure(page, 'munmap');
  const rules = markGroups(munmap, 'rule').map(drawn);
  assert.ok(rules.length >= 1 && rules.every((g) => g.length === designs.length), 'a p50–max range per design');
  const points = markGroups(munmap, 'symbol').map(drawn);
  assert.ok(points.every((g) => g.length === designs.length * 4), 'p50, p90, p99, max per design');
  assert.match(munmap, /srcu-sync/);

  const fast = figure(page, 'fastpath');
  const rateBars = markGroups(fast, 'rect').map(drawn);
  assert.equal(rateBars.length, 9, 'three outcome panels for each of the three headline workloads');
  assert.ok(rateBars.every((g) => g.length === designs.length));
  assert.match(fast, /every fault takes mmap_lock/);

  // The spread: a whisker (the errorbar's rule) per point that has samples and did not fail.
  const r = sample();
  const whiskers = markGroups(throughput, 'rule').flat().filter((e) => /aria-roledescription="errorbar"/.test(e));
  assert.equal(whiskers.length, r.entries.filter((e) => !e.failure).length, 'a whisker per measured point');
  // Disturbed points hollow (a white ring shown over them), the failed one a cross on the axis.
  const rings = markGroups(throughput, 'symbol').flat().filter((e) => /fill="white"/.test(e) && /opacity="1"/.test(e));
  assert.equal(rings.length, r.entries.filter((e) => e.interference?.disturbed && !e.failure).length, 'a visible ring per disturbed point');
  assert.equal(markGroups(throughput, 'symbol').flat().filter((e) => /design: srcu-sync/.test(e) && /d="M-[\d.]+,-[\d.]+L/.test(e)).length, 1, 'one cross');
  const filled = markGroups(throughput, 'symbol').flat().filter((e) => /aria-roledescription="point"/.test(e) && /fill="#/.test(e));
  assert.equal(filled.length, r.entries.length - 1, 'a point per entry but the failed one: no point at its partial rate');
  assert.match(throughput, /Hollow points: 35 disturbed points/);
  assert.match(throughput, /✕ on the axis, no figure: failed: srcu-sync io at 8 threads \(oom: out of frames/);
  // Faded bars and marked labels for disturbed points; the failed point labelled, with no bar.
  assert.match(fast, /failed \(oom\)/);
  assert.match(fast, />99\.99% !</);
  assert.ok(markGroups(fast, 'rect').flat().some((e) => /opacity="0\.4"/.test(e)), 'faded bars');
  assert.match(churn, /whiskers span the lowest and highest repetition/);

  // Every chart is an <svg> that draws each design in its own colour, the same colour in every chart.
  for (const id of ['throughput', 'churn', 'munmap', 'fastpath']) {
    const f = figure(page, id);
    assert.equal(f.match(/<svg /g)?.length, 1, `${id}: one svg`);
    for (const d of designs) assert.ok(f.includes(designMeta(r, d).color), `${id}: ${d} drawn in ${designMeta(r, d).color}`);
  }
});

test('the page shows interference: a banner on top, marks in the tables, failed points as failed', T, async () => {
  const page = await html();
  const banner = /<div class="banner disturbed" role="alert">(.*?)<\/div>/.exec(page);
  assert.ok(banner, 'a banner');
  assert.ok(page.indexOf(banner[0]) < page.indexOf('<section id="summary">'), 'on top');
  assert.equal(banner[1], esc(interferenceWarning(sample())!).replace(/^WARNING:/, '<b>Disturbed run:</b>'));
  const summary = page.slice(page.indexOf('<section id="summary">'), page.indexOf('</section>', page.indexOf('<section id="summary">')));
  const marks = summary.match(/<span class="mark" title="workers waited for a CPU \d+% of the time; other processes kept [\d.]+ CPUs busy">!<\/span>/g) ?? [];
  assert.equal(marks.length, summaryRows(sample()).filter((x) => x.disturbed).length, 'a mark with its reason per disturbed row');
  assert.match(summary, /<td class="failed">failed \(oom\)<\/td>/);
  assert.match(summary, /<li>srcu-sync io at 8 threads failed \(oom, after 1 of 3 repetitions\): out of frames/);
  assert.match(summary, /\d\.\d\d M \(\d\.\d\d–\d\.\d\d\)/, 'the spread beside the median');
  const all = page.slice(page.indexOf('<details id="all-points">'));
  assert.match(all, /<td class="failed">failed \(oom\)<\/td><td class="na">—<\/td>/);
  assert.match(all, /<td class="note">oom: out of frames[^<]*; workers waited for a CPU \d+% of the time/);
});

test('the report is self-contained: no script, no stylesheet link, nothing fetched', T, async () => {
  const page = await html();
  assert.ok(page.startsWith('<!DOCTYPE html>'));
  assert.doesNotMatch(page, /<script|<link|<iframe|<img|<object|<embed|@import|@font-face|url\((?!#)/i);
  // One document, many SVGs: every id unique, every url(#id) resolving to an id in the same chart.
  const ids = [...page.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(new Set(ids).size, ids.length, 'ids unique');
  for (const id of ['throughput', 'churn', 'munmap', 'fastpath']) {
    const f = figure(page, id);
    const refs = [...f.matchAll(/url\(#([^)]+)\)/g)].map((m) => m[1]!);
    assert.ok(refs.every((x) => x.startsWith(`${id}-`) && f.includes(`id="${x}"`)), `${id}: clip paths resolve`);
    if (id === 'throughput') assert.ok(refs.length >= 8, 'the line panels clip');
  }
  const urls = page.match(/https?:\/\/[^"'\s)<]*/g) ?? [];
  assert.deepEqual([...new Set(urls)].sort(), ['http://www.w3.org/1999/xlink', 'http://www.w3.org/2000/svg']);
  for (const m of page.matchAll(/\b(src|href)\s*=\s*"([^"]*)"/g)) assert.doesNotMatch(m[2]!, /^https?:|^\/\//, m[0]);
  for (const m of page.matchAll(/xmlns(:\w+)?="([^"]*)"/g)) assert.match(m[2]!, /^http:\/\/www\.w3\.org\//);
  // The header carries machine, runtime and configuration; synthetic data says so.
  for (const s of ['Synthetic CPU', 'v20.20.2', '11.3.244.8', '1, 2, 4, 8', 'median of 3 × 2 s', 'SYNTHETIC DATA']) assert.ok(page.includes(s), s);
  // Text from the results file is escaped.
  const r = sample();
  r.machine.cpuModel = '<b>evil</b> & co';
  const p2 = await renderReport(r, { title: 'T <1>' });
  assert.ok(p2.includes('&lt;b&gt;evil&lt;/b&gt; &amp; co') && p2.includes('<title>T &lt;1&gt;</title>'));
  assert.ok(!p2.includes('<b>evil'));
});

test('a report renders from partial results: no churn, one thread count, no fast-path designs', T, async () => {
  const r = sample();
  r.configuration.designs = ['mmap-lock', 'mmap-lock-rbtree'];
  r.configuration.workloads = ['page_fault1', 'mmap1'];
  r.configuration.threads = [2];
  delete r.configuration.headlineWorkloads;
  r.entries = r.entries.filter((e) => e.design.startsWith('mmap-lock') && ['page_fault1', 'mmap1'].includes(e.workload) && e.threads === 2);
  const page = await renderReport(r);
  assert.match(figure(page, 'churn'), /class="missing">The results hold no churn entries/);
  const points = markGroups(figure(page, 'throughput'), 'symbol').flat().filter((e) => !/fill="white"/.test(e));
  assert.equal(points.length, 4, 'a filled point per entry (the rings that hollow disturbed points are white)');
  assert.ok(markGroups(figure(page, 'munmap'), 'rule').flat().length > 0);
  assert.match(figure(page, 'fastpath'), /every fault takes mmap_lock/);
  const text = summaryTable(r);
  assert.match(text, /no fast path/);
});

test('summaryTable: every design for each headline workload, aligned, with the derived columns', T, () => {
  const r = sample();
  const text = summaryTable(r);
  const lines = text.split('\n');
  assert.match(lines[0]!, /^SYNTHETIC DATA/);
  const end = lines.findIndex((l) => l.startsWith('ops/s: '));
  const table = lines.slice(2, end).filter((l) => l !== '');
  assert.match(table[0]!, /^workload\s+design\s+threads\s+ops\/s \(min–max\)\s+cpu wait\s+scaling\s+churn kept\s+×mmap-lock\s+fallback$/);
  assert.ok(table.every((l) => l.length === table[0]!.length), 'every row as wide as the header');
  for (const d of sampleDesigns()) assert.equal(table.filter((l) => l.split(/\s+/)[1] === d).length, 3, `${d}: a row per headline workload`);

  const rows = summaryRows(r);
  const pvl = rows.find((x) => x.workload === 'churn' && x.design === 'per-vma-lock')!;
  const e = r.entries.find((x) => x.workload === 'churn' && x.design === 'per-vma-lock' && x.threads === 8)!;
  assert.equal(pvl.threads, 8);
  assert.equal(pvl.opsPerSec, e.median.faultsPerSec);
  assert.equal(pvl.churnKeptPct, churnKeptPct(e));
  const base = r.entries.find((x) => x.workload === 'churn' && x.design === 'mmap-lock' && x.threads === 8)!;
  assert.equal(pvl.timesMmapLock, e.median.faultsPerSec / base.median.faultsPerSec);
  const two = r.entries.find((x) => x.workload === 'churn' && x.design === 'per-vma-lock' && x.threads === 2)!;
  assert.equal(pvl.scaling, e.median.faultsPerSec / two.median.faultsPerSec);
  assert.equal(pvl.scalingBaseThreads, 2);
  const faults = e.samples.reduce((a, s) => a + s.faults, 0);
  assert.equal(pvl.fallbackPct, (e.counters.fallback / faults) * 100);
  assert.ok(text.includes(`${pvl.churnKeptPct!.toFixed(1)}%`));
  assert.equal(rows.find((x) => x.design === 'mmap-lock')!.fallbackPct, null);

  // The spread: the samples' lowest and highest rate, in the median's unit, beside it.
  const rates = e.samples.map((s) => sampleRates(s).faultsPerSec);
  assert.deepEqual(pvl.spread, { lo: Math.min(...rates), hi: Math.max(...rates) });
  const line = (w: string, d: string) => table.find((l) => l.split(/\s+/)[0] === w && l.split(/\s+/)[1] === d)!;
  const cells = (l: string) => l.split(/\s{2,}/);
  const fmt = (x: number) => (x / 1e6).toFixed(2);
  assert.ok(text.includes(`${fmt(e.median.faultsPerSec)} M (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))})`), 'churn per-vma-lock: median (min–max)');
  for (const l of table.slice(2)) assert.match(cells(l)[3]!, /^(\d+(\.\d+)? [kM]? ?\(\d+(\.\d+)?–\d+(\.\d+)?\)|failed \(oom\))$/, l);

  // Disturbed points: the mark after their CPU wait, a legend line; quiet points: none.
  const pf = r.entries.filter((x) => x.workload === 'page_fault1' && x.threads === 8);
  for (const x of pf) {
    const l = line('page_fault1', x.design);
    assert.equal(cells(l)[4], `${(x.interference!.runqueueShare * 100).toFixed(x.interference!.runqueueShare >= 0.1 ? 0 : 1)}%${x.interference!.disturbed ? ' !' : ''}`, l);
  }
  assert.ok(pf.some((x) => x.interference!.disturbed) && pf.some((x) => !x.interference!.disturbed), 'the fixture has both');
  assert.ok(lines.some((l) => l.startsWith('! disturbed: ')), 'the mark is explained');

  // The failed point: the word, never a number, and its message on a line of its own.
  assert.match(line('io', 'srcu-sync'), /srcu-sync\s+8\s+failed \(oom\)\s+\d+% !\s+—\s+—\s+—\s+—$/);
  assert.ok(lines.includes('srcu-sync io at 8 threads failed (oom, after 1 of 3 repetitions): out of frames: 262144 in use, nothing left to reclaim (a fault at 0x7f3a2c400000)'));
  assert.equal(rows.find((x) => x.failure)!.opsPerSec, null);

  // One warning line at the end, with the data's numbers: medians over the disturbed points.
  const disturbed = r.entries.filter((x) => x.interference?.disturbed).map((x) => x.interference!);
  const warning = lines[lines.length - 1]!;
  assert.equal(warning, interferenceWarning(r));
  assert.equal(lines.filter((l) => l.startsWith('WARNING')).length, 1);
  assert.ok(warning.startsWith(`WARNING: ${disturbed.length} of ${r.entries.length} points were disturbed even after up to 2 re-runs: `), warning);
  assert.ok(warning.includes(`waited for a CPU ${(median(disturbed.map((i) => i.runqueueShare)) * 100).toFixed(0)}% of the time`), warning);
  assert.ok(warning.includes(`kept ${median(disturbed.map((i) => i.otherBusyCpus)).toFixed(1)} CPUs busy`), warning);
  assert.match(warning, /re-run on a quiet machine/);
});

test('a quiet run: no warning, no mark, no banner', T, async () => {
  const r = quiet(sample());
  assert.equal(interferenceWarning(r), undefined);
  const text = summaryTable(r);
  assert.doesNotMatch(text, /WARNING|disturbed| !/);
  const page = await renderReport(r);
  assert.doesNotMatch(page, /class="banner disturbed"|class="mark"|disturbed point/);
  // A version-1 file has no CPU accounting at all: no warning either, and the wait column is empty.
  const v1 = validateResults(version1(raw()));
  assert.equal(interferenceWarning(v1), undefined);
  assert.ok(summaryRows(v1).every((x) => x.runqueueShare === null && !x.disturbed));
});

test('a point whose samples lie more than 1.5× apart is called unstable, in the summary and the page', T, async () => {
  const r = quiet(sample());
  assert.equal(instabilityWarning(r), undefined);
  const e = r.entries.find((x) => x.workload === 'page_fault1' && x.threads === 1 && x.design === 'spf')!;
  e.samples[0]!.ops = Math.round(e.samples[1]!.ops / 2); // a spell at half speed
  e.median = sampleMedians(e.samples);
  const w = instabilityWarning(r)!;
  assert.match(w, /^WARNING: 1 of \d+ points were unstable: .* \(worst spf page_fault1 at 1 threads, 2\.\d×\)/);
  assert.ok(summaryTable(r).trimEnd().endsWith(w), 'the summary ends with it');
  assert.match(await renderReport(r), /class="banner unstable"/);
  // a failed point is not measured: never unstable
  e.failure = { kind: 'oom', message: 'out of frames' };
  assert.equal(instabilityWarning(r), undefined);
});

test('chart d keeps a fixed width for 8 designs × 4 workloads, even with counters that disagree with the samples', T, async () => {
  const r = sample();
  r.configuration.workloads = ['page_fault1', 'churn', 'io', 'trace'];
  delete r.configuration.headlineWorkloads;
  r.entries = r.entries.filter((e) => r.configuration.workloads.includes(e.workload));
  // Counters over a wider window than the samples': the fast path at 265% of the faults, 130 retries each.
  for (const e of r.entries) {
    if (!e.counters.fastPath) continue;
    const faults = e.samples.reduce((a, s) => a + s.faults, 0);
    e.counters.fastPath = Math.round(faults * 2.65);
    e.counters.retry = faults * 130;
  }
  for (const c of chartSpecs(validateResults(r))) {
    const svg = await renderSvg(c.spec!);
    // The page's column is 1176 px; the fast-path grid is three 190 px panels and their labels.
    assert.ok(svgWidth(svg) <= (c.id === 'fastpath' ? 1000 : 1176), `${c.id}: ${svgWidth(svg)} px wide`);
    if (c.id === 'fastpath') {
      assert.equal(markGroups(svg, 'rect').length, 12, 'three panels for each of the four workloads');
      const shares = [...svg.matchAll(/>(\d+(\.\d+)?)%( !)?<\/text>/g)].map((m) => Number(m[1]));
      assert.ok(shares.some((x) => x > 100), 'retries per 100 faults may exceed 100');
      assert.match(c.notes!.join(' '), /the counters saw 26\d\.\d%–\d+\.\d% of the faults the samples counted/);
    }
  }
});

/**
 * The sample as mmsplit simulate would have written it: a simulation block, and its thread counts read as
 * simulated CPUs 8 times as many (8 to 64), its rates 3 times the measured ones.
 */
function simulatedSample(): LabResults {
  const d = raw();
  d.simulation = { profile: { name: 'test-64', cpus: 64, description: 'a made-up machine', source: 'none' }, quantumNs: 1000, startLimitMs: 100, costs: [] };
  d.configuration.threads = d.configuration.threads.map((t: number) => t * 8);
  for (const e of d.entries) {
    e.threads *= 8;
    if (e.churn) {
      e.churn.faultWorkers *= 8;
      e.churn.churnWorkers *= 8;
    }
    delete e.interference;
    e.begunMs = 0.5 * e.threads; // every CPU's thread began
    for (const x of [e.median, ...e.samples]) for (const k of ['opsPerSec', 'faultsPerSec'] as const) if (typeof x[k] === 'number') x[k] *= 3;
    for (const x of e.samples) for (const k of ['ops', 'faults'] as const) if (typeof x[k] === 'number') x[k] *= 3;
  }
  return validateResults(d);
}

test('simulated points sampled before every CPU\'s thread began are named in one warning; measured results never are', () => {
  const r = simulatedSample();
  assert.equal(unbegunWarning(r), undefined, 'every point began');
  assert.equal(unbegunWarning(sample()), undefined, 'measured results have no such instant');
  for (const e of r.entries.filter((x) => x.design === 'spf' && x.workload === 'churn' && x.threads >= 32)) delete e.begunMs;
  const w = unbegunWarning(r)!;
  assert.match(w, /^WARNING: 2 of \d+ simulated points were sampled before every CPU's thread had done its first operation \(none came within 100 virtual ms: spf churn at 32 CPUs, spf churn at 64 CPUs\)/);
  assert.ok(runWarnings(r).includes(w), 'it ends the summary and heads the report with the others');
  assert.match(summaryTable(r), /2 of \d+ simulated points were sampled before/);
});

test('the many-CPU chart: simulated curves against CPUs, measured points beside them, told apart', T, async () => {
  const measured = sample();
  const simulated = simulatedSample();
  const designs = sampleDesigns();
  assert.deepEqual(chartSpecs(measured).map((c) => c.id), ['throughput', 'churn', 'munmap', 'fastpath'], 'no simulation, no many-CPU chart');
  assert.deepEqual(chartSpecs(simulated).map((c) => c.id), ['throughput', 'churn', 'munmap', 'fastpath', 'manycpus'], 'a simulation draws it');
  assert.match(chartSpecs(simulated)[4]!.notes!.join(' '), /No measured results beside them/);

  const page = await renderReport(measured, { beside: simulated });
  const many = figure(page, 'manycpus');
  assert.match(page, /Beside these results: simulated results on test-64 \(64 CPUs; 248 points\), in <code>simulated\.json<\/code>/);
  assert.match(many, /Solid lines and filled points: simulated on test-64/);
  assert.match(many, /Dashed lines and hollow squares: measured on/);
  // page_fault1 then churn first (the thread's two), then the sample's other workloads: one row each.
  assert.match(many, /Shows: page_fault1, churn, page_fault2, page_fault3, mmap1, mmap2, io, trace at 1, 2, 4, 8, 16, 32, 64 CPUs/);
  const lines = markGroups(many, 'line').map(drawn).flat();
  const dashed = lines.filter((l) => /stroke-dasharray="5,3"/.test(l));
  // Per row: throughput, × mmap-lock and (for the workloads that fault) fell back, a line per design and source.
  assert.ok(dashed.length >= designs.length * 8, `measured lines are dashed: ${dashed.length}`);
  assert.ok(lines.length - dashed.length >= designs.length * 8, 'simulated lines are solid');
  const squares = markGroups(many, 'symbol').flat().filter((e) => /fill="white"/.test(e) && /M[-\d.]+,[-\d.]+h[\d.]+v[\d.]+h-/.test(e));
  assert.ok(squares.length >= measured.entries.length - 1, `a hollow square per measured point, got ${squares.length}`);
  assert.match(many, /churn · × mmap-lock/);
  assert.match(many, /page_fault1 · fell back/);
  assert.doesNotMatch(many, /mmap1 · fell back/, 'no fallback panel where no design took a fast path');

  // The simulation as the page's own results, the measured ones beside it: the same chart, the other banner.
  const other = await renderReport(simulated, { beside: measured });
  assert.match(other, /SIMULATED — a machine of 64 CPUs/);
  assert.match(other, /Beside these results: measured results on .* in <code>measured\.json<\/code>/);
  assert.match(figure(other, 'manycpus'), /Dashed lines and hollow squares: measured on/);
  await assert.rejects(renderReport(measured, { beside: measured }), /must be of the other kind: both are measured/);
});

test('chart text widths follow the font (vega would guess 0.8 em a character)', T, () => {
  // Helvetica: 4,889/1000 em at 12 px, plus 4% for wider fallback fonts; vega's guess would be 86 px.
  assert.ok(Math.abs(textWidth('mmap-lock', 12) - 61) < 1, String(textWidth('mmap-lock', 12)));
  assert.ok(textWidth('WWW', 10) > textWidth('iii', 10) * 3);
});

test('writeReport writes index.html and results.json', T, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-report-'));
  try {
    const { html: h, json } = await writeReport(sample(), path.join(dir, 'out'));
    assert.equal(h, path.join(dir, 'out', 'index.html'));
    assert.match(fs.readFileSync(h, 'utf8'), /<figure data-chart="munmap">/);
    assert.deepEqual(validateResults(JSON.parse(fs.readFileSync(json, 'utf8'))), sample());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function cli(args: string[], nodeArgs: string[] = []) {
  return spawnSync(process.execPath, [...nodeArgs, CLI, ...args], { encoding: 'utf8', timeout: 50_000 });
}

test('mmsplit report: malformed files exit 2 naming the file and the field, without a stack trace', T, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-report-'));
  try {
    const bad = raw();
    bad.entries[3].median.opsPerSec = 'fast';
    const cases: [string, string, RegExp][] = [
      ['bad-field.json', JSON.stringify(bad), /entries\[3\]\.median\.opsPerSec/],
      ['not-json.json', '{"format": "mmsplit-lab-results",', /not JSON/],
      ['old.json', JSON.stringify({ ...raw(), version: 0 }), /field version: unsupported version 0/],
    ];
    for (const [name, text, field] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      const r = cli(['report', file, '--out', path.join(dir, 'out')]);
      assert.equal(r.status, 2, `${name}: exit 2 (stderr: ${r.stderr})`);
      assert.ok(r.stderr.includes(file), `${name}: the message names the file: ${r.stderr}`);
      assert.match(r.stderr, field);
      assert.match(r.stderr, /^mmsplit report: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
    const missing = cli(['report', path.join(dir, 'nope.json')]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.json: cannot read the file \(ENOENT\)/);
    assert.ok(!fs.existsSync(path.join(dir, 'out')), 'nothing written');
    // An --out that cannot take the report: one line, exit 2, at once (Node's recursive mkdir spins forever under /proc).
    const good = path.join(dir, 'good.json');
    fs.writeFileSync(good, JSON.stringify(raw()));
    const aFile = path.join(dir, 'a-file');
    fs.writeFileSync(aFile, '');
    for (const [out, why] of [['/proc/mmsplit-x', /--out \/proc\/mmsplit-x: cannot create the folder \(ENOENT\)/], [aFile, /exists and is not a folder/], [path.join(aFile, 'sub'), /cannot create the folder \(ENOTDIR\)/]] as const) {
      const r = cli(['report', good, '--out', out]);
      assert.equal(r.status, 2, `${out}: ${r.stderr}`);
      assert.match(r.stderr, why);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mmsplit report: renders a good file, prints the summary and the path; --json prints rows', T, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-report-'));
  try {
    const out = path.join(dir, 'out');
    const r = cli(['report', SAMPLE, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^SYNTHETIC DATA/);
    assert.doesNotMatch(r.stderr, /charts not drawn/);
    for (const d of sampleDesigns()) assert.ok(r.stdout.includes(d), d);
    assert.ok(r.stdout.trimEnd().endsWith(`report: ${path.join(out, 'index.html')}`), r.stdout.slice(-200));
    assert.ok(fs.statSync(path.join(out, 'index.html')).size > 10_000);

    const j = cli(['report', SAMPLE, '--out', out, '--json']);
    assert.equal(j.status, 0, j.stderr);
    const parsed = JSON.parse(j.stdout) as { report: string; results: string; summary: unknown[] };
    assert.equal(parsed.report, path.join(out, 'index.html'));
    assert.equal(parsed.results, path.join(out, 'results.json'));
    assert.equal(parsed.summary.length, sampleDesigns().length * 3);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mmsplit report MEASURED SIMULATED: both drawn, both kept; two of one kind or a bad second file exit 2', T, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-report-'));
  try {
    const sim = path.join(dir, 'sim.json');
    fs.writeFileSync(sim, JSON.stringify(simulatedSample()));
    const out = path.join(dir, 'out');
    const r = cli(['report', SAMPLE, sim, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(fs.readFileSync(path.join(out, 'index.html'), 'utf8'), /<figure data-chart="manycpus">/);
    assert.deepEqual(validateResults(JSON.parse(fs.readFileSync(path.join(out, 'simulated.json'), 'utf8'))), simulatedSample());
    assert.deepEqual(validateResults(JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'))), sample());
    for (const [second, why] of [[SAMPLE, /measured results, where simulated ones are drawn beside/], [path.join(dir, 'nope.json'), /nope\.json: cannot read the file \(ENOENT\)/]] as const) {
      const bad = cli(['report', SAMPLE, second, '--out', path.join(dir, 'bad')]);
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, why);
      assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
      assert.ok(!fs.existsSync(path.join(dir, 'bad')), 'nothing written');
    }
    const simBeside = cli(['simulate', '--beside', sim, '--out', path.join(dir, 'bad')]);
    assert.equal(simBeside.status, 2, simBeside.stderr);
    assert.match(simBeside.stderr, /^mmsplit simulate: .*sim\.json: simulated results, where measured ones are drawn beside/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mmsplit report without vega: the summary and results.json, one line on the terminal, a note where the charts would be', T, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-report-'));
  try {
    const out = path.join(dir, 'out');
    const r = cli(['report', SAMPLE, '--out', out], ['--import', NO_VEGA]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^SYNTHETIC DATA/);
    assert.equal(r.stderr, 'mmsplit report: charts not drawn: vega and vega-lite are not installed (npm install vega vega-lite draws them)\n');
    const page = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    assert.match(page, /<section id="charts">[^]*Charts not drawn: vega and vega-lite are not installed/);
    assert.doesNotMatch(page, /<svg|<figure/);
    for (const id of ['summary', 'all-points']) assert.ok(page.includes(`id="${id}"`), id);
    assert.deepEqual(validateResults(JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'))), sample());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
