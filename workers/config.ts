// Configuration of the worker processes, from the environment (parsed once at start-up).
import { z } from 'zod';
import { ConfigStoreEnv } from '../providers/config-store/open';
import { PayloadKeysEnv } from '../providers/codec/payload-keys';
import { decisionKeyPaths, loadPublicKeys } from '../providers/keys/decision-keys';
import { FleetTargetEnv } from '../providers/fleet/open';

export const WorkerEnv = ConfigStoreEnv.extend({
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  RELEASE_TASK_QUEUE: z.string().min(1).default('releases'),
  /** Service catalog (which services run where, in which waves). */
  CATALOG_FILE: z.string().min(1).default('config/catalog.json'),
  /** Root of the embedded stores (artifacts, config store). */
  DATA_DIR: z.string().min(1).default('.data'),
  /** Metrics of canary analysis: `fleet` (the fleet's own counters) or `prometheus`. */
  METRICS_SOURCE: z.enum(['fleet', 'prometheus']).default('fleet'),
  /** With METRICS_SOURCE=prometheus: Prometheus' base URL (or Thanos, Mimir, VictoriaMetrics). */
  PROMETHEUS_URL: z.url().optional(),
  /** `embedded` serves every region in the catalog from this process; `none` serves none; or a comma list. */
  REGION_AGENTS: z.string().min(1).default('embedded'),
  /** host:port for the worker's Prometheus metrics; unset disables them. */
  WORKER_METRICS_ADDRESS: z.string().optional(),
  /** Public keys each service trusts for artifact signatures; defaults to <DATA_DIR>/trusted-keys.json. */
  TRUSTED_KEYS_FILE: z.string().optional(),
  /** PostgreSQL database of the audit trail; without it, an embedded PGlite under <DATA_DIR>/audit. */
  AUDIT_DATABASE_URL: z.string().min(1).optional(),
  /** The worker's ed25519 key that signs audit checkpoints (created if missing); default <DATA_DIR>/secrets/audit-signing.key. */
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  /** More public keys (base64 SPKI DER, comma-separated) whose audit checkpoints verify accepts: other workers', older ones. */
  AUDIT_TRUSTED_PUBLIC_KEYS: z.string().optional(),
  /** Slack-compatible webhook for release notifications; unset, nobody is notified. */
  NOTIFY_WEBHOOK_URL: z.url().optional(),
  /**
   * The API's address as the hosts a fleet deploys to reach it: with it, the exec driver hands each deploy a signed,
   * short-lived URL of the artifact (RELEASE_ARTIFACT_URL). Unset, commands get no URL.
   */
  ARTIFACT_URL_BASE: z.url().optional(),
  /** The key artifact download URLs are signed with (shared with the API); default <DATA_DIR>/secrets/artifact-url.key. */
  ARTIFACT_URL_KEY_FILE: z.string().min(1).optional(),
  /** Where people open the web console (the API's public address): notifications link to the release's page there. */
  CONSOLE_URL: z.url().optional(),
  /** The API's address for external checks' callbacks (check.report); default: ARTIFACT_URL_BASE. */
  API_URL: z.url().optional(),
  /**
   * A prebuilt workflow bundle (bundleWorkflowCode output, built with `failureConverterPath` set to
   * workers/failure-converter.cjs); without it the worker bundles at start.
   */
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  /**
   * The API's public keys for signed decisions (`{ "keys": { "<keyId>": "<hex>" } }`), compiled into the workflow
   * bundle; defaults to <DATA_DIR>/secrets/decision-public-keys.json (written by `npm start`).
   */
  DECISION_PUBLIC_KEYS_FILE: z.string().min(1).optional(),
  /** Workflows the orchestrator keeps in memory; the rest are replayed when they have work (default 400). */
  ORCHESTRATOR_CACHED_WORKFLOWS: z.coerce.number().int().min(2).optional(),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  /** Payload encryption keys (PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_KEY_ID); unset, payloads go in clear. */
  ...PayloadKeysEnv.shape,
  /** The fleet target (FLEET_DRIVER, FLEET_URL, FLEET_TOKEN_FILE, FLEET_REGION_ENDPOINTS). */
  ...FleetTargetEnv.shape,
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;

/** The decision keys the worker trusts, from DECISION_PUBLIC_KEYS_FILE or the data dir's default file. */
export async function workerTrustedKeys(env: WorkerEnv): Promise<Record<string, string>> {
  return loadPublicKeys(env.DECISION_PUBLIC_KEYS_FILE ?? decisionKeyPaths(env.DATA_DIR).publicKeys);
}
