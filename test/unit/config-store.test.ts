import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ParameterExistsError } from '../../providers/config-store/config-store';
import { FileConfigStore } from '../../providers/config-store/file-config-store';
import { ledgerParameterName, VersionLedger } from '../../providers/config-store/version-ledger';

async function store() {
  return new FileConfigStore(join(await mkdtemp(join(tmpdir(), 'config-')), 'store.json'));
}

describe('file config store', () => {
  it('versions every write and keeps the history', async () => {
    const s = await store();
    expect(await s.put('/a/b', 'one')).toEqual({ version: 1 });
    expect(await s.put('/a/b', 'two')).toEqual({ version: 2 });
    expect((await s.get('/a/b'))?.value).toBe('two');
    expect((await s.history('/a/b')).map((p) => [p.version, p.value])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ]);
    await expect(s.put('/a/b', 'three', { overwrite: false })).rejects.toBeInstanceOf(ParameterExistsError);
  });

  it('lists parameters under a path, not siblings with a common prefix', async () => {
    const s = await store();
    await s.put('/app/x', '1');
    await s.put('/app/y/z', '2');
    await s.put('/application/w', '3');
    expect((await s.getByPath('/app')).map((p) => p.name).sort()).toEqual(['/app/x', '/app/y/z']);
  });

  it('keeps concurrent writes from one process (none lost)', async () => {
    const s = await store();
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.put(`/p/${i}`, String(i))));
    expect(await s.getByPath('/p')).toHaveLength(20);
  });
});

describe('version ledger', () => {
  it('records the current version per region at its documented path, once per release', async () => {
    const s = await store();
    const ledger = new VersionLedger(s);
    const entry = { version: '1.1.0', releaseId: 'r1', recordedAt: '2026-01-01T00:00:00.000Z' };
    expect(await ledger.record('hello', 'eu-1', entry)).toEqual({ written: true });
    expect(await ledger.record('hello', 'eu-1', entry)).toEqual({ written: false });
    await ledger.record('hello', 'eu-1', { ...entry, version: '1.2.0', releaseId: 'r2' });
    expect((await ledger.current('hello', 'eu-1'))?.version).toBe('1.2.0');
    expect((await ledger.history('hello', 'eu-1')).map((e) => e.version)).toEqual(['1.1.0', '1.2.0']);
    expect(ledgerParameterName('hello', 'eu-1')).toBe('/release-engine/services/hello/regions/eu-1/version');
    expect(await s.get('/release-engine/services/hello/regions/eu-1/version')).toBeDefined();
  });
});
