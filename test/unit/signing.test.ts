import { describe, expect, it } from 'vitest';
import { checkSignature, generateSigningKey, keyIdOf, signDigest } from '../../providers/artifacts/signing';

const digest = `sha256:${'ab'.repeat(32)}`;
const other = `sha256:${'cd'.repeat(32)}`;

describe('artifact signatures', () => {
  const key = generateSigningKey();
  const trusted = [{ id: key.keyId, publicKeyPem: key.publicKeyPem }];

  it('verifies a signature by a trusted key, and names the key', () => {
    const signature = signDigest(digest, key.privateKeyPem);
    expect(signature).toMatchObject({ algorithm: 'ed25519', keyId: key.keyId, digest });
    expect(checkSignature(signature, digest, trusted)).toEqual({ ok: true, keyId: key.keyId });
    expect(keyIdOf(key.publicKeyPem)).toBe(key.keyId);
  });

  it('refuses a signature for other bytes, by an untrusted key, or altered', () => {
    const signature = signDigest(digest, key.privateKeyPem);
    expect(checkSignature(signature, other, trusted)).toMatchObject({ ok: false, problem: 'digest-mismatch' });
    const stranger = generateSigningKey();
    expect(checkSignature(signDigest(digest, stranger.privateKeyPem), digest, trusted)).toEqual({
      ok: false,
      problem: 'untrusted-key',
      message: `it is signed with key ${stranger.keyId}, which is not trusted (trusted: ${key.keyId})`,
    });
    // A signature moved onto another digest (claiming it) does not verify.
    const moved = { ...signature, digest: other };
    expect(checkSignature(moved, other, trusted)).toMatchObject({ ok: false, problem: 'bad-signature' });
    const flipped = Buffer.from(signature.signature, 'base64');
    flipped.writeUInt8(flipped.readUInt8(0) ^ 1, 0);
    expect(checkSignature({ ...signature, signature: flipped.toString('base64') }, digest, trusted)).toMatchObject({
      ok: false,
      problem: 'bad-signature',
    });
  });

  it('only signs with ed25519 keys', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    expect(() => signDigest(digest, rsa.toString())).toThrow(/ed25519 keys, not rsa keys/);
  });
});
