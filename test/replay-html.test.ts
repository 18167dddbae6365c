/**
 * `mmsplit replay --html`: the page's data for the python3 fixture has one step per call replayed, and the
 * steps, applied one after the other to the layout before, give exactly the layout the replay printed (and
 * so the AFTER snapshot); a call that failed changed nothing; among the changes is a split. The command
 * exits 2 with one line for a folder it cannot write, before the replay, and 0 with the page otherwise. In
 * chromium (skipped where it is not installed) the page loads with no console error and no fetch, and the
 * keys step through the calls: the mappings' count changes, a split is marked, the end says the layout
 * matches /proc/PID/maps.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderReplayPage } from '../src/explore/replay-page.js';
import { parseMaps, type MapsEntry } from '../src/trace/maps.js';
import { replay } from '../src/trace/replay.js';
import { replayTimeline, type ReplayTimeline, type TimelineVma } from '../src/trace/timeline.js';
import { hasChromium, launchChromium, watchProblems } from './support/browser.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(ROOT, 'test/fixtures/strace/python3');
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const tupleOf = (e: MapsEntry): TimelineVma => [e.start, e.end, e.perms, e.offset, e.dev, e.inode, e.path];
const read = (f: string) => fs.readFileSync(path.join(FIX, f), 'utf8');

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The data a page carries, read back from its <script> as the page's own script reads it. */
function pageData(html: string): ReplayTimeline {
  const m = /<script id="run-data" type="application\/json">([^]*?)<\/script>/.exec(html);
  assert.ok(m, 'the page embeds its data');
  return JSON.parse(m[1]!) as ReplayTimeline;
}

test('replay --html data: a step per call replayed, the steps rebuild the final layout, a split among them', () => {
  const { timeline, result } = replayTimeline(read('trace.txt'), read('before.maps'), {}, { trace: 'trace.txt', maps: 'before.maps', expect: 'after.maps', expectText: read('after.maps') });
  const t = pageData(renderReplayPage(timeline));
  assert.equal(t.steps.length, t.calls - t.skipped);
  assert.equal(t.steps.length, result.matched + result.divergences);
  assert.ok(t.steps.length > 2000, `${t.steps.length} steps`);
  assert.equal(t.layoutMatches, true);
  // Applied in order, as the page applies them, the steps give the layout the replay printed.
  let layout: TimelineVma[] = t.before;
  for (const s of t.steps) {
    if (s.expected.startsWith('-1')) assert.deepEqual([s.del, s.add], [[], []], `line ${s.line}: a failed call changes nothing`);
    assert.equal(s.add.length, s.kinds.length);
    assert.equal(s.del.length, s.gone.length);
    const del = new Set(s.del);
    layout = layout.filter((_, i) => !del.has(i)).concat(s.add).sort((a, b) => a[0] - b[0]);
  }
  // (less the gate VMA, [vsyscall], which is not in the tree and which the page leaves out)
  const final = parseMaps(result.maps).filter((e) => !e.gate).map(tupleOf);
  assert.deepEqual(layout, final);
  // python3 maps its libraries page by page and mprotects their relro: splits, and the two halves say so.
  const split = t.steps.find((s) => s.kinds.includes('split'))!;
  assert.ok(split, 'a call split a mapping');
  assert.ok(split.kinds.filter((k) => k === 'split').length >= 2, `line ${split.line}: a split leaves two pieces at least`);
  for (const k of ['appeared', 'merged', 'shrunk'] as const) assert.ok(t.steps.some((s) => s.kinds.includes(k)), `some mapping ${k}`);
  assert.ok(t.steps.some((s) => s.gone.includes('removed')), 'some mapping removed');
});

