// The shipped demo (config/catalog.json and the hello versions `npm start` seeds) must be releasable as the README
// tour uses it: a version that carries schema migrations needs an environment with a database, or the first
// release of the tour fails at validation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seedDemoArtifacts } from '../../demo/seed';
import { findService } from '../../domain/catalog';
import { planRelease } from '../../domain/plan';
import { LocalArtifactStore } from '../../providers/artifacts/local-artifact-store';
import { loadCatalog } from '../../providers/catalog';
import { migrationsFromArtifact } from '../../providers/migrations/migrations';

describe('the shipped demo', () => {
  it('every seeded hello version can be planned, and one carrying migrations has environments with databases', async () => {
    const catalog = await loadCatalog(resolve(__dirname, '..', '..', 'config', 'catalog.json'));
    const hello = findService(catalog, 'hello');
    expect(hello).toBeDefined();
    const dir = await mkdtemp(join(tmpdir(), 'demo-catalog-'));
    try {
      const store = new LocalArtifactStore(dir);
      const records = await seedDemoArtifacts(store);
      expect(records.map((r) => r.version).sort()).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0']);
      const carried: Record<string, string[]> = {};
      for (const record of records) {
        const migrations = await migrationsFromArtifact(await store.read(record.digest));
        carried[record.version] = migrations.map((m) => `${m.id} (${m.phase})`);
        const plan = planRelease(
          { service: 'hello', version: record.version, releaseId: 'check', changeClass: 'standard' },
          hello!,
        );
        if (migrations.length > 0) expect(plan.databaseEnvironments).toEqual(['staging', 'production']);
      }
      expect(carried).toEqual({
        '1.0.0': [],
        '1.1.0': ['0001_greetings (expand)'],
        '1.2.0': ['0001_greetings (expand)', '0002_greeting_locale (expand)'],
        '1.3.0': ['0001_greetings (expand)', '0002_greeting_locale (expand)'],
        '1.4.0': ['0001_greetings (expand)', '0002_greeting_locale (expand)'],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
