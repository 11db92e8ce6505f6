// The worker's configuration chooses the production providers: with FLEET_DRIVER=ssm and CONFIG_STORE=ssm the real
// AWS SDK client talks to the SSM endpoint it is given (the SSM double; for Parameter Store also moto_server), and a
// missing companion variable stops the worker with a message naming it.
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSsmClient } from '../../providers/aws/ssm-client';
import { ledgerParameterName } from '../../providers/config-store/version-ledger';
import { parseEnv } from '../../providers/env';
import { WorkerEnv } from '../../workers/config';
import { regionDeps, releaseDeps } from '../../workers/providers';
import { FakeSsm } from '../support/fake-ssm';
import { describeAgainstMoto, MotoServer } from '../support/moto';

const D1 = `sha256:${'1'.repeat(64)}`;

describe('provider configuration of the worker', () => {
  let fake: FakeSsm;
  const saved = { ...process.env };
  beforeAll(async () => {
    fake = await FakeSsm.start({ commandDelayMs: 5 });
    fake.addInstance({
      id: 'i-eu-a',
      tags: { Service: 'hello', Region: 'eu-1' },
      serving: { version: '1.4.0', digest: D1 },
    });
    // The SDK's default credential chain reads these, as it would on a real host.
    process.env.AWS_ACCESS_KEY_ID = 'AKIDTEST';
    process.env.AWS_SECRET_ACCESS_KEY = 'test-secret';
  });
  afterAll(async () => {
    process.env = saved;
    await fake.close();
  });

  function env(extra: Record<string, string>) {
    return parseEnv(WorkerEnv, { DATA_DIR: '/nonexistent-data-dir', ...extra });
  }

  it('FLEET_DRIVER=ssm reads the region through SSM Run Command at the configured endpoint', async () => {
    const { fleet } = regionDeps(
      env({
        FLEET_DRIVER: 'ssm',
        AWS_REGION: 'eu-west-1',
        SSM_ENDPOINT: fake.endpoint,
        FLEET_REGION_ENDPOINTS: 'eu-1=https://hello.eu-1.example.com',
      }),
    );
    const state = await fleet.state({ service: 'hello', region: 'eu-1' });
    expect(state).toMatchObject({ stableVersion: '1.4.0', url: 'https://hello.eu-1.example.com' });
    expect(fake.commandsSent('ReleaseEngine-Status').length).toBeGreaterThan(0);
  }, 30_000);

  it('CONFIG_STORE=ssm keeps the version ledger in Parameter Store', async () => {
    const { ledger } = releaseDeps(env({ CONFIG_STORE: 'ssm', AWS_REGION: 'eu-west-1', SSM_ENDPOINT: fake.endpoint }));
    const entry = { version: '1.4.0', releaseId: 'r-1', recordedAt: '2026-11-30T10:00:00.000Z' };
    await ledger.record('hello', 'eu-1', entry);
    expect(await ledger.current('hello', 'eu-1')).toEqual(entry);
    expect(fake.callsTo('PutParameter').map((c) => (c.body as { Name: string }).Name)).toContain(
      '/release-engine/services/hello/regions/eu-1/version',
    );
  });

  it('a production provider without its companion variable stops the worker, naming the variable', () => {
    expect(() => regionDeps(env({ METRICS_SOURCE: 'prometheus' }))).toThrow(/PROMETHEUS_URL is required/);
    expect(() => regionDeps(env({ FLEET_DRIVER: 'ssm' }))).toThrow(/AWS_REGION is required with FLEET_DRIVER=ssm/);
    expect(() => releaseDeps(env({ CONFIG_STORE: 'ssm' }))).toThrow(/AWS_REGION is required with CONFIG_STORE=ssm/);
    expect(() => env({ FLEET_DRIVER: 'k8s' })).toThrow(/FLEET_DRIVER/);
    expect(() => env({ FLEET_REGION_ENDPOINTS: 'eu-1' })).toThrow(/region=url[\s\S]*at FLEET_REGION_ENDPOINTS/);
  });
});

describeAgainstMoto('CONFIG_STORE=ssm', () => {
  let moto: MotoServer;
  const saved = { ...process.env };
  beforeAll(async () => {
    moto = await MotoServer.start();
    process.env.AWS_ACCESS_KEY_ID = 'AKIDTEST';
    process.env.AWS_SECRET_ACCESS_KEY = 'test-secret';
  });
  afterAll(async () => {
    process.env = saved;
    await moto?.close();
  });

  it('keeps the version ledger in Parameter Store, where anyone with access reads it', async () => {
    const env = parseEnv(WorkerEnv, {
      DATA_DIR: '/nonexistent-data-dir',
      CONFIG_STORE: 'ssm',
      AWS_REGION: 'eu-west-1',
      SSM_ENDPOINT: moto.endpoint,
    });
    const { ledger } = releaseDeps(env);
    const entry = { version: '1.4.0', releaseId: 'r-1', recordedAt: '2026-11-30T10:00:00.000Z' };
    await ledger.record('hello', 'eu-1', entry);
    expect(await ledger.current('hello', 'eu-1')).toEqual(entry);

    const reader = createSsmClient({ region: 'eu-west-1', endpoint: moto.endpoint });
    const name = ledgerParameterName('hello', 'eu-1');
    expect(name).toBe('/release-engine/services/hello/regions/eu-1/version');
    const stored = await reader.send(new GetParameterCommand({ Name: name }));
    expect(JSON.parse(stored.Parameter?.Value ?? '{}')).toEqual(entry);
  });
});
