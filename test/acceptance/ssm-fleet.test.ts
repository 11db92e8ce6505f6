// SsmFleetTarget against the SSM double, through the real @aws-sdk/client-ssm: which instances get which document,
// that repeats send nothing, that the instances end up in the state a release expects, and that failures read well.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSsmClient } from '../../providers/aws/ssm-client';
import { FleetError } from '../../providers/fleet/fleet-target';
import { SsmFleetTarget, type SsmFleetOptions } from '../../providers/fleet/ssm-fleet';
import { FakeSsm } from '../support/fake-ssm';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const EU = { service: 'hello', region: 'eu-1' };

let fake: FakeSsm;

async function startFake(commandDelayMs = 5) {
  fake = await FakeSsm.start({ commandDelayMs });
  fake.addInstance({
    id: 'i-eu-a',
    tags: { Service: 'hello', Region: 'eu-1' },
    serving: { version: '1.0.0', digest: D1 },
  });
  fake.addInstance({
    id: 'i-eu-b',
    tags: { Service: 'hello', Region: 'eu-1' },
    serving: { version: '1.0.0', digest: D1 },
  });
  fake.addInstance({
    id: 'i-us-a',
    tags: { Service: 'hello', Region: 'us-1' },
    serving: { version: '1.0.0', digest: D1 },
  });
  fake.addInstance({
    id: 'i-other',
    tags: { Service: 'other', Region: 'eu-1' },
    serving: { version: '3.0.0', digest: D1 },
  });
}

