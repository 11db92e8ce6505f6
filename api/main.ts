// Entry point of the API server (composition root: the only API file that builds providers).
import { Client, Connection } from '@temporalio/client';
import { loadCatalog } from '../providers/catalog';
import { payloadEncryption } from '../providers/codec/payload-encryption';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { CalendarStore } from '../providers/calendar-store';
import { FileConfigStore } from '../providers/config-store/file-config-store';
import { dataPaths } from '../providers/data-paths';
import { parseEnv } from '../providers/env';
import { createApp } from './app';
import { TokenAuthenticator } from './auth';
import { codecOptionsFromEnv } from './codec-endpoint';
import { ApiEnv } from './env';

async function run() {
  const env = parseEnv(ApiEnv);
  const encryption = payloadEncryption(env);
  console.log(encryption.summary);
  const catalog = await loadCatalog(env.CATALOG_FILE);
  const authenticator = TokenAuthenticator.fromFile(env.API_TOKENS_FILE);
  const connection = Connection.lazy({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    dataConverter: encryption.dataConverter,
  });
  const app = createApp(
    {
      temporal,
      catalog,
      authenticator,
      releaseTaskQueue: env.RELEASE_TASK_QUEUE,
      artifacts: new LocalArtifactStore(dataPaths(env.DATA_DIR).artifacts),
      calendar: new CalendarStore(new FileConfigStore(dataPaths(env.DATA_DIR).configStore)),
    },
    {
      onServerError: (path, err) => console.error(`error in ${path ?? 'unknown procedure'}:`, err),
      codec: codecOptionsFromEnv(env, encryption.codec),
    },
  );
  const server = app.listen(env.API_PORT, env.API_HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  console.log(`API listening on http://${env.API_HOST}:${env.API_PORT} (Temporal at ${env.TEMPORAL_ADDRESS})`);
  const shutdown = () => {
    server.close(() => {
      void connection.close().finally(() => process.exit(0));
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
