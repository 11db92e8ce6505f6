// Builds the real providers behind the activities from the worker's configuration (the embedded defaults for now).
import type { RegionActivityDeps, ReleaseActivityDeps } from '../activities';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { FileTrustStore } from '../providers/artifacts/trust-store';
import { ArtifactVerifier } from '../providers/artifacts/verifier';
import { CalendarStore } from '../providers/calendar-store';
import { FileConfigStore } from '../providers/config-store/file-config-store';
import { VersionLedger } from '../providers/config-store/version-ledger';
import { dataPaths } from '../providers/data-paths';
import { LocalFleetTarget } from '../providers/fleet/local-fleet';
import { FleetMetricsSource } from '../providers/metrics/fleet-metrics';
import { WebhookNotifier } from '../providers/notify/webhook-notifier';
import { OnDemandAuditStore } from '../providers/audit/on-demand-audit-store';
import { openDatabase } from '../providers/sql/database';
import { createDatabaseResolver } from '../providers/sql/resolver';
import type { WorkerEnv } from './config';

export function releaseDeps(env: WorkerEnv): ReleaseActivityDeps {
  const paths = dataPaths(env.DATA_DIR);
  const config = new FileConfigStore(paths.configStore);
  const artifacts = new LocalArtifactStore(paths.artifacts);
  const auditUrl = env.AUDIT_DATABASE_URL;
  return {
    artifacts,
    verifier: new ArtifactVerifier(artifacts, new FileTrustStore(env.TRUSTED_KEYS_FILE ?? paths.trustedKeys)),
    ledger: new VersionLedger(config),
    calendar: new CalendarStore(config),
    audit: new OnDemandAuditStore(() => openDatabase(auditUrl ? { url: auditUrl } : { pgliteDir: paths.audit })),
    databases: createDatabaseResolver({ env: process.env, dataDir: paths.root }),
    ...(env.NOTIFY_WEBHOOK_URL ? { notifier: new WebhookNotifier({ url: env.NOTIFY_WEBHOOK_URL }) } : {}),
  };
}

export function regionDeps(env: WorkerEnv): RegionActivityDeps {
  const fleet = new LocalFleetTarget(env.FLEET_URL);
  return { fleet, metrics: new FleetMetricsSource(fleet) };
}