function fleet(options: Partial<SsmFleetOptions> = {}, maxAttempts?: number) {
  return new SsmFleetTarget({
    client: createSsmClient({
      region: 'eu-west-1',
      endpoint: fake.endpoint,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
      maxAttempts,
    }),
    pollIntervalMs: 10,
    endpoints: { 'eu-1': 'https://hello.eu-1.example.com' },
    artifactUrl: (request) => `https://releases.example.com/artifacts/v1/${request.service}/${request.version}`,
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<FleetError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FleetError);
  return err as FleetError;
}

beforeEach(async () => {
  await startFake();
});

afterEach(async () => {
  await fake.close();
});

describe('SSM fleet target', () => {
  it('reports the region as its instances do', async () => {
    expect(await fleet().state(EU)).toEqual({
      ...EU,
      stableVersion: '1.0.0',
      weights: { '1.0.0': 100 },
      instances: [
        { version: '1.0.0', port: 0, healthy: true },
        { version: '1.0.0', port: 0, healthy: true },
      ],
      url: 'https://hello.eu-1.example.com',
    });
    fake.setHealthy('i-eu-b', '1.0.0', false);
    expect((await fleet().state(EU)).instances.map((i) => i.healthy).sort()).toEqual([false, true]);
    expect((await fleet().state({ service: 'hello', region: 'us-1' })).url).toBe('');
  });

  it("deploys to the region's instances only, with the version and digest, and never twice", async () => {
    const f = fleet();
    const request = { ...EU, version: '1.1.0', digest: D2, requestId: 'rel-42' };
    // What each instance said comes back for the timeline.
    expect(await f.deploy(request)).toEqual({
      previousVersion: '1.0.0',
      alreadyRunning: false,
      output: 'i-eu-a: started 1.1.0 at 0% of the traffic\ni-eu-b: started 1.1.0 at 0% of the traffic',
    });

    const sent = fake.commandsSent('ReleaseEngine-Deploy');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body).toMatchObject({
      Parameters: {
        service: ['hello'],
        version: ['1.1.0'],
        digest: [D2],
        artifactUrl: ['https://releases.example.com/artifacts/v1/hello/1.1.0'],
        requestId: ['rel-42'],
      },
      Targets: [
        { Key: 'tag:Service', Values: ['hello'] },
        { Key: 'tag:Region', Values: ['eu-1'] },
      ],
      Comment: 'release-engine rel-42',
    });
    expect(fake.instance('i-eu-a').running).toEqual({ '1.0.0': D1, '1.1.0': D2 });
    expect(fake.instance('i-eu-b').running).toEqual({ '1.0.0': D1, '1.1.0': D2 });
    expect(fake.instance('i-us-a').running).toEqual({ '1.0.0': D1 });
    expect(fake.instance('i-other').running).toEqual({ '3.0.0': D1 });
    // Installed beside the stable version, not serving.
    expect(await f.state(EU)).toMatchObject({ stableVersion: '1.0.0', weights: { '1.0.0': 100, '1.1.0': 0 } });

    expect(await f.deploy(request)).toEqual({ previousVersion: '1.0.0', alreadyRunning: true });
    expect(fake.commandsSent('ReleaseEngine-Deploy')).toHaveLength(1);
  });

  it('refuses a deploy when the hosts would have no URL to fetch the artifact from, sending nothing', async () => {
    const err = await failure(
      fleet({ artifactUrl: () => undefined }).deploy({ ...EU, version: '1.1.0', digest: D2, requestId: 'r' }),
    );
    expect(err.message).toMatch(
      /^the ssm driver has no URL the instances could fetch hello@1\.1\.0 from: set ARTIFACT_URL_BASE/,
    );
    expect(err.retryable).toBe(false);
    expect(fake.commandsSent('ReleaseEngine-Deploy')).toHaveLength(0);
  });

  it('refuses to deploy a version that already runs with another digest', async () => {
    const err = await failure(fleet().deploy({ ...EU, version: '1.0.0', digest: D2, requestId: 'r' }));
    expect(err.message).toContain('hello@1.0.0 already runs in eu-1 with another digest');
    expect(err.retryable).toBe(false);
    expect(fake.commandsSent('ReleaseEngine-Deploy')).toHaveLength(0);
  });

  it('shifts traffic, promotes and reverts, as the Status document then reports', async () => {
    const f = fleet();
    await f.deploy({ ...EU, version: '1.1.0', digest: D2, requestId: 'r1' });

    await f.setTraffic({ ...EU, version: '1.1.0', percent: 10, requestId: 'r1' });
    expect(await f.state(EU)).toMatchObject({ stableVersion: '1.0.0', weights: { '1.0.0': 90, '1.1.0': 10 } });
    await f.setTraffic({ ...EU, version: '1.1.0', percent: 10, requestId: 'r1' });
    expect(fake.commandsSent('ReleaseEngine-SetTraffic')).toHaveLength(1);
    expect(fake.commandsSent('ReleaseEngine-SetTraffic')[0]?.body.Parameters).toEqual({
      service: ['hello'],
      version: ['1.1.0'],
      percent: ['10'],
      requestId: ['r1'],
    });

    expect(await f.promote({ ...EU, version: '1.1.0', requestId: 'r1' })).toEqual({ previousVersion: '1.0.0' });
    const promoted = await f.state(EU);
    expect(promoted).toMatchObject({ stableVersion: '1.1.0', weights: { '1.1.0': 100 } });
    expect(promoted.instances.map((i) => i.version)).toEqual(['1.1.0', '1.1.0']);
    expect(await f.promote({ ...EU, version: '1.1.0', requestId: 'r1' })).toEqual({ previousVersion: undefined });
    expect(fake.commandsSent('ReleaseEngine-Promote')).toHaveLength(1);

    // 1.0.0 was drained; a revert starts it again from the release kept on the instances.
    await f.revert({ ...EU, version: '1.0.0', requestId: 'rollback' });
    const reverted = await f.state(EU);
    expect(reverted).toMatchObject({ stableVersion: '1.0.0', weights: { '1.0.0': 100 } });
    expect(reverted.instances.map((i) => i.version)).toEqual(['1.0.0', '1.0.0']);
    await f.revert({ ...EU, version: '1.0.0', requestId: 'rollback' });
    expect(fake.commandsSent('ReleaseEngine-Revert')).toHaveLength(1);
    expect(fake.instance('i-us-a').serving).toBe('1.0.0');
  });

  it('refuses traffic for a version that is not deployed, without sending anything', async () => {
    const err = await failure(fleet().setTraffic({ ...EU, version: '9.9.9', percent: 10, requestId: 'r' }));
    expect(err.message).toBe('hello@9.9.9 is not deployed in eu-1 (not on i-eu-a, i-eu-b)');
    expect(err.retryable).toBe(false);
    expect(fake.commandsSent('ReleaseEngine-SetTraffic')).toHaveLength(0);
  });

  it('fails a deploy that failed on one instance, naming it and its error, not retryable', async () => {
    const f = fleet();
    fake.failNext(
      'i-eu-b',
      'tar: write error\nno space left on device: /var/lib/release-engine',
      'ReleaseEngine-Deploy',
    );
    const err = await failure(f.deploy({ ...EU, version: '1.1.0', digest: D2, requestId: 'r' }));
    expect(err.message).toBe(
      'ReleaseEngine-Deploy did not succeed on 1 of 2 instances of hello in eu-1: ' +
        'i-eu-b failed: no space left on device: /var/lib/release-engine',
    );
    expect(err.retryable).toBe(false);

    // Once the instance is fixed, the same deploy completes the job.
    expect(await f.deploy({ ...EU, version: '1.1.0', digest: D2, requestId: 'r' })).toMatchObject({
      alreadyRunning: false,
    });
    expect(fake.instance('i-eu-b').running).toHaveProperty('1.1.0', D2);
  });

  it('reports an instance that timed out as retryable', async () => {
    fake.timeOutNext('i-eu-a', 'ReleaseEngine-Promote');
    const f = fleet();
    await f.deploy({ ...EU, version: '1.1.0', digest: D2, requestId: 'r' });
    const err = await failure(f.promote({ ...EU, version: '1.1.0', requestId: 'r' }));
    expect(err.message).toContain('i-eu-a timed out');
    expect(err.retryable).toBe(true);

    // The instances now disagree; state() says so instead of picking one, and a revert reconciles them.
    const disagreement = await failure(f.state(EU));
    expect(disagreement.message).toBe(
      'the instances of hello in eu-1 disagree (i-eu-a: 1.0.0 stable, 1.0.0 100%; i-eu-b: 1.1.0 stable, 1.1.0 100%); ' +
        'revert the region to one version',
    );
    // The retried promote only has to finish the job on the instance that timed out.
    expect(await f.promote({ ...EU, version: '1.1.0', requestId: 'r' })).toEqual({ previousVersion: '1.0.0' });
    expect((await f.state(EU)).stableVersion).toBe('1.1.0');
  });

  it('says clearly when no instance matches', async () => {
    const err = await failure(
      fleet().deploy({ service: 'hello', region: 'ap-1', version: '1.1.0', digest: D2, requestId: 'r' }),
    );
    expect(err.message).toBe('no instances tagged Service=hello, Region=ap-1');
    expect(err.retryable).toBe(false);
    expect(fake.commandsSent('ReleaseEngine-Deploy')).toHaveLength(0);

    const custom = fleet({ tags: { service: 'app', region: 'zone' } });
    expect((await failure(custom.state(EU))).message).toBe('no instances tagged app=hello, zone=eu-1');
  });

  it('stops polling when the call is cancelled', async () => {
    await fake.close();
    // Its first command takes 2 s; the call is cancelled as soon as it polls for that command's result (not after a
    // fixed delay, which a loaded machine can outlast before the first poll).
    await startFake(2000);
    const controller = new AbortController();
    const started = Date.now();
    const deploying = fleet().deploy(
      { ...EU, version: '1.1.0', digest: D2, requestId: 'r' },
      { signal: controller.signal },
    );
    deploying.catch(() => undefined);
    while (fake.callsTo('ListCommandInvocations').length === 0 && Date.now() - started < 1500) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(fake.callsTo('ListCommandInvocations').length).toBeGreaterThan(0);
    controller.abort(new Error('activity cancelled'));
    await expect(deploying).rejects.toThrow('activity cancelled');
    expect(Date.now() - started).toBeLessThan(2000);

    // A request already on the wire when the signal fired may still land; after that, nothing more arrives.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const polls = fake.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(fake.calls.length).toBe(polls);
    expect(fake.commandsSent('ReleaseEngine-Deploy')).toHaveLength(0);
  });

  it('refuses metrics clearly', async () => {
    const err = await failure(fleet().metrics(EU));
    expect(err.message).toBe('metrics for SSM fleets come from the metrics source (Prometheus)');
    expect(err.retryable).toBe(false);
  });

  it('rides out throttling through the SDK retries, and says so when it persists', async () => {
    fake.throttle('SendCommand', 2);
    await fleet().deploy({ ...EU, version: '1.1.0', digest: D2, requestId: 'r' });
    expect(fake.callsTo('SendCommand').map((c) => c.error ?? c.body.DocumentName)).toEqual([
      'ThrottlingException',
      'ThrottlingException',
      'ReleaseEngine-Status',
      'ReleaseEngine-Deploy',
    ]);

    fake.throttle('SendCommand', 10);
    const err = await failure(fleet({}, 2).state(EU));
    expect(err.message).toBe(
      'SSM kept throttling the request to send ReleaseEngine-Status (2 attempts): Rate exceeded',
    );
    expect(err.retryable).toBe(true);
  });

  it('passes on what AWS said when it refuses, not retryable', async () => {
    fake.failCalls(
      'SendCommand',
      'AccessDeniedException',
      'User: arn:aws:iam::1:user/x is not authorized to perform: ssm:SendCommand',
    );
    const denied = await failure(fleet().state(EU));
    expect(denied.message).toBe(
      'SSM refused to send ReleaseEngine-Status: AccessDeniedException: User: arn:aws:iam::1:user/x is not authorized to perform: ssm:SendCommand',
    );
    expect(denied.retryable).toBe(false);

    const unknown = await failure(fleet({ documents: { status: 'Acme-Status' } }).state(EU));
    expect(unknown.message).toBe(
      'SSM refused to send Acme-Status: InvalidDocument: Document with name Acme-Status does not exist.',
    );
    expect(unknown.retryable).toBe(false);

    fake.failCalls(
      'ListCommandInvocations',
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
    const unrecognised = await failure(fleet().state(EU));
    expect(unrecognised.message).toContain(
      'UnrecognizedClientException: The security token included in the request is invalid.',
    );
    expect(unrecognised.retryable).toBe(false);
  });
});
