// Releases through the ssm driver and the shipped documents, end to end: the SSM double runs the installed documents
// with a local shell on one host per region, as the SSM agent would, and the hosts' hooks drive the demo fleet. The
// host fetches each artifact by a short-lived URL and checks its digest before unpacking it: the engine's signed URL
// in the first test, an S3 presigned URL (moto_server's S3) in the second, where the object in the bucket was changed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactMirror, s3Client } from '../../providers/artifacts/s3-artifact-mirror';
import { TEST_AWS_CREDENTIALS, type TestEngine, useEngines } from '../support/engine';
import { describeAgainstMoto, MotoServer } from '../support/moto';

async function stableVersions(engine: TestEngine) {
  return Promise.all(
    engine.regions.map(async (region) => (await engine.fleet.state({ service: engine.service, region })).stableVersion),
  );
}

describe('ssm fleet driver, end to end', () => {
  const engines = useEngines();

  it('a release runs the shipped documents on the hosts: artifact fetched by signed URL, digest checked, unpacked', async () => {
    const engine = await engines.start({ fleet: 'ssm', waves: [['a']] });
    const [a] = engine.regions as [string];
    const hosts = engine.ssmHosts;
    if (!hosts) throw new Error('no SSM hosts');
    expect(hosts.installed.map((d) => d.action)).toEqual(['created', 'created', 'created', 'created', 'created']);

    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.1.0', releaseId: 'ssm-1' });
    const status = await engine.waitForOutcome('ssm-1', 120_000);
    expect([status.outcome?.result, status.outcome?.reason]).toEqual(['succeeded', undefined]);
    expect(await stableVersions(engine)).toEqual(['1.1.0']);

    // Every step went through a document, sent to the region's host by its tags.
    const sent = hosts.fake.callsTo('SendCommand').filter((c) => !c.error);
    expect(new Set(sent.map((c) => c.body.DocumentName))).toEqual(
      new Set(['ReleaseEngine-Status', 'ReleaseEngine-Deploy', 'ReleaseEngine-SetTraffic', 'ReleaseEngine-Promote']),
    );
    // The host says what it did; that is on the timeline and in the audit trail.
    const said = new RegExp(
      `^i-${a}: fetched ${engine.service}@1\\.1\\.0 \\(\\d+ bytes\\), digest checked, unpacked; started ${engine.service}@1\\.1\\.0 at 0% of the traffic$`,
    );
    const started = status.timeline.find((t) => t.message.startsWith(`${a}: 1.1.0 started at 0% of traffic`));
    expect(started?.message.split('; the fleet said: ')[1]).toMatch(said);
    const records = await engine.auditTrail.list({ releaseId: 'ssm-1' });
    const audited = records.find((r) => r.action === 'region.canary-started' && r.region === a);
    expect((audited?.details as { output?: string } | undefined)?.output).toMatch(said);

    // On the host: the release unpacked from the artifact, and the state the Status document reports.
    const home = join(hosts.rootOf(a), engine.service);
    const manifest = JSON.parse(readFileSync(join(home, 'releases', '1.1.0', 'artifact.json'), 'utf8')) as {
      version: string;
    };
    expect(manifest.version).toBe('1.1.0');
    expect(readFileSync(join(home, 'state', 'serving'), 'utf8').trim()).toBe('1.1.0');
    expect(existsSync(join(home, 'state', 'running', '1.0.0'))).toBe(false);
    // The demo fleet was deployed once, by the host's hook.
    const deploys = (await engine.fleetEvents('ssm-1')).filter((e) => e.event === 'deploy');
    expect(deploys.map((e) => e.region)).toEqual([a]);
  });
});

describeAgainstMoto('ssm fleet driver, artifacts from S3', () => {
  const engines = useEngines();
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await MotoServer.start();
  });
  afterAll(async () => {
    await moto?.close();
  });

  it('an artifact changed in the bucket is refused on the host, before unpacking, and the release rolls back', async () => {
    const bucket = 'release-artifacts';
    const s3 = s3Client({ region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_AWS_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const engine = await engines.start({
      fleet: 'ssm',
      waves: [['a']],
      ssm: { s3: { endpoint: moto.endpoint, bucket } },
    });
    const [a] = engine.regions as [string];
    const record = await engine.artifacts.resolve(engine.service, '1.1.0');
    if (!record) throw new Error('no 1.1.0');
    // Someone with write access to the bucket replaces the object the engine would have copied there.
    const mirror = new S3ArtifactMirror(s3, { bucket }, engine.artifacts);
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: mirror.keyOf({ ...record, service: engine.service }), Body: 'evil' }),
    );

    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.1.0', releaseId: 'ssm-bad' });
    const status = await engine.waitForOutcome('ssm-bad', 120_000);
    expect(status.outcome?.result).toBe('rolled-back');
    expect(status.outcome?.reason).toContain(`the artifact fetched hashes to sha256:`);
    expect(status.outcome?.reason).toContain(`not ${record.digest}: refusing to unpack it`);
    // Nothing of 1.1.0 reached the host's disk or the fleet; the region still serves 1.0.0.
    expect(existsSync(join(engine.ssmHosts?.rootOf(a) ?? '', engine.service, 'releases', '1.1.0'))).toBe(false);
    expect((await engine.fleetEvents('ssm-bad')).filter((e) => e.event === 'deploy')).toEqual([]);
    expect(await stableVersions(engine)).toEqual(['1.0.0']);
    s3.destroy();
  });
});
