// `relctl fleet ssm install` and the S3 artifact copies, against moto_server (its SSM documents and S3 are AWS's
// wire protocol): installing twice changes nothing, a changed document gets a new default version; an artifact is
// copied to the bucket once and fetched by a presigned URL; a missing bucket is said in words.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { GetDocumentCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FleetCommandError, fleetCommand } from '../../cli/fleet-commands';
import { S3ArtifactMirror, s3Client } from '../../providers/artifacts/s3-artifact-mirror';
import { createSsmClient } from '../../providers/aws/ssm-client';
import { FleetError } from '../../providers/fleet/fleet-target';
import { installSsmDocuments, shippedSsmDocuments } from '../../providers/fleet/ssm-documents';
import { TEST_AWS_CREDENTIALS } from '../support/engine';
import { describeAgainstMoto, MotoServer } from '../support/moto';

const RELCTL = resolve(import.meta.dirname, '..', '..', 'bin', 'relctl.cjs');

describeAgainstMoto('SSM documents and S3 artifacts', () => {
  let moto: MotoServer;
  beforeAll(async () => {
    moto = await MotoServer.start();
  });
  afterAll(async () => {
    await moto?.close();
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
