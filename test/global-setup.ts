// Starts one real Temporal dev server for the whole run (the bootstrapped CLI, custom search attributes
// registered) and builds the workflow bundle once; tests receive both through inject().
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { FAILURE_CONVERTER_PATH } from '../workers/data-converter';
import { RELEASE_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

const ROOT = resolve(__dirname, '..');

function temporalCli(): string {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  return execFileSync(process.execPath, [join(ROOT, 'scripts', 'bootstrap.mjs'), '--no-install', '--temporal-path'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCli() },
      ip: '127.0.0.1',
      searchAttributes: [...RELEASE_SEARCH_ATTRIBUTES],
      // The server's own warnings (slow calls, task queues torn down with each test's workers) are noise here.
      log: { format: 'pretty', level: 'error' },
    },
  });
  const bundleDir = await mkdtemp(join(tmpdir(), 'release-engine-bundle-'));
  const bundlePath = join(bundleDir, 'workflows.js');
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(ROOT, 'workflows', 'index.ts'),
    // As the workers build it: failure messages travel as payloads, so payload encryption covers them too.
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  await writeFile(bundlePath, code);
  project.provide('temporalAddress', env.address);
  project.provide('workflowBundlePath', bundlePath);
  console.log(
    `[global-setup] Temporal dev server at ${env.address}, workflow bundle built (${Date.now() - started}ms)`,
  );
  return async () => {
    await env.teardown();
    await rm(bundleDir, { recursive: true, force: true });
  };
}
