// Starts one real Temporal dev server for the whole run (the bootstrapped CLI, custom search attributes
// registered) and builds the workflow bundle once; tests receive both through inject().
//
// Several projects list this file (workflow, acceptance, replay), and vitest runs a project's global setup once per
// project, each in a module graph of its own. So the server lives on globalThis of vitest's main process, shared by
// reference count: the first project to set up starts it, the last to tear down stops it. Vitest runs every setup
// before any teardown, so the count never drops to zero in between. A run of `unit` alone never gets here.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { TestProject } from 'vitest/node';
import { DecisionSigner } from '../providers/keys/decision-keys';
import { recordedSetKeys } from './support/history-keys';
import { bundleEngineWorkflows } from '../workers/bundle';
import { RELEASE_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    /** The run's decision-signing key (PEM): the test engines sign as the API does. */
    decisionSigningKeyPem: string;
    /** The keys the bundle trusts: this run's, and those each recorded history set was signed with. */
    trustedDecisionKeys: Record<string, string>;
  }
}

const ROOT = resolve(__dirname, '..');

interface SharedTemporal {
  address: string;
  bundlePath: string;
  signingKeyPem: string;
  trustedKeys: Record<string, string>;
  stop: () => Promise<void>;
}

interface Holder {
  users: number;
  starting?: Promise<SharedTemporal>;
}

const HOLDER = Symbol.for('release-engine.test.shared-temporal');

function holder(): Holder {
  const scope = globalThis as { [HOLDER]?: Holder };
  return (scope[HOLDER] ??= { users: 0 });
}

function temporalCli(): string {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  return execFileSync(process.execPath, [join(ROOT, 'scripts', 'bootstrap.mjs'), '--no-install', '--temporal-path'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

async function startTemporal(): Promise<SharedTemporal> {
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
  // The web console the acceptance tests open in a browser, as `npm start` builds it.
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const bundleDir = await mkdtemp(join(tmpdir(), 'release-engine-bundle-'));
  const stop = async () => {
    await env.teardown();
    await rm(bundleDir, { recursive: true, force: true });
  };
  try {
    const bundlePath = join(bundleDir, 'workflows.js');
    // A key for this run only (as `npm start` makes one per machine), plus the public keys of recorded histories.
    const signer = DecisionSigner.generate('default');
    const trustedKeys = { ...recordedSetKeys(), ...signer.trustedKeys };
    // As the workers build it: failure converter, trusted keys compiled in.
    const { code } = await bundleEngineWorkflows({
      trustedKeys,
      logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
    });
    await writeFile(bundlePath, code);
    console.log(
      `[global-setup] Temporal dev server at ${env.address}, workflow bundle built (${Date.now() - started}ms)`,
    );
    return { address: env.address, bundlePath, stop, signingKeyPem: signer.privateKeyPem, trustedKeys };
  } catch (err) {
    await stop();
    throw err;
  }
}

export default async function setup(project: TestProject) {
  const shared = holder();
  shared.starting ??= startTemporal();
  const temporal = await shared.starting.catch((err: unknown) => {
    shared.starting = undefined;
    throw err;
  });
  shared.users += 1;
  project.provide('temporalAddress', temporal.address);
  project.provide('workflowBundlePath', temporal.bundlePath);
  project.provide('decisionSigningKeyPem', temporal.signingKeyPem);
  project.provide('trustedDecisionKeys', temporal.trustedKeys);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    shared.starting = undefined;
    await temporal.stop();
    console.log('[global-setup] Temporal dev server stopped');
  };
}
