// In-memory providers for the unit and workflow test layers: every provider interface the engine's activities use,
// kept in this process, so the real activity factories (createReleaseActivities, createRegionActivities) run their
// own logic while a test decides what the outside world does. Not for the acceptance layer, which uses real parts.
import type { RegionActivityDeps, ReleaseActivityDeps } from '../../activities';
import { generateSigningKey, signDigest } from '../../providers/artifacts/signing';
import { CalendarStore } from '../../providers/calendar-store';
import { configPrefix } from '../../providers/config-store/parity';
import { VersionLedger } from '../../providers/config-store/version-ledger';
import { LatchedVerifier, MemoryArtifactStore, MemoryTrustSource, packVersion } from './memory/artifacts';
import { MemoryAuditStore } from './memory/audit-store';
import { MemoryConfigStore } from './memory/config-store';
import { memoryDatabases } from './memory/database';
import { MemoryFleet } from './memory/fleet';
import { Journal } from './memory/journal';
import { MemoryMetrics } from './memory/metrics';
import { MemoryNotifier } from './memory/notifier';

export { LatchedVerifier, MemoryArtifactStore, MemoryTrustSource, packVersion } from './memory/artifacts';
export { MemoryAuditStore } from './memory/audit-store';
export { MemoryConfigStore } from './memory/config-store';
export { MemoryDatabase, MemorySqlError, memoryDatabases } from './memory/database';
export { type FleetCall, type FleetFailure, type FleetMatch, MemoryFleet } from './memory/fleet';
export { Journal, type JournalEntry } from './memory/journal';
export { Latch } from './memory/latch';
export { countsOf, MemoryMetrics, type WindowShape } from './memory/metrics';
export { MemoryNotifier } from './memory/notifier';

export interface PublishOptions {
  /** Migration files the version carries: name under migrations/ (e.g. 0001_users.expand.up.sql) -> SQL. */
  migrations?: Record<string, string>;
  /** Sign with the providers' key (default true); the service must trust it (trustSigningKey) to accept it. */
  signed?: boolean;
}

export type MemoryProviders = ReturnType<typeof createMemoryProviders>;

/** Every in-memory provider, wired together, with the dependency objects the activity factories take. */
export function createMemoryProviders(options: { instancesPerRegion?: number } = {}) {
  const journal = new Journal();
  const config = new MemoryConfigStore();
  const artifacts = new MemoryArtifactStore(journal);
  const trust = new MemoryTrustSource();
  const verifier = new LatchedVerifier(artifacts, trust);
  const audit = new MemoryAuditStore();
  const notifier = new MemoryNotifier();
  const databases = memoryDatabases(journal);
  const fleet = new MemoryFleet({ journal, ...(options.instancesPerRegion ? options : {}) });
  const metrics = new MemoryMetrics(fleet);
  const ledger = new VersionLedger(config);
  const calendar = new CalendarStore(config);
  const signingKey = generateSigningKey();

  const releaseDeps: ReleaseActivityDeps = {
    config,
    artifacts,
    verifier,
    ledger,
    calendar,
    audit,
    databases,
    notifier,
  };
  const regionDeps: RegionActivityDeps = { fleet, metrics };

  return {
    journal,
    config,
    artifacts,
    trust,
    verifier,
    audit,
    notifier,
    databases,
    fleet,
    metrics,
    ledger,
    calendar,
    signingKey,
    releaseDeps,
    regionDeps,

    /** Stores service@version as a real archive (with its migrations), signed unless `signed: false`. */
    async publish(service: string, version: string, publishOptions: PublishOptions = {}) {
      const record = await artifacts.put(
        service,
        version,
        await packVersion(service, version, publishOptions.migrations),
      );
      if (publishOptions.signed ?? true) {
        await artifacts.putSignature(service, version, signDigest(record.digest, signingKey.privateKeyPem));
      }
      return record;
    },

    /** Makes `service` trust the providers' signing key. */
    trustSigningKey(service: string) {
      trust.trust(signingKey.publicKeyPem, [service]);
    },

    /** Sets a config key of a service's environment (config parity compares the keys of two environments). */
    async setConfig(service: string, environment: string, key: string, value = 'x') {
      await config.put(`${configPrefix(service, environment)}/${key}`, value, { overwrite: true });
    },

    async start() {
      await fleet.start();
    },

    /** Opens every latch (so held activities can finish) and stops the fleet's server. */
    async close() {
      verifier.release();
      audit.release();
      await fleet.close();
    },
  };
}
