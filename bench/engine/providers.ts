// The engine worker's providers in the bench: in memory and doing as little as they can, so what the bench measures
// is the engine's orchestration, not a fleet, a database or a webhook. The fleet, metrics, config store (ledger,
// calendar), artifact store and trust source are the in-memory stand-ins of the `workflow` test layer
// (test/support/memory): fleet operations change a map and return, metrics always look healthy (a version nobody
// programmed passes its analysis), artifacts are real signed archives checked by the real verifier. Two are leaner
// than the test layer's, so thousands of releases do not grow the worker's memory: the audit store keeps the hash
// chain's head and counts per action instead of every record, and the notifier drops what it is given.
import type { RegionActivityDeps, ReleaseActivityDeps } from '../../activities';
import type { AuditEntry, AuditRecord, AuditVerification } from '../../domain/audit';
import { generateSigningKey, signDigest } from '../../providers/artifacts/signing';
import { ArtifactVerifier } from '../../providers/artifacts/verifier';
import type { AuditStore } from '../../providers/audit/audit-store';
import { auditRecordHash, GENESIS_HASH } from '../../providers/audit/sql-audit-store';
import { CalendarStore } from '../../providers/calendar-store';
import { VersionLedger } from '../../providers/config-store/version-ledger';
import type { Notifier } from '../../providers/notify/notifier';
import {
  MemoryArtifactStore,
  MemoryConfigStore,
  memoryDatabases,
  MemoryFleet,
  MemoryMetrics,
  MemoryTrustSource,
  packVersion,
} from '../../test/support/memory-providers';

/** An audit trail that chains and counts what it is given, but keeps no records (the bench never reads them). */
export class CountingAuditStore implements AuditStore {
  /** Records appended per action (gate.opened, release.succeeded, ...): how the bench sees releases progress. */
  readonly actions = new Map<string, number>();
  private readonly ids = new Set<string>();
  private seq = 0;
  private head = GENESIS_HASH;

  append(entries: AuditEntry[]): Promise<AuditRecord[]> {
    const stored: AuditRecord[] = [];
    for (const entry of entries) {
      // A repeated id (a retried append) is stored once; what the activity reports back is not used by the workflows.
      if (this.ids.has(entry.id)) continue;
      this.ids.add(entry.id);
      // A JSON round trip, as a database would store it.
      const plain = JSON.parse(JSON.stringify(entry)) as AuditEntry;
      const seq = ++this.seq;
      const prevHash = this.head;
      const record: AuditRecord = { ...plain, seq, prevHash, hash: auditRecordHash({ ...plain, seq, prevHash }) };
      this.head = record.hash;
      this.actions.set(entry.action, (this.actions.get(entry.action) ?? 0) + 1);
      stored.push(record);
    }
    return Promise.resolve(stored);
  }

  list(): Promise<AuditRecord[]> {
    return Promise.resolve([]);
  }

  verify(): Promise<AuditVerification> {
    return Promise.resolve({ ok: true, records: this.seq, ...(this.seq > 0 ? { head: this.head } : {}) });
  }
}

class DroppingNotifier implements Notifier {
  notify(): Promise<void> {
    return Promise.resolve();
  }
}

export interface BenchService {
  name: string;
  regions: string[];
  /** Versions published (signed by a key the service trusts); every region runs 1.0.0 at the start. */
  versions: string[];
}

export type BenchProviders = Awaited<ReturnType<typeof createBenchProviders>>;

/** The providers of one engine worker process, with every service's regions and versions in place. */
export async function createBenchProviders(services: BenchService[]) {
  const config = new MemoryConfigStore();
  const artifacts = new MemoryArtifactStore();
  const trust = new MemoryTrustSource();
  const verifier = new ArtifactVerifier(artifacts, trust);
  const audit = new CountingAuditStore();
  const fleet = new MemoryFleet({ instancesPerRegion: 1 });
  const metrics = new MemoryMetrics(fleet);
  const signingKey = generateSigningKey();
  await fleet.start();

  trust.trust(
    signingKey.publicKeyPem,
    services.map((s) => s.name),
  );
  const publish = async (service: string, version: string) => {
    const record = await artifacts.put(service, version, await packVersion(service, version));
    await artifacts.putSignature(service, version, signDigest(record.digest, signingKey.privateKeyPem));
  };
  const jobs = services.flatMap((s) => s.versions.map((v) => () => publish(s.name, v)));
  // A few at a time: packing an archive is mostly file system work.
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) await job();
    }),
  );
  for (const service of services) {
    for (const region of service.regions) fleet.addRegion(service.name, region, '1.0.0');
  }

  const releaseDeps: ReleaseActivityDeps = {
    config,
    artifacts,
    verifier,
    ledger: new VersionLedger(config),
    calendar: new CalendarStore(config),
    audit,
    databases: memoryDatabases(),
    notifier: new DroppingNotifier(),
  };
  const regionDeps: RegionActivityDeps = { fleet, metrics };
  return { releaseDeps, regionDeps, audit, fleet, close: () => fleet.close() };
}
