// The engine's worker in a process of its own, so the bench can read its RSS: the orchestrator (coordinators,
// releases, rollbacks, their activities) and an agent per region, built by the project's createEngineWorkers exactly
// as workers/orchestrator.ts builds them, from the workflow bundle the bench built with the API's public key compiled
// in. Only the providers differ: in memory and no-op (bench/engine/providers.ts).
//
// Started by bench/engine.ts with BENCH_WORKER_SETUP naming a JSON file of EngineWorkerSetup.
import { readFile } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createEngineWorkers, runWorkers } from '../../workers/engine-workers';
import { announceReady, serveBench } from './ipc';
import { type BenchService, createBenchProviders } from './providers';

export interface EngineWorkerSetup {
  temporalAddress: string;
  releaseTaskQueue: string;
  /** Regions whose deploy.<region> queue this process serves (all of the bench's). */
  regions: string[];
  /** The API's public keys (key id -> hex), which the bundle was built to trust. */
  trustedKeys: Record<string, string>;
  bundlePath: string;
  services: BenchService[];
}

async function run() {
  const setupFile = process.env.BENCH_WORKER_SETUP;
  if (!setupFile) throw new Error('BENCH_WORKER_SETUP must name the worker setup file (bench/engine.ts writes it)');
  const setup = JSON.parse(await readFile(setupFile, 'utf8')) as EngineWorkerSetup;
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' } } },
  });
  const providers = await createBenchProviders(setup.services);
  const connection = await NativeConnection.connect({ address: setup.temporalAddress });
  const workers = await createEngineWorkers({
    connection,
    trustedKeys: setup.trustedKeys,
    releaseTaskQueue: setup.releaseTaskQueue,
    regions: setup.regions,
    releaseDeps: providers.releaseDeps,
    regionDeps: providers.regionDeps,
    workflowBundle: { codePath: setup.bundlePath },
    // The shipped default unless overridden, as the orchestrator worker reads it.
    ...(process.env.ORCHESTRATOR_CACHED_WORKFLOWS
      ? { maxCachedWorkflows: Number(process.env.ORCHESTRATOR_CACHED_WORKFLOWS) }
      : {}),
  });
  const running = runWorkers(workers);
  serveBench({
    counters: () => Object.fromEntries(providers.audit.actions),
    stop: async () => {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await providers.close();
      await connection.close();
    },
  });
  announceReady({
    workers: workers.length,
    maxCachedWorkflows: workers[0]?.options.maxCachedWorkflows ?? 0,
    heapLimitMiB: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
  });
  await running;
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
