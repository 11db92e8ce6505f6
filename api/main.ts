// Entry point of the API server (composition root: the only API file that builds providers).
import { Client, Connection } from '@temporalio/client';
import { loadCatalog } from '../providers/catalog';
import { payloadEncryption } from '../providers/codec/payload-encryption';
import { ArtifactUrlSigner, loadOrCreateArtifactUrlKey } from '../providers/artifacts/artifact-urls';
import { ReleaseChanges } from './changes';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { CalendarStore } from '../providers/calendar-store';
import { openConfigStore } from '../providers/config-store/open';
import { VersionLedger } from '../providers/config-store/version-ledger';
import { DriftAckStore } from '../providers/config-store/drift-acks';
import { openCatalogFleet } from '../providers/fleet/open';
import { dataPaths } from '../providers/data-paths';
import { restrictUmask } from '../providers/file-modes';
import { parseEnv } from '../providers/env';
import { decisionKeyPaths, loadSigner } from '../providers/keys/decision-keys';
import { createApp } from './app';
import { TokenAuthenticator } from './auth';
import { codecOptionsFromEnv } from './codec-endpoint';
import { ApiEnv } from './env';
import { createApiLogger } from './observability';

async function run() {
  restrictUmask();
  const env = parseEnv(ApiEnv);
  const logger = createApiLogger({ level: env.API_LOG_LEVEL });
  const encryption = payloadEncryption(env);
  logger.info(encryption.summary);
  const catalog = await loadCatalog(env.CATALOG_FILE);
  const authenticator = TokenAuthenticator.fromFile(env.API_TOKENS_FILE);
  const signer = await loadSigner(
    env.DECISION_SIGNING_KEY_FILE ?? decisionKeyPaths(env.DATA_DIR).signingKey,
    env.TEMPORAL_NAMESPACE,
  );
  logger.info(`signing decisions with key ${signer.keyId}`);
  const connection = Connection.lazy({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    dataConverter: encryption.dataConverter,
  });
  // The calendar and the version ledger live in the config store the worker uses (file or SSM Parameter Store).
  const configStore = openConfigStore(env);
  const artifactStore = new LocalArtifactStore(dataPaths(env.DATA_DIR).artifacts);
  const changes = new ReleaseChanges(temporal);
  const app = createApp(
    {
      temporal,
      changes,
      catalog,
      authenticator,
      signer,
      releaseTaskQueue: env.RELEASE_TASK_QUEUE,
      artifacts: artifactStore,
      calendar: new CalendarStore(configStore),
      ledger: new VersionLedger(configStore),
      // Read-only use: what each region runs, against the ledger (drift); the API never changes the fleet.
      fleet: openCatalogFleet(env, catalog, { who: 'the API', runsCommands: false }),
      driftAcks: new DriftAckStore(configStore),
    },
    {
      logger,
      rateLimit: { maxFailures: env.API_AUTH_FAILURE_LIMIT, windowMs: env.API_AUTH_FAILURE_WINDOW_SECONDS * 1000 },
      metrics: { processMetrics: true },
      ...(env.API_TRUST_PROXY !== undefined ? { trustProxy: env.API_TRUST_PROXY } : {}),
      codec: codecOptionsFromEnv(env, encryption.codec, (err) => logger.error({ err }, 'error in the codec endpoint')),
      // Hosts fetch the artifact a worker signed a URL for (the exec driver's RELEASE_ARTIFACT_URL).
      artifactDownloads: {
        signer: new ArtifactUrlSigner(
          loadOrCreateArtifactUrlKey(env.ARTIFACT_URL_KEY_FILE ?? dataPaths(env.DATA_DIR).artifactUrlKey),
          '',
        ),
        blobs: artifactStore,
      },
    },
  );
  const server = app.listen(env.API_PORT, env.API_HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  logger.info(`API listening on http://${env.API_HOST}:${env.API_PORT} (Temporal at ${env.TEMPORAL_ADDRESS})`);
  const shutdown = () => {
    server.close(() => {
      void changes
        .close()
        .then(() => connection.close())
        .finally(() => process.exit(0));
    });
    server.closeAllConnections();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

run().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
