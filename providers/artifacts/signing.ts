// Ed25519 signatures over artifact digests, with node's crypto (no custom crypto). A signature covers
// "release-engine/artifact/v1\n<digest>", so it cannot be mistaken for a signature over anything else, and the
// digest pins every byte of the artifact.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { Sha256Digest } from '../../domain/names';

const CONTEXT = 'release-engine/artifact/v1\n';

export const ArtifactSignature = z.strictObject({
  algorithm: z.literal('ed25519'),
  /** Which key signed: the first 16 hex digits of the sha256 of the public key (SPKI, DER). */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  digest: Sha256Digest,
  /** Base64 signature over the context line and the digest. */
  signature: z.string().min(1),
  signedAt: z.iso.datetime(),
});
export type ArtifactSignature = z.infer<typeof ArtifactSignature>;

export interface TrustedKey {
  id: string;
  publicKeyPem: string;
}

/** The key id of a public key (PEM): stable, short, and derived from the key itself. */
export function keyIdOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** A new ed25519 key pair, PEM-encoded, with its key id. */
export function generateSigningKey(): { keyId: string; privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyId: keyIdOf(publicKeyPem),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem,
  };
}

/** Signs an artifact digest with a private key (PEM). */
export function signDigest(digest: string, privateKeyPem: string, now = new Date()): ArtifactSignature {
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`artifacts are signed with ed25519 keys, not ${privateKey.asymmetricKeyType ?? 'unknown'} keys`);
  }
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return {
    algorithm: 'ed25519',
    keyId: keyIdOf(publicKeyPem),
    digest: Sha256Digest.parse(digest),
    signature: sign(null, Buffer.from(CONTEXT + digest), privateKey).toString('base64'),
    signedAt: now.toISOString(),
  };
}

export type SignatureCheck =
  | { ok: true; keyId: string }
  | { ok: false; problem: 'digest-mismatch' | 'untrusted-key' | 'bad-signature'; message: string };

/** Checks that `signature` is a valid signature of `digest` by one of `trusted`. */
export function checkSignature(signature: ArtifactSignature, digest: string, trusted: TrustedKey[]): SignatureCheck {
  if (signature.digest !== digest) {
    return {
      ok: false,
      problem: 'digest-mismatch',
      message: `the signature is for ${signature.digest}, not for the artifact's ${digest}`,
    };
  }
  const key = trusted.find((k) => k.id === signature.keyId);
  if (!key) {
    const ids = trusted.map((k) => k.id).join(', ') || 'none';
    return {
      ok: false,
      problem: 'untrusted-key',
      message: `it is signed with key ${signature.keyId}, which is not trusted (trusted: ${ids})`,
    };
  }
  const valid = verify(
    null,
    Buffer.from(CONTEXT + digest),
    key.publicKeyPem,
    Buffer.from(signature.signature, 'base64'),
  );
  return valid
    ? { ok: true, keyId: key.id }
    : { ok: false, problem: 'bad-signature', message: `its signature by key ${key.id} does not verify` };
}
