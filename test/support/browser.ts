// Chromium for the tests that open a page in a real browser: Debian's, driven by playwright-core, offline.
import fs from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';

/** Where chromium is (CHROMIUM_PATH overrides Debian's path); tests skip where it is not installed. */
export const CHROMIUM = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';

export const hasChromium = (): boolean => fs.existsSync(CHROMIUM);

/** A headless chromium with its profile in `profileDir`, nothing fetched in the background. */
export async function launchChromium(profileDir: string, viewport: { width: number; height: number }): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport,
    timeout: 60_000,
  });
}

/** What a page did wrong, as it happens: console errors and warnings, uncaught errors, any fetch not from disk. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith('file:')) problems.push(`fetched ${r.url()}`);
  });
  return problems;
}
