// Seeds the artifact store with the demo service's versions (hello@1.0.0, a healthy 1.1.0, 1.2.0, which fails about
// 30% of requests, a healthy 1.3.0, and 1.4.0, healthy through its canary and failing half its requests 45 s after
// it starts: the bug that only a watch window and an alert from monitoring catch). Idempotent: versions already in
// the store are left alone.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactRecord } from '../domain/artifact';
import type { ArtifactStore } from '../providers/artifacts/artifact-store';
import { packArtifact } from '../providers/artifacts/pack';
import { signDigest } from '../providers/artifacts/signing';

export const DEMO_SERVICE = 'hello';
/**
 * The demo's other services, for release trains (demo/train/versions.json): greeter calls hello and web calls greeter;
 * greeter@2.0.0 needs hello >=1.3.0 and web@2.0.0 needs greeter >=2.0.0. They run the same app as hello.
 */
export const DEMO_TRAIN_SERVICES = ['greeter', 'web'] as const;
export const DEMO_INITIAL_VERSION = '1.0.0';
const HELLO_DIR = join(__dirname, 'hello');

/** How a demo version behaves (see demo/hello/app/server.mjs). */
export interface DemoBehaviour {
  greeting: string;
  failureRate: number;
  /** Failure rate in particular regions, overriding failureRate there. */
  failureRateIn?: Record<string, number>;
  latencyMs: number;
  startupDelayMs?: number;
  /** How long the version keeps running after SIGTERM (its health check fails meanwhile). */
  shutdownDelayMs?: number;
  /**
   * Seconds after the process starts from which the version fails `degradedFailureRate` of its requests instead (a
   * leak, a cache filling up): it passes a short canary and breaks later.
   */
  degradeAfterSeconds?: number;
  degradedFailureRate?: number;
  /** Schema migrations the version carries: file name under migrations/ -> SQL. */
  migrations?: Record<string, string>;
  /** What the version requires of other services (its manifest's `requires`): service -> semver range. */
  requires?: Record<string, string>;
}

/** Packs the demo app as `service@version` with the given behaviour. */
export function packDemoVersion(version: string, behaviour: DemoBehaviour, service = DEMO_SERVICE): Promise<Buffer> {
  const { migrations = {}, requires, ...rest } = behaviour;
  const migrationFiles = Object.entries(migrations).map(([name, sql]): [string, string] => [`migrations/${name}`, sql]);
  return packArtifact(
    join(HELLO_DIR, 'app'),
    { service, version, entrypoint: 'server.mjs', ...(requires ? { requires } : {}) },
    { 'behaviour.json': `${JSON.stringify(rest, null, 2)}\n`, ...Object.fromEntries(migrationFiles) },
  );
}

/** The demo's migrations numbered up to `upTo` (demo/hello/migrations), as a version carries them. */
async function demoMigrations(upTo: number): Promise<Record<string, string>> {
  const dir = join(HELLO_DIR, 'migrations');
  const files = (await readdir(dir)).filter((f) => Number(f.split('_')[0]) <= upTo);
  const entries = await Promise.all(
    files.map(async (f): Promise<[string, string]> => [f, await readFile(join(dir, f), 'utf8')]),
  );
  return Object.fromEntries(entries);
}

/** Packs, stores and (with a key) signs one demo version. */
export async function publishDemoVersion(
  store: ArtifactStore,
  version: string,
  behaviour: DemoBehaviour,
  options: { service?: string; signingKeyPem?: string } = {},
): Promise<ArtifactRecord> {
  const service = options.service ?? DEMO_SERVICE;
  const record =
    (await store.resolve(service, version)) ??
    (await store.put(service, version, await packDemoVersion(version, behaviour, service)));
  if (options.signingKeyPem && !(await store.signature(service, version))) {
    await store.putSignature(service, version, signDigest(record.digest, options.signingKeyPem));
  }
  return record;
}

/** Stores (and, with a key, signs) every demo version that is not there yet. */
export async function seedDemoArtifacts(
  store: ArtifactStore,
  options: { service?: string; signingKeyPem?: string } = {},
): Promise<ArtifactRecord[]> {
  const file = await readFile(join(HELLO_DIR, 'versions.json'), 'utf8');
  const versions = JSON.parse(file) as Record<string, DemoBehaviour & { migrationsUpTo?: number }>;
  const records: ArtifactRecord[] = [];
  for (const [version, { migrationsUpTo, ...behaviour }] of Object.entries(versions)) {
    const migrations = migrationsUpTo ? await demoMigrations(migrationsUpTo) : undefined;
    records.push(
      await publishDemoVersion(store, version, { ...behaviour, ...(migrations ? { migrations } : {}) }, options),
    );
  }
  return records;
}

/** Stores (and, with a key, signs) the versions of the demo's other services (DEMO_TRAIN_SERVICES). Idempotent. */
export async function seedDemoTrainServices(
  store: ArtifactStore,
  options: { signingKeyPem?: string } = {},
): Promise<ArtifactRecord[]> {
  const file = await readFile(join(__dirname, 'train', 'versions.json'), 'utf8');
  const services = JSON.parse(file) as Record<string, Record<string, DemoBehaviour>>;
  const records: ArtifactRecord[] = [];
  for (const [service, versions] of Object.entries(services)) {
    for (const [version, behaviour] of Object.entries(versions)) {
      records.push(await publishDemoVersion(store, version, behaviour, { ...options, service }));
    }
  }
  return records;
}
