// Debian's chromium driven by playwright-core, for tests that assert what a person sees in the web console.
// scripts/test.mjs installs chromium when it is missing and passes its path in CHROMIUM_PATH.
import { afterAll } from 'vitest';
import { type Browser, chromium } from 'playwright-core';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

/** One browser for the file, closed after it; each test opens its own context (its own cookies). */
export function useBrowser(): () => Promise<Browser> {
  let browser: Promise<Browser> | undefined;
  afterAll(async () => {
    if (browser) await (await browser).close();
  });
  return () =>
    (browser ??= chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: FLAGS }));
}
