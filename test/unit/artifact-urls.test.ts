// Signed artifact URLs: a host with the URL gets exactly the artifact the worker signed for, until the URL expires;
// a changed path, digest or signature, or an expired URL, is refused in words, and so is a blob that no longer
// hashes to its digest.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { artifactDownloads } from '../../api/artifact-downloads';
import { ArtifactUrlSigner } from '../../providers/artifacts/artifact-urls';
import { sha256Digest } from '../../providers/artifacts/digest';

const bytes = Buffer.from('the artifact');
const digest = sha256Digest(bytes);
let stored = bytes;

const app = express();
const server = app.listen(0, '127.0.0.1');
const base = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const signer = () => new ArtifactUrlSigner(Buffer.alloc(32, 7), base());
app.use(
  '/artifacts',
  artifactDownloads({
    signer: new ArtifactUrlSigner(Buffer.alloc(32, 7), ''),
    blobs: {
      resolve: (service, version) =>
        Promise.resolve(
          service === 'hello' && version === '1.1.0'
            ? { service, version, digest, size: bytes.length, createdAt: '2026-12-01T00:00:00Z' }
            : undefined,
        ),
      read: (d) =>
        sha256Digest(stored) === d ? Promise.resolve(stored) : Promise.reject(new Error('the stored copy is corrupt')),
    },
  }),
);
afterAll(() => void server.close());

async function get(url: string) {
  const res = await fetch(url);
  return { status: res.status, text: res.status === 200 ? undefined : (await res.text()).trim(), res };
}

describe('signed artifact URLs', () => {
  it('serve the signed artifact, and refuse anything else in words', async () => {
    const ref = { service: 'hello', version: '1.1.0', digest };
    const ok = await get(signer().url(ref));
    expect(ok.status).toBe(200);
    expect(ok.res.headers.get('x-artifact-digest')).toBe(digest);
    expect(Buffer.from(await ok.res.arrayBuffer())).toEqual(bytes);

    const other = await get(
      signer()
        .url({ ...ref, version: '1.2.0' })
        .replace('1.2.0', '1.1.0'),
    );
    expect(other.status).toBe(403);
    expect(other.text).toContain('the signature does not match');
    const expired = await get(signer().url(ref, 60, Date.now() - 3_600_000));
    expect(expired).toMatchObject({
      status: 403,
      text: 'artifact hello@1.1.0: the URL has expired (ask the engine for a new one)',
    });
    const bare = await get(`${base()}/artifacts/v1/hello/1.1.0`);
    expect(bare).toMatchObject({ status: 403, text: 'artifact hello@1.1.0: the URL lacks its expiry or signature' });
    const wrongDigest = await get(signer().url({ ...ref, digest: sha256Digest(Buffer.from('x')) }));
    expect(wrongDigest.status).toBe(409);

    stored = Buffer.from('tampered');
    const tampered = await get(signer().url(ref));
    expect(tampered).toMatchObject({ status: 409, text: 'artifact hello@1.1.0: the stored copy is corrupt' });
    stored = bytes;
  });
});
