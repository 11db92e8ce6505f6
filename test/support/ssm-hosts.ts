// SSM-managed hosts for the engine's end-to-end tests: the SSM double with the shipped documents installed (as
// `relctl fleet ssm install` does) and one instance per region, each with its own root directory and the hooks of
// test/fixtures/ssm-host/hook.mjs, which drive the demo fleet (fleetd) where a real host would drive systemd and its
// proxy. Every host starts provisioned with the version fleetd serves, as a host set up earlier would be.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createSsmClient } from '../../providers/aws/ssm-client';
import { unpackArtifact } from '../../providers/artifacts/pack';
import { installSsmDocuments } from '../../providers/fleet/ssm-documents';
import { FakeSsm } from './fake-ssm';

const HOOK = resolve(import.meta.dirname, '..', 'fixtures', 'ssm-host', 'hook.mjs');

export interface SsmHostsOptions {
  dir: string;
  service: string;
  regions: string[];
  fleetUrl: string;
  fleetTokenFile: string;
  /** What every host serves at the start: the artifact's bytes are unpacked on each host. */
  serving: { version: string; digest: string; bytes: Buffer };
}

export async function startSsmHosts(options: SsmHostsOptions) {
  const fake = await FakeSsm.start({ commandDelayMs: 5 });
  const client = createSsmClient({
    region: 'us-east-1',
    endpoint: fake.endpoint,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
  });
  const installed = await installSsmDocuments(client);
  for (const region of options.regions) {
    const root = join(options.dir, 'hosts', region);
    const home = join(root, options.service);
    const { version, digest } = options.serving;
    await mkdir(join(home, 'hooks'), { recursive: true });
    for (const name of ['start', 'stop', 'route', 'health']) {
      const hook = join(home, 'hooks', name);
      await writeFile(hook, `#!/bin/sh\nexec '${process.execPath}' '${HOOK}' ${name} "$@"\n`);
      await chmod(hook, 0o755);
    }
    await unpackArtifact(options.serving.bytes, join(home, 'releases', version));
    await writeFile(join(home, 'releases', version, '.release-digest'), `${digest}\n`);
    await mkdir(join(home, 'state', 'running'), { recursive: true });
    await mkdir(join(home, 'state', 'weights'), { recursive: true });
    await writeFile(join(home, 'state', 'serving'), `${version}\n`);
    await writeFile(join(home, 'state', 'running', version), '');
    await writeFile(join(home, 'state', 'weights', version), '100\n');
    fake.addInstance({
      id: `i-${region}`,
      tags: { Service: options.service, Region: region },
      root,
      env: { FLEET_REGION: region, FLEET_URL: options.fleetUrl, FLEET_TOKEN_FILE: options.fleetTokenFile },
    });
  }
  return {
    fake,
    client,
    installed,
    /** A host's root directory (its RELEASE_ENGINE_ROOT). */
    rootOf: (region: string) => join(options.dir, 'hosts', region),
    async close() {
      client.destroy();
      await fake.close();
    },
  };
}
