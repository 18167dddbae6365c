/**
 * The report in a real browser: chromium (Debian's, driven by playwright-core) opens the rendered synthetic
 * sample from disk, and we check that every chart drew visible SVG marks at its natural size, that the banner
 * and the marks of its disturbed points show, that nothing was fetched and nothing failed or logged an error; a
 * full-page screenshot goes to report/screenshot-test.png.
 * Skipped where chromium is not installed (CHROMIUM_PATH overrides /usr/bin/chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { validateResults } from '../src/bench/results.js';
import { writeReport } from '../src/report/index.js';
import { hasChromium, launchChromium } from './support/browser.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(ROOT, 'test/fixtures/results/sample.json');
const SCREENSHOT = path.join(ROOT, 'report/screenshot-test.png');
const CHARTS = ['throughput', 'churn', 'munmap', 'fastpath'];

/** The little of the DOM the checks use (tsconfig has no DOM library). */
interface El {
  querySelector(s: string): El;
  querySelectorAll(s: string): Iterable<El>;
  getBoundingClientRect(): { width: number; height: number };
  getAttribute(name: string): string | null;
  scrollWidth: number;
}
interface Dom {
  document: { querySelector(s: string): El; documentElement: El };
  getComputedStyle(el: El): { visibility: string; display: string };
  innerWidth: number;
}

test('the report renders in chromium: marks visible, no errors, nothing fetched', { timeout: 120_000 }, async (t) => {
  if (!hasChromium()) {
    t.skip('chromium not installed');
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mmsplit-report-browser-'));
  const profile = path.join(tmp, 'profile');
  const context = await launchChromium(profile, { width: 1280, height: 900 });
  try {
    const results = validateResults(JSON.parse(fs.readFileSync(SAMPLE, 'utf8')));
    const { html } = await writeReport(results, path.join(tmp, 'report'));
    const pageUrl = pathToFileURL(html).href;

    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('request', (r) => requests.push(r.url()));

    const response = await page.goto(pageUrl, { waitUntil: 'load' });
    assert.ok(response === null || response.ok(), 'the page loads');
    assert.equal(await page.title(), 'mmsplit lab report');

    for (const id of CHARTS) {
      const svg = page.locator(`figure[data-chart="${id}"] svg`);
      assert.equal(await svg.count(), 1, `${id}: one svg`);
      await svg.scrollIntoViewIfNeeded();
      assert.ok(await svg.isVisible(), `${id}: svg visible`);
      const marks = page.locator(`figure[data-chart="${id}"] svg g.role-mark > path, figure[data-chart="${id}"] svg g.role-mark > line`);
      assert.ok((await marks.count()) >= 8, `${id}: marks drawn`);
      // (Horizontal rules have an empty bounding box, which playwright calls invisible: count the others.)
      assert.ok((await marks.filter({ visible: true }).count()) >= 8, `${id}: marks visible`);
      // Marks with an area on screen, and the chart at its natural size (not squeezed into the page).
      const m = await page.evaluate((chart) => {
        // Runs in the page; the project compiles without the DOM library, hence the loose types.
        const w = globalThis as unknown as Dom;
        const fig = w.document.querySelector(`figure[data-chart="${chart}"]`);
        const svgEl = fig.querySelector('svg');
        const shown = [...fig.querySelectorAll('g.role-mark > path, g.role-mark > line')].filter((el) => {
          const r = el.getBoundingClientRect();
          const s = w.getComputedStyle(el);
          return (r.width > 0 || r.height > 0) && s.visibility !== 'hidden' && s.display !== 'none';
        }).length;
        return { shown, scale: svgEl.getBoundingClientRect().width / Number(svgEl.getAttribute('width')) };
      }, id);
      assert.ok(m.shown >= 8, `${id}: ${m.shown} marks with an area`);
      assert.ok(m.scale > 0.97, `${id}: drawn at ${Math.round(m.scale * 100)}% of its size, legible`);
    }
    // The fixture has disturbed points: the banner that says so is on screen, and the marks in the summary.
    assert.ok(await page.locator('.banner.disturbed').isVisible(), 'the disturbed-run banner is visible');
    assert.ok((await page.locator('#summary .mark:not(.quiet)').filter({ visible: true }).count()) > 0, 'disturbed marks visible');
    const overflow = await page.evaluate(() => {
      const w = globalThis as unknown as Dom;
      return w.document.documentElement.scrollWidth - w.innerWidth;
    });
    assert.ok(overflow <= 0, `no horizontal scrolling at 1280 px (${overflow} px too wide)`);

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(fs.statSync(SCREENSHOT).size > 50_000, 'a screenshot with content');

    assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
    assert.deepEqual(
      requests.filter((u) => u !== pageUrl),
      [],
      'the page fetched nothing but itself',
    );
  } finally {
    await context.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
