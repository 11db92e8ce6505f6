// Entry point of the orchestrator worker: release workflows, their bookkeeping activities, and (in the embedded
// default) the region agents of every region in the catalog.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { catalogRegions } from '../domain/catalog';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { loadCatalog } from '../providers/catalog';
import { FileConfigStore } from '../providers/config-store/file-config-store';
import { VersionLedger } from '../providers/config-store/version-ledger';
import { dataPaths } from '../providers/data-paths';
import { parseEnv } from '../providers/env';
import { LocalFleetTarget } from '../providers/fleet/local-fleet';
import { WorkerEnv } from './config';
import { connectWithRetry, createEngineWorkers, runWorkers } from './engine-workers';

async function run() {
  const env = parseEnv(WorkerEnv);
  Runtime.install({
    logger: new DefaultLogger(env.LOG_LEVEL),
    ...(env.WORKER_METRICS_ADDRESS
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: env.WORKER_METRICS_ADDRESS } } } }
      : {}),
  });
  const catalog = await loadCatalog(env.CATALOG_FILE);
  const paths = dataPaths(env.DATA_DIR);
  const regions =
    env.REGION_AGENTS === 'embedded'
      ? catalogRegions(catalog)
      : env.REGION_AGENTS === 'none'
        ? []
        : env.REGION_AGENTS.split(',').map((r) => r.trim());
  const connection = await connectWithRetry(env.TEMPORAL_ADDRESS, { log: (m) => console.log(m) });
  const workers = await createEngineWorkers({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    releaseTaskQueue: env.RELEASE_TASK_QUEUE,
    regions,
    ...(env.WORKFLOW_BUNDLE_PATH ? { workflowBundle: { codePath: env.WORKFLOW_BUNDLE_PATH } } : {}),
    deps: {
      artifacts: new LocalArtifactStore(paths.artifacts),
      ledger: new VersionLedger(new FileConfigStore(paths.configStore)),
      fleet: new LocalFleetTarget(env.FLEET_URL),
    },
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
