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
import type { WorkerEnv } from './config';

export function releaseDeps(env: WorkerEnv): ReleaseActivityDeps {
  const paths = dataPaths(env.DATA_DIR);
  const config = new FileConfigStore(paths.configStore);
  const artifacts = new LocalArtifactStore(paths.artifacts);
  return {
    artifacts,
    verifier: new ArtifactVerifier(artifacts, new FileTrustStore(env.TRUSTED_KEYS_FILE ?? paths.trustedKeys)),
    ledger: new VersionLedger(config),
    calendar: new CalendarStore(config),
  };
}

export function regionDeps(env: WorkerEnv): RegionActivityDeps {
  const fleet = new LocalFleetTarget(env.FLEET_URL);
  return { fleet, metrics: new FleetMetricsSource(fleet) };
}