test('replay --html data: after every call the steps give the layout the mm prints, with malformed calls (memtrace seeds)', () => {
  // The steps keep only the lines near what each call could touch: seeds with unaligned hints, huge lengths
  // and failing calls check that nothing outside that window changed, call by call.
  for (const seed of ['memtrace-seed-1', 'memtrace-seed-2', 'memtrace-seed-5']) {
    const dir = path.join(FIX, '..', seed);
    const [trace, before] = ['trace.txt', 'before.maps'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8')) as [string, string];
    const printed: string[] = [];
    replay(trace, before, { onCall: (_, mm) => printed.push(mm.formatMaps()) });
    const { timeline } = replayTimeline(trace, before, {}, { trace: 'trace.txt', maps: 'before.maps' });
    assert.equal(timeline.steps.length, printed.length);
    let layout: TimelineVma[] = timeline.before;
    timeline.steps.forEach((s, k) => {
      const del = new Set(s.del);
      layout = layout.filter((_, i) => !del.has(i)).concat(s.add).sort((a, b) => a[0] - b[0]);
      assert.deepEqual(layout, parseMaps(printed[k]!).map(tupleOf), `${seed}: after line ${s.line}`);
    });
  }
});

test('mmsplit replay --html: exit 2 and one line for a folder it cannot write, 0 and the page otherwise', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-replay-html-'));
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  const args = [path.join(FIX, 'trace.txt'), '--maps', path.join(FIX, 'before.maps'), '--expect', path.join(FIX, 'after.maps')];
  const bad = cli(['replay', ...args, '--html', file]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '', 'nothing replayed');
  assert.deepEqual(bad.stderr.trim().split('\n'), [`mmsplit replay: --html: ${file}: exists and is not a folder`]);
  const ok = cli(['replay', ...args, '--html', path.join(dir, 'page'), '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout) as { ok: boolean; page: string };
  assert.equal(out.page, path.join(dir, 'page', 'index.html'));
  assert.equal(pageData(fs.readFileSync(out.page, 'utf8')).layoutMatches, true);
});

/** The little of the DOM the checks use (tsconfig has no DOM library). */
interface Dom {
  document: { body: { getAttribute(n: string): string | null } };
}

test('the replay page in chromium: no error, nothing fetched, the keys step through the calls and the mappings change', { timeout: 180_000 }, async (t) => {
  if (!hasChromium()) {
    t.skip('chromium not installed');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-replay-browser-'));
  const made = cli(['replay', path.join(FIX, 'trace.txt'), '--maps', path.join(FIX, 'before.maps'), '--expect', path.join(FIX, 'after.maps'), '--html', path.join(dir, 'page')]);
  assert.equal(made.code, 0, made.stderr);
  const data = pageData(fs.readFileSync(path.join(dir, 'page', 'index.html'), 'utf8'));
  const n = data.steps.length;
  const context = await launchChromium(path.join(dir, 'profile'), { width: 1400, height: 1000 });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const problems = watchProblems(page);
    await page.goto(pathToFileURL(path.join(dir, 'page', 'index.html')).href, { waitUntil: 'load' });
    const step = () => page.evaluate(() => Number((globalThis as unknown as Dom).document.body.getAttribute('data-step')));
    const live = () => page.locator('#aspace .vma:not(.detached)').count();
    assert.equal(Number(await page.locator('#slider').getAttribute('max')), n, 'step 0 is the layout before; one step per call after it');
    assert.equal(await step(), 0);
    assert.equal(await live(), data.before.length);
    assert.equal(await page.locator('#maps tr').count(), data.before.length, 'the maps text, a line per mapping');

    // → to the first call that changed how many mappings there are: the count on the page follows.
    const first = data.steps.findIndex((s) => s.add.length !== s.del.length) + 1;
    for (let k = 0; k < first; k++) await page.keyboard.press('ArrowRight');
    assert.equal(await step(), first);
    assert.equal(await live(), data.before.length + data.steps[first - 1]!.add.length - data.steps[first - 1]!.del.length);
    assert.match((await page.locator('#call-line').textContent())!, new RegExp(`trace\\.txt:${data.steps[first - 1]!.line} `));
    assert.match((await page.locator('#call-result').textContent())!, /✓ ours: .*, as the kernel's/);

    // shift+→ from change to change until a split: the pieces are marked, and the maps lines too.
    const split = data.steps.findIndex((s) => s.kinds.includes('split')) + 1;
    while ((await step()) < split) await page.keyboard.press('Shift+ArrowRight');
    assert.equal(await step(), split, 'shift+→ stops at every call that changed the layout');
    assert.ok((await page.locator('#aspace .vma.split.touched').count()) >= 2, 'the pieces of the split');
    assert.ok((await page.locator('#maps tr.split').count()) >= 2);
    assert.ok((await page.locator('#aspace .vma.detached').count()) >= 1, 'what was split, dashed below');
    await page.screenshot({ path: path.join(dir, 'split.png') });

    // End: the last call, the layout AFTER shows.
    await page.keyboard.press('End');
    assert.equal(await step(), n);
    const final = page.locator('#final');
    assert.equal(await final.isVisible(), true);
    assert.match((await final.textContent())!, /matches \/proc\/PID\/maps/);
    assert.equal(await page.locator('#maps tr:not(.gone)').count(), parseMaps(read('after.maps')).filter((e) => !e.gate).length);
    await page.keyboard.press('Home');
    assert.equal(await step(), 0);
    await page.keyboard.press('ArrowLeft');
    assert.equal(await step(), 0, '← stops at the start');
    assert.equal(await page.locator('#final').isVisible(), false);
    assert.deepEqual(problems, []);
    console.log(`# screenshot: ${path.join(dir, 'split.png')}`);
  } finally {
    await context.close();
  }
});
