// Debian's chromium driven by playwright-core, for tests that assert what a person sees in the web console.
// scripts/test.mjs installs chromium when it is missing and passes its path in CHROMIUM_PATH.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

/** Where the tests leave a screenshot of each page (git-ignored; the README shows them). */
export const SCREENSHOTS = join(__dirname, '..', '..', 'docs', 'screenshots');

/** One browser for the file, closed after it; each test opens its own context (its own cookies), 1280x800. */
export function useBrowser(): () => Promise<{ browser: Browser; newContext(): Promise<BrowserContext> }> {
  let browser: Promise<Browser> | undefined;
  afterAll(async () => {
    if (browser) await (await browser).close();
  });
  return async () => {
    browser ??= chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: FLAGS,
    });
    const launched = await browser;
    return { browser: launched, newContext: () => launched.newContext({ viewport: { width: 1280, height: 800 } }) };
  };
}

const axeSource = (): string => (createRequire(__filename)('axe-core') as { source: string }).source;

/**
 * What a person with a screen reader or a keyboard would trip on: axe-core's serious and critical violations on the
 * page as it is now (none expected). Then a screenshot of it, as `<name>.png`.
 */
export async function checkPage(page: Page, name: string): Promise<void> {
  await page.evaluate(axeSource());
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: Violation[] }> } }).axe;
    type Violation = { id: string; impact?: string; help: string; nodes: { target: string[] }[] };
    const result = await axe.run();
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact}: ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  expect(violations, `accessibility of the ${name} page`).toEqual([]);
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}
