// Entry point of a region agent: a worker that runs next to one region's fleet and serves only deploy.<region>
// (the region's rollout workflows and fleet activities). The embedded default does not need it (the orchestrator
// serves every region); production runs one per region.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { RegionName } from '../domain/names';
import { payloadEncryption } from '../providers/codec/payload-encryption';
import { parseEnv } from '../providers/env';
import { WorkerEnv, workerTrustedKeys } from './config';
import { connectWithRetry, createEngineWorkers, runWorkers } from './engine-workers';
import { loadCatalog } from '../providers/catalog';
import { describeDrivers, regionDeps } from './providers';

const RegionAgentEnv = WorkerEnv.extend({ REGION: RegionName });

async function run() {
  const env = parseEnv(RegionAgentEnv);
  const encryption = payloadEncryption(env);
  console.log(encryption.summary);
  Runtime.install({ logger: new DefaultLogger(env.LOG_LEVEL) });
  // Commands of the exec driver come from the catalog only, so the agent reads it too.
  const deps = regionDeps(env, await loadCatalog(env.CATALOG_FILE), `the region agent for ${env.REGION}`);
  console.log(describeDrivers(deps.router, env));
  const connection = await connectWithRetry(env.TEMPORAL_ADDRESS, { log: (m) => console.log(m) });
  const workers = await createEngineWorkers({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    trustedKeys: await workerTrustedKeys(env),
    regions: [env.REGION],
    ...(env.WORKFLOW_BUNDLE_PATH ? { workflowBundle: { codePath: env.WORKFLOW_BUNDLE_PATH } } : {}),
    regionDeps: deps,
    payloadCodec: encryption.codec,
  });
  console.log(`region agent for ${env.REGION} polling deploy.${env.REGION}`);
  try {
    await runWorkers(workers);
  } finally {
    await connection.close();
  }
}

run().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
