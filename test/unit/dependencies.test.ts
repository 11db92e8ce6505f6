// Requirements between services and the order of the dependency graph, as pure functions; and the catalog and
// manifest fields that feed them, refused by field when wrong.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactCommand } from '../../cli/artifact-commands';
import { readArtifactManifest } from '../../providers/artifacts/pack';
import { ArtifactManifest } from '../../domain/artifact';
import { ServiceCatalog } from '../../domain/catalog';
import { dependencyLevels, unmetRequirements } from '../../domain/dependencies';

const base = {
  service: 'checkout',
  version: '2.0.0',
  requires: { payments: '>=1.4.0' },
  dependsOn: ['payments'],
  environments: ['staging', 'production'],
};

describe('unmetRequirements', () => {
  it('names the service, the environment and the version found there', () => {
    const running = (_: string, env: string) =>
      env === 'staging' ? [{ region: 'stg-1', version: '1.4.0' }] : [{ region: 'eu-1', version: '1.3.2' }];
    expect(unmetRequirements({ ...base, running })).toEqual([
      'checkout@2.0.0 needs payments >=1.4.0 in production, which runs 1.3.2',
    ]);
    expect(unmetRequirements({ ...base, running: () => [{ region: 'eu-1', version: '1.5.0' }] })).toEqual([]);
  });

  it('names the regions behind when they differ, and a region that runs nothing known fails', () => {
    const running = () => [
      { region: 'eu-1', version: '1.4.0' },
      { region: 'us-1', version: '1.3.0' },
      { region: 'ap-1', version: undefined },
    ];
    expect(unmetRequirements({ ...base, environments: ['production'], running })).toEqual([
      'checkout@2.0.0 needs payments >=1.4.0 in production, where us-1 runs 1.3.0, ap-1 runs nothing known',
    ]);
  });

  it('refuses a requirement on a service the catalog does not list as a dependency, or that lacks the environment', () => {
    expect(unmetRequirements({ ...base, dependsOn: [], running: () => [] })).toEqual([
      "checkout@2.0.0 requires payments >=1.4.0, but the catalog does not list payments in checkout's dependsOn",
    ]);
    expect(unmetRequirements({ ...base, environments: ['production'], running: () => undefined })).toEqual([
      'checkout@2.0.0 needs payments >=1.4.0 in production, where the catalog has no payments',
    ]);
  });

  it('understands the usual ranges, prereleases included', () => {
    const check = (range: string, version: string) =>
      unmetRequirements({
        ...base,
        requires: { payments: range },
        environments: ['production'],
        running: () => [{ region: 'eu-1', version }],
      }).length === 0;
    expect(check('^1.4.0', '1.9.3')).toBe(true);
    expect(check('^1.4.0', '2.0.0')).toBe(false);
    expect(check('1.x || >=3.0.0', '3.1.0')).toBe(true);
    expect(check('>=1.4.0', '1.5.0-rc.1')).toBe(true);
  });
});

describe('dependencyLevels', () => {
  it('orders services after what they depend on; independent ones share a level', () => {
    const graph = new Map([
      ['web', ['greeter']],
      ['greeter', ['hello']],
      ['hello', []],
      ['billing', []],
    ]);
    expect(dependencyLevels(graph)).toEqual([['billing', 'hello'], ['greeter'], ['web']]);
  });

  it('names a cycle', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', []],
    ]);
    expect(() => dependencyLevels(graph)).toThrow('the dependencies form a cycle: a -> b -> c -> a');
  });
});

describe('catalog and manifest fields', () => {
  const env = [{ name: 'production', waves: [['eu-1']] }];
  const problems = (services: unknown[]) => ServiceCatalog.safeParse({ services }).error?.message ?? '';

  it('refuses a dependency that is not in the catalog, on itself, or in a cycle', () => {
    expect(problems([{ name: 'web', dependsOn: ['nowhere'], environments: env }])).toMatch(
      /service web depends on nowhere, which is not in the catalog[\s\S]*"dependsOn",\s*0/,
    );
    expect(problems([{ name: 'web', dependsOn: ['web'], environments: env }])).toMatch(/cannot depend on itself/);
    expect(
      problems([
        { name: 'a', dependsOn: ['b'], environments: env },
        { name: 'b', dependsOn: ['a'], environments: env },
      ]),
    ).toMatch(/the dependencies form a cycle: a -> b -> a/);
  });

  it('takes requires as semver ranges in the manifest, and refuses anything else by field', () => {
    const manifest = { service: 'web', version: '1.0.0', entrypoint: 'server.mjs' };
    expect(ArtifactManifest.parse({ ...manifest, requires: { greeter: '^2.1.0' } }).requires).toEqual({
      greeter: '^2.1.0',
    });
    const bad = ArtifactManifest.safeParse({ ...manifest, requires: { greeter: 'the newest one' } });
    expect(bad.error?.issues[0]).toMatchObject({
      path: ['requires', 'greeter'],
      message: 'must be a semver range such as >=1.4.0 or ^2.1.0',
    });
  });
});

describe('relctl artifact pack --requires', () => {
  it('writes the requirements into the manifest, and refuses a bad range naming the flag', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pack-requires-'));
    try {
      await writeFile(join(dir, 'server.mjs'), 'export {};\n');
      const out = join(dir, 'web.tgz');
      const options = { service: 'web', version: '1.0.0', out };
      await artifactCommand('pack', [dir], { ...options, requires: ['greeter@^2.1.0'] }, () => undefined);
      expect((await readArtifactManifest(await readFile(out))).requires).toEqual({ greeter: '^2.1.0' });
      await expect(
        artifactCommand('pack', [dir], { ...options, requires: ['greeter@newest'] }, () => undefined),
      ).rejects.toThrow('--requires greeter: must be a semver range such as >=1.4.0 or ^2.1.0');
      await expect(
        artifactCommand('pack', [dir], { ...options, requires: ['>=1.0.0'] }, () => undefined),
      ).rejects.toThrow('--requires takes <service>@<semver range>, not ">=1.0.0"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
