// Where the embedded defaults keep their files under the data directory (DATA_DIR, `.data` by default).
import { resolve } from 'node:path';

export function dataPaths(dataDir: string) {
  const root = resolve(dataDir);
  return {
    root,
    artifacts: resolve(root, 'artifacts'),
    configStore: resolve(root, 'config-store.json'),
    fleet: resolve(root, 'fleet'),
    /** fleetd's control API bearer token, written at its first start (FLEET_TOKEN_FILE overrides it). */
    fleetControlToken: resolve(root, 'fleet', 'control-token'),
    temporalDb: resolve(root, 'temporal', 'temporal.db'),
    logs: resolve(root, 'logs'),
    audit: resolve(root, 'audit'),
    apiTokens: resolve(root, 'api-tokens.json'),
    devCredentials: resolve(root, 'dev-credentials.json'),
    trustedKeys: resolve(root, 'trusted-keys.json'),
    devSigningKey: resolve(root, 'signing', 'dev.key'),
    /** The dev stack's payload encryption keys (a PAYLOAD_KEYS_FILE). */
    devPayloadKeys: resolve(root, 'secrets', 'payload-keys'),
    /** The worker's audit checkpoint signing key (AUDIT_SIGNING_KEY_FILE). */
    auditSigningKey: resolve(root, 'secrets', 'audit-signing.key'),
    /** The key workers sign artifact download URLs with and the API checks them with (ARTIFACT_URL_KEY_FILE). */
    artifactUrlKey: resolve(root, 'secrets', 'artifact-url.key'),
  };
}
