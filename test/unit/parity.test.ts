// Config parity between two environments, on the embedded file store.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileConfigStore } from '../../providers/config-store/file-config-store';
import { configParity, describeParity } from '../../providers/config-store/parity';

async function store() {
  return new FileConfigStore(join(await mkdtemp(join(tmpdir(), 'parity-')), 'store.json'));
}

const at = (env: string, key: string) => `/release-engine/config/hello/${env}/${key}`;

describe('config parity', () => {
  it('reports keys only in one environment, both ways', async () => {
    const s = await store();
    await s.put(at('staging', 'db/url'), 'postgres://staging');
    await s.put(at('staging', 'db/pool-size'), '5');
    await s.put(at('staging', 'feature/x'), 'on');
    await s.put(at('production', 'db/url'), 'postgres://production');
    await s.put(at('production', 'legacy-flag'), 'on');
    // Another service and a sibling environment sharing the prefix are not part of the comparison.
    await s.put('/release-engine/config/other/staging/only-other', '1');
    await s.put(at('production-eu', 'extra'), '1');

    const report = await configParity(s, 'hello', 'staging', 'production');
    expect(report).toEqual({
      base: 'staging',
      other: 'production',
      onlyInBase: ['db/pool-size', 'feature/x'],
      onlyInOther: ['legacy-flag'],
      ok: false,
    });
    expect(describeParity(report)).toBe(
      'production lacks 2 keys staging has: db/pool-size, feature/x; staging lacks 1 key production has: legacy-flag',
    );
    expect(describeParity({ ...report, onlyInOther: [] })).toBe(
      'production lacks 2 keys staging has: db/pool-size, feature/x',
    );
  });

  it('is ok for identical key sets, whatever the values', async () => {
    const s = await store();
    for (const [env, value] of [
      ['staging', 'a'],
      ['production', 'b'],
    ] as const) {
      await s.put(at(env, 'db/url'), `postgres://${value}`);
      await s.put(at(env, 'secret/api-key'), `key-${value}`);
    }
    const report = await configParity(s, 'hello', 'staging', 'production');
    expect(report).toEqual({ base: 'staging', other: 'production', onlyInBase: [], onlyInOther: [], ok: true });
    expect(describeParity(report)).toBe('staging and production have the same config keys');
  });

  it('treats an environment with no config as lacking every key', async () => {
    const s = await store();
    await s.put(at('staging', 'db/url'), 'x');
    const report = await configParity(s, 'hello', 'staging', 'production');
    expect(report.onlyInBase).toEqual(['db/url']);
    expect(describeParity(report)).toBe('production lacks 1 key staging has: db/url');
  });

  it('refuses names that would leave the service tree', async () => {
    const s = await store();
    await expect(configParity(s, 'hello', 'staging', '../other')).rejects.toThrow('environment name "../other"');
  });
});
