// Only verified artifacts are released: the digest must match the bytes and, for a service that requires it, a key
// it trusts must have signed that digest. Anything else fails the release before a single region is touched.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packDemoVersion } from '../../demo/seed';
import { generateSigningKey, signDigest } from '../../providers/artifacts/signing';
import { useEngines } from '../support/engine';

describe('artifact trust', () => {
  const engines = useEngines();
  const behaviour = { greeting: 'hi', failureRate: 0, latencyMs: 5 };

  it('releases a signed artifact and says who signed it', async () => {
    const engine = await engines.start({ waves: [['a']] });
    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.1.0', releaseId: 'signed' });
    const done = await engine.waitForOutcome('signed');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.timeline.map((e) => e.message)).toContain(
      `artifact ${engine.service}@1.1.0 is ${done.artifactDigest}, signed by key ${engine.signingKey.keyId}`,
    );
    expect((await engine.artifacts.promotion(engine.service, '1.1.0')).status).toBe('released');
  });

  it('refuses unsigned, untrusted and forged artifacts, naming the problem, and touches nothing', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const { service } = engine;
    // Unsigned.
    const unsigned = await engine.artifacts.put(service, '2.0.0', await packDemoVersion('2.0.0', behaviour, service));
    // Signed by a key the service does not trust.
    const stranger = generateSigningKey();
    const untrusted = await engine.artifacts.put(service, '2.0.1', await packDemoVersion('2.0.1', behaviour, service));
    await engine.artifacts.putSignature(service, '2.0.1', signDigest(untrusted.digest, stranger.privateKeyPem));
    // A trusted key's signature of some other digest, relabelled for this artifact.
    const forged = await engine.artifacts.put(service, '2.0.2', await packDemoVersion('2.0.2', behaviour, service));
    const genuine = signDigest(unsigned.digest, engine.signingKey.privateKeyPem);
    await engine.artifacts.putSignature(service, '2.0.2', { ...genuine, digest: forged.digest });

    const cases: [string, string][] = [
      ['2.0.0', `${service}@2.0.0 (${unsigned.digest}) is not signed, and ${service} only releases signed artifacts`],
      [
        '2.0.1',
        `${service}@2.0.1 (${untrusted.digest}) is refused: it is signed with key ${stranger.keyId}, which is not trusted (trusted: ${engine.signingKey.keyId})`,
      ],
      [
        '2.0.2',
        `${service}@2.0.2 (${forged.digest}) is refused: its signature by key ${engine.signingKey.keyId} does not verify`,
      ],
    ];
    for (const [version, reason] of cases) {
      const releaseId = `bad-${version.replaceAll('.', '-')}`;
      await engine.trpc('ci').release.start.mutate({ service, version, releaseId });
      const done = await engine.waitForOutcome(releaseId);
      expect(done.outcome).toMatchObject({ result: 'failed', reason });
      expect(await engine.fleetEvents(releaseId)).toEqual([]);
      expect((await engine.artifacts.promotion(service, version)).status).toBe('candidate');
    }
  });

  it('a signed artifact with one byte changed in the store fails the release, naming its digest', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const { service } = engine;
    const record = await engine.publish('2.1.0', behaviour);
    // Someone with write access to the store flips one byte of the archive after it was signed.
    const blob = join(engine.dir, 'data', 'artifacts', 'blobs', 'sha256', record.digest.slice('sha256:'.length));
    const bytes = await readFile(blob);
    const middle = bytes.length >> 1;
    bytes.writeUInt8((bytes.readUInt8(middle) ^ 0x01) & 0xff, middle);
    await writeFile(blob, bytes);

    await engine.trpc('ci').release.start.mutate({ service, version: '2.1.0', releaseId: 'tampered' });
    const done = await engine.waitForOutcome('tampered');
    expect(done.outcome?.result).toBe('failed');
    expect(done.outcome?.reason).toContain(`artifact ${record.digest} is corrupt`);
    expect(await engine.fleetEvents('tampered')).toEqual([]);
    expect((await engine.artifacts.promotion(service, '2.1.0')).status).toBe('candidate');
  });
});
