// Entry point of the orchestrator worker: service coordinators, releases, emergency rollbacks and their bookkeeping
// activities, and (in the embedded default) the region agents of every region in the catalog.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { catalogRegions } from '../domain/catalog';
import { loadCatalog } from '../providers/catalog';
import { payloadEncryption } from '../providers/codec/payload-encryption';
import { parseEnv } from '../providers/env';
import { restrictUmask } from '../providers/file-modes';
import { WorkerEnv, workerTrustedKeys } from './config';
import { connectWithRetry, createEngineWorkers, runWorkers } from './engine-workers';
import { describeDrivers, regionDeps, releaseDeps } from './providers';

async function run() {
  restrictUmask();
  const env = parseEnv(WorkerEnv);
  const encryption = payloadEncryption(env);
  console.log(encryption.summary);
  Runtime.install({
    logger: new DefaultLogger(env.LOG_LEVEL),
    ...(env.WORKER_METRICS_ADDRESS
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: env.WORKER_METRICS_ADDRESS } } } }
      : {}),
  });
  const catalog = await loadCatalog(env.CATALOG_FILE);
  const regions =
    env.REGION_AGENTS === 'embedded'
      ? catalogRegions(catalog)
      : env.REGION_AGENTS === 'none'
        ? []
        : env.REGION_AGENTS.split(',').map((r) => r.trim());
  const regionsDeps = regionDeps(env, catalog, 'the orchestrator worker');
  console.log(describeDrivers(regionsDeps.router, env));
  const connection = await connectWithRetry(env.TEMPORAL_ADDRESS, { log: (m) => console.log(m) });
  const workers = await createEngineWorkers({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    trustedKeys: await workerTrustedKeys(env),
    releaseTaskQueue: env.RELEASE_TASK_QUEUE,
    regions,
    ...(env.WORKFLOW_BUNDLE_PATH ? { workflowBundle: { codePath: env.WORKFLOW_BUNDLE_PATH } } : {}),
    releaseDeps: releaseDeps(env),
    regionDeps: regionsDeps,
    payloadCodec: encryption.codec,
    ...(env.ORCHESTRATOR_CACHED_WORKFLOWS ? { maxCachedWorkflows: env.ORCHESTRATOR_CACHED_WORKFLOWS } : {}),
  });
  console.log(
    `orchestrator worker polling ${env.RELEASE_TASK_QUEUE}${regions.length ? ` and ${regions.map((r) => `deploy.${r}`).join(', ')}` : ''} on ${env.TEMPORAL_ADDRESS}`,
  );
  try {
    await runWorkers(workers);
  } finally {
    await connection.close();
  }
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
