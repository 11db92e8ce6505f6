// Builds the real providers behind the activities from the worker's configuration: the embedded defaults (local
// fleet, its counters, file config store, PGlite) unless the environment names production ones (SSM, Prometheus,
// PostgreSQL).
import type { RegionActivityDeps, ReleaseActivityDeps } from '../activities';
import { type ArtifactRef, ArtifactUrlSigner, loadOrCreateArtifactUrlKey } from '../providers/artifacts/artifact-urls';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { FileTrustStore } from '../providers/artifacts/trust-store';
import { ArtifactVerifier } from '../providers/artifacts/verifier';
import { CalendarStore } from '../providers/calendar-store';
import { openConfigStore } from '../providers/config-store/open';
import { VersionLedger } from '../providers/config-store/version-ledger';
import { dataPaths } from '../providers/data-paths';
import type { ServiceCatalog } from '../domain/catalog';
import { openCatalogFleet, openFleetTarget } from '../providers/fleet/open';
import type { FleetRouter } from '../providers/fleet/fleet-router';
import { FleetMetricsSource } from '../providers/metrics/fleet-metrics';
import { PrometheusMetricsSource } from '../providers/metrics/prometheus';
import { WebhookNotifier } from '../providers/notify/webhook-notifier';
import { OnDemandAuditStore } from '../providers/audit/on-demand-audit-store';
import { loadOrCreateAuditSigningKey, parseTrustedAuditKeys } from '../providers/audit/signing-key';
import { openDatabase } from '../providers/sql/database';
import { createDatabaseResolver } from '../providers/sql/resolver';
import type { WorkerEnv } from './config';

export function releaseDeps(env: WorkerEnv): ReleaseActivityDeps {
  const paths = dataPaths(env.DATA_DIR);
  const config = openConfigStore(env);
  const artifacts = new LocalArtifactStore(paths.artifacts);
  const auditUrl = env.AUDIT_DATABASE_URL;
  return {
    artifacts,
    verifier: new ArtifactVerifier(artifacts, new FileTrustStore(env.TRUSTED_KEYS_FILE ?? paths.trustedKeys)),
    config,
    ledger: new VersionLedger(config),
    calendar: new CalendarStore(config),
    audit: new OnDemandAuditStore(() => openDatabase(auditUrl ? { url: auditUrl } : { pgliteDir: paths.audit }), {
      signer: loadOrCreateAuditSigningKey(env.AUDIT_SIGNING_KEY_FILE ?? paths.auditSigningKey),
      trustedKeys: parseTrustedAuditKeys(env.AUDIT_TRUSTED_PUBLIC_KEYS),
    }),
    databases: createDatabaseResolver({ env: process.env, dataDir: paths.root }),
    ...(env.NOTIFY_WEBHOOK_URL ? { notifier: new WebhookNotifier({ url: env.NOTIFY_WEBHOOK_URL }) } : {}),
    ...(env.CONSOLE_URL ? { consoleUrl: env.CONSOLE_URL } : {}),
    // The API's address, which external checks answer to (check.report); the artifact URLs' base is that API too.
    ...((env.API_URL ?? env.ARTIFACT_URL_BASE) ? { apiUrl: env.API_URL ?? env.ARTIFACT_URL_BASE } : {}),
  };
}

/**
 * What region activities deploy through: with `catalog`, each service and environment through the driver the catalog
 * names (`who` is this worker, in refusals); without, FLEET_DRIVER's one driver.
 */
export function regionDeps(
  env: WorkerEnv,
  catalog?: ServiceCatalog,
  who = 'this worker',
): RegionActivityDeps & { router?: FleetRouter } {
  // With ARTIFACT_URL_BASE, each exec and ssm deploy gets a signed, short-lived URL of its artifact at the API.
  const signer = env.ARTIFACT_URL_BASE
    ? new ArtifactUrlSigner(
        loadOrCreateArtifactUrlKey(env.ARTIFACT_URL_KEY_FILE ?? dataPaths(env.DATA_DIR).artifactUrlKey),
        env.ARTIFACT_URL_BASE,
      )
    : undefined;
  const artifactUrl = signer ? (request: ArtifactRef) => signer.url(request) : undefined;
  const router = catalog
    ? openCatalogFleet(env, catalog, {
        who,
        runsCommands: true,
        ...(artifactUrl ? { artifactUrl } : {}),
        artifactBytes: new LocalArtifactStore(dataPaths(env.DATA_DIR).artifacts),
      })
    : undefined;
  const fleet = router ?? openFleetTarget(env, artifactUrl);
  const metrics =
    env.METRICS_SOURCE === 'prometheus'
      ? new PrometheusMetricsSource({
          url: required(env.PROMETHEUS_URL, 'PROMETHEUS_URL', 'with METRICS_SOURCE=prometheus'),
        })
      : new FleetMetricsSource(fleet);
  return { fleet, metrics, ...(router ? { router } : {}) };
}

/** "fleet drivers: local, exec (ssm not served: AWS_REGION is not set)", for a worker's start-up lines. */
export function describeDrivers(router: FleetRouter | undefined, env?: { METRICS_SOURCE: string }): string {
  if (!router) return 'fleet driver: one for every service (FLEET_DRIVER)';
  const blind = env && env.METRICS_SOURCE !== 'prometheus' ? router.withoutMetrics() : [];
  const warning = blind.length
    ? `\nwarning: the canary analysis has no numbers for ${blind.map((b) => `${b.where}: ${b.why}`).join('; ')}; set METRICS_SOURCE=prometheus`
    : '';
  const drivers = router.servedDrivers();
  const served = drivers.filter((d) => d.served).map((d) => d.driver);
  const not = drivers.filter((d) => !d.served).map((d) => `${d.driver} not served: ${d.why ?? ''}`);
  return `fleet drivers the catalog uses: ${served.join(', ') || 'none served'}${not.length ? ` (${not.join('; ')})` : ''}${warning}`;
}

function required(value: string | undefined, name: string, why: string): string {
  if (!value) throw new Error(`Invalid environment:\n✖ ${name} is required ${why}\n  → at ${name}`);
  return value;
}
