// Releases through the ssm driver and the shipped documents, end to end: the SSM double runs the installed documents
// with a local shell on one host per region, as the SSM agent would, and the hosts' hooks drive the demo fleet. The
// host fetches each artifact by a short-lived URL and checks its digest before unpacking it: the engine's signed URL
// in the first test, an S3 presigned URL (moto_server's S3) in the second, where the object in the bucket was changed.
// The documents' installation (relctl fleet ssm install) and the S3 copies are tested against moto_server too.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetDocumentCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetCommandError, fleetCommand } from '../../cli/fleet-commands';
import { S3ArtifactMirror, s3Client } from '../../providers/artifacts/s3-artifact-mirror';
import { createSsmClient } from '../../providers/aws/ssm-client';
import { FleetError } from '../../providers/fleet/fleet-target';
import { installSsmDocuments, shippedSsmDocuments } from '../../providers/fleet/ssm-documents';
import { TEST_AWS_CREDENTIALS, useEngines } from '../support/engine';
import { describeAgainstMoto, MotoServer } from '../support/moto';

const RELCTL = resolve(import.meta.dirname, '..', '..', 'bin', 'relctl.cjs');

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
    expect(await engine.stableVersions()).toEqual(['1.1.0']);

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

// One moto_server for the S3 release and for `relctl fleet ssm install` and the S3 artifact copies (its SSM documents
// and S3 speak AWS's wire protocol): installing twice changes nothing, a changed document gets a new default version;
// an artifact is copied to the bucket once and fetched by a presigned URL; a missing bucket is said in words.
describeAgainstMoto('ssm fleet driver, documents and artifacts in moto_server', () => {
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
    expect(await engine.stableVersions()).toEqual(['1.0.0']);
    s3.destroy();
  });

  function relctl(env: Record<string, string>) {
    const { PATH, HOME } = process.env;
    return spawnSync(process.execPath, [RELCTL, 'fleet', 'ssm', 'install', '--json'], {
      encoding: 'utf8',
      env: { PATH, HOME, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', ...env },
    });
  }

  it('relctl fleet ssm install creates the five documents and leaves them alone next time; without AWS_REGION it says so', async () => {
    const env = { AWS_REGION: 'eu-west-1', SSM_ENDPOINT: moto.endpoint };
    const first = relctl(env);
    expect(first.stderr).not.toMatch(/relctl:/);
    expect(first.status).toBe(0);
    const created = JSON.parse(first.stdout) as { documents: { name: string; action: string }[] };
    expect(created.documents.map((d) => `${d.name} ${d.action}`)).toEqual([
      'ReleaseEngine-Deploy created',
      'ReleaseEngine-SetTraffic created',
      'ReleaseEngine-Promote created',
      'ReleaseEngine-Revert created',
      'ReleaseEngine-Status created',
    ]);
    // The same command again (called in process: one relctl process per test is enough to prove the CLI).
    const printed: string[] = [];
    const keys = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret' };
    await fleetCommand(['ssm', 'install'], { json: true }, { ...env, ...keys }, (line) => printed.push(line));
    const again = JSON.parse(printed.join('\n')) as { documents: { action: string }[] };
    expect(again.documents.map((d) => d.action)).toEqual(Array(5).fill('unchanged'));

    await expect(
      fleetCommand(['ssm', 'install'], {}, { SSM_ENDPOINT: moto.endpoint }, () => undefined),
    ).rejects.toThrow(new FleetCommandError('fleet ssm install needs AWS_REGION (the region the instances run in)'));
  });

  it('a document that changed since the last install gets a new version, made the default', async () => {
    const client = createSsmClient({ region: 'eu-west-2', endpoint: moto.endpoint, credentials: TEST_AWS_CREDENTIALS });
    const shipped = shippedSsmDocuments();
    await installSsmDocuments(client);
    const status = shipped['ReleaseEngine-Status'];
    if (!status) throw new Error('no Status document');
    const changed = {
      ...shipped,
      'ReleaseEngine-Status': { ...status, description: `${status.description} (edited)` },
    };
    const outcomes = await installSsmDocuments(client, { documents: changed });
    expect(outcomes.map((o) => `${o.name} ${o.action} ${o.documentVersion}`)).toContain(
      'ReleaseEngine-Status updated 2',
    );
    expect(outcomes.filter((o) => o.action === 'unchanged')).toHaveLength(4);
    const running = await client.send(new GetDocumentCommand({ Name: 'ReleaseEngine-Status' }));
    expect(JSON.parse(running.Content ?? '{}')).toMatchObject({ description: `${status.description} (edited)` });
    client.destroy();
  });

  it('copies an artifact to the bucket once, by digest, and hands out presigned URLs of it', async () => {
    const s3 = s3Client({ region: 'us-east-1', endpoint: moto.endpoint, credentials: TEST_AWS_CREDENTIALS });
    await s3.send(new CreateBucketCommand({ Bucket: 'artifacts' }));
    const bytes = Buffer.from('an artifact');
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    let reads = 0;
    const mirror = new S3ArtifactMirror(s3, { bucket: 'artifacts' }, { read: () => (reads++, Promise.resolve(bytes)) });
    const ref = { service: 'hello', version: '1.2.0', digest };
    const url = await mirror.url(ref);
    expect(url).toContain(`/artifacts/release-engine/artifacts/hello/${digest.slice(7)}.tar.gz?`);
    expect(url).toContain('X-Amz-Expires=900');
    const fetched = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(fetched.equals(bytes)).toBe(true);
    await mirror.url(ref);
    expect(reads).toBe(1);

    const nowhere = new S3ArtifactMirror(s3, { bucket: 'no-such-bucket' }, { read: () => Promise.resolve(bytes) });
    const err = await nowhere.url(ref).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FleetError);
    expect((err as FleetError).message).toMatch(
      /^S3 could not copy hello@1\.2\.0 to s3:\/\/no-such-bucket\/.*NoSuchBucket/,
    );
    expect((err as FleetError).retryable).toBe(false);
    s3.destroy();
  });
});
