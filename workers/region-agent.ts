// Entry point of a region agent: a worker that runs next to one region's fleet and serves only deploy.<region>.
// The embedded default does not need it (the orchestrator serves every region); production runs one per region.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { z } from 'zod';
import { RegionName } from '../domain/names';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { FileConfigStore } from '../providers/config-store/file-config-store';
import { VersionLedger } from '../providers/config-store/version-ledger';
import { dataPaths } from '../providers/data-paths';
import { parseEnv } from '../providers/env';
import { LocalFleetTarget } from '../providers/fleet/local-fleet';
import { WorkerEnv } from './config';
import { connectWithRetry, createEngineWorkers, runWorkers } from './engine-workers';

const RegionAgentEnv = WorkerEnv.extend({ REGION: RegionName });

async function run() {
  const env = parseEnv(RegionAgentEnv);
  Runtime.install({ logger: new DefaultLogger(env.LOG_LEVEL) });
  const paths = dataPaths(env.DATA_DIR);
  const connection = await connectWithRetry(env.TEMPORAL_ADDRESS, { log: (m) => console.log(m) });
  const workers = await createEngineWorkers({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    regions: [env.REGION],
    deps: {
      artifacts: new LocalArtifactStore(paths.artifacts),
      ledger: new VersionLedger(new FileConfigStore(paths.configStore)),
      fleet: new LocalFleetTarget(env.FLEET_URL),
    },
  });
  console.log(`region agent for ${env.REGION} polling deploy.${env.REGION}`);
  try {
    await runWorkers(workers);
  } finally {
    await connection.close();
  }
}

run().catch((err) => {
  console.error(err instanceof z.ZodError ? z.prettifyError(err) : err);
  process.exit(1);
});
