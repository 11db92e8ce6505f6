// Seeds the artifact store with the demo service's versions (hello@1.0.0, a healthy 1.1.0, and 1.2.0, which fails
// about 30% of requests). Idempotent: versions already in the store are left alone.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactRecord } from '../domain/artifact';
import type { ArtifactStore } from '../providers/artifacts/artifact-store';
import { packArtifact } from '../providers/artifacts/pack';

export const DEMO_SERVICE = 'hello';
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
}

/** Packs the demo app as `service@version` with the given behaviour. */
export function packDemoVersion(version: string, behaviour: DemoBehaviour, service = DEMO_SERVICE): Promise<Buffer> {
  return packArtifact(
    join(HELLO_DIR, 'app'),
    { service, version, entrypoint: 'server.mjs' },
    { 'behaviour.json': `${JSON.stringify(behaviour, null, 2)}\n` },
  );
}

export async function seedDemoArtifacts(store: ArtifactStore, service = DEMO_SERVICE): Promise<ArtifactRecord[]> {
  const versions = JSON.parse(await readFile(join(HELLO_DIR, 'versions.json'), 'utf8')) as Record<
    string,
    DemoBehaviour
  >;
  const records: ArtifactRecord[] = [];
  for (const [version, behaviour] of Object.entries(versions)) {
    const existing = await store.resolve(service, version);
    records.push(existing ?? (await store.put(service, version, await packDemoVersion(version, behaviour, service))));
  }
  return records;
}
