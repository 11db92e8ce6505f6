// The API's decision-signing key (ed25519) and the public keys the workers trust. The private key lives in one
// owner-only file the API reads; the public keys (one or more, for rotation) are what the worker compiles into its
// workflow bundle. Neither ever travels through Temporal.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import {
  type Authorization,
  DEFAULT_TTL_MS,
  keyIdOf,
  type MessageScope,
  signedBytes,
  type TrustedKeys,
} from '../../domain/signed-message';

/** File of the API's signing key: `{ keyId, privateKeyPem }`, mode 0600. */
export const SigningKeyFile = z.strictObject({ keyId: z.string().min(1), privateKeyPem: z.string().min(1) });
/** File of the trusted public keys: `{ keys: { <keyId>: <raw ed25519 public key, hex> } }`. */
export const PublicKeysFile = z.strictObject({
  keys: z.record(z.string().min(1), z.string().regex(/^[0-9a-f]{64}$/, 'must be a raw ed25519 public key in hex')),
});
export type PublicKeysFile = z.infer<typeof PublicKeysFile>;

export const DECISION_SIGNING_KEY = 'decision-signing-key.json';
export const DECISION_PUBLIC_KEYS = 'decision-public-keys.json';

/** Where the dev stack keeps the keys under its data dir. */
export function decisionKeyPaths(dataDir: string): { signingKey: string; publicKeys: string } {
  return {
    signingKey: join(dataDir, 'secrets', DECISION_SIGNING_KEY),
    publicKeys: join(dataDir, 'secrets', DECISION_PUBLIC_KEYS),
  };
}

function rawPublicKeyHex(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (!jwk.x) throw new Error('not an ed25519 key');
  return Buffer.from(jwk.x, 'base64url').toString('hex');
}

/** Signs messages as the API. */
export class DecisionSigner {
  readonly keyId: string;
  readonly publicKeyHex: string;

  constructor(
    private readonly privateKey: KeyObject,
    readonly namespace: string,
    private readonly ttlMs = DEFAULT_TTL_MS,
  ) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the decision signing key must be an ed25519 key');
    this.publicKeyHex = rawPublicKeyHex(createPublicKey(privateKey));
    this.keyId = keyIdOf(this.publicKeyHex);
  }

  static fromPem(pem: string, namespace: string): DecisionSigner {
    return new DecisionSigner(createPrivateKey(pem), namespace);
  }

  static generate(namespace: string): DecisionSigner {
    return new DecisionSigner(generateKeyPairSync('ed25519').privateKey, namespace);
  }

  get trustedKeys(): TrustedKeys {
    return { [this.keyId]: this.publicKeyHex };
  }

  get privateKeyPem(): string {
    return this.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /** `fields` with their authorization for `workflowId`/`message`. */
  sign<T extends object>(
    workflowId: string,
    message: MessageScope['message'],
    fields: T,
    now = Date.now(),
    /** How long the message stays valid (a train's member requests: as long as the train may take). */
    ttlMs = this.ttlMs,
  ): T & { authorization: Authorization } {
    const auth = {
      keyId: this.keyId,
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
      nonce: randomBytes(12).toString('hex'),
    };
    const scope = { namespace: this.namespace, workflowId, message };
    const signature = sign(null, signedBytes(scope, fields as Record<string, unknown>, auth), this.privateKey);
    return { ...fields, authorization: { ...auth, signature: signature.toString('hex') } };
  }
}

async function writeOwnerOnly(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}

/**
 * The dev stack's keys: generated once (signing key 0600, public keys beside it). An existing public keys file keeps
 * its other keys (rotation); the current key is always in it.
 */
export async function ensureDecisionKeys(paths: {
  signingKey: string;
  publicKeys: string;
}): Promise<{ created: boolean }> {
  let created = false;
  if (!existsSync(paths.signingKey)) {
    const signer = DecisionSigner.generate('default');
    await writeOwnerOnly(
      paths.signingKey,
      `${JSON.stringify({ keyId: signer.keyId, privateKeyPem: signer.privateKeyPem }, null, 2)}\n`,
    );
    created = true;
  }
  const signer = await loadSigner(paths.signingKey, 'default');
  const existing = existsSync(paths.publicKeys) ? await loadPublicKeys(paths.publicKeys) : {};
  if (existing[signer.keyId] !== signer.publicKeyHex) {
    await writeOwnerOnly(
      paths.publicKeys,
      `${JSON.stringify({ keys: { ...existing, ...signer.trustedKeys } }, null, 2)}\n`,
    );
  }
  return { created };
}

export async function loadSigner(path: string, namespace: string): Promise<DecisionSigner> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(
      `DECISION_SIGNING_KEY_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); \`npm start\` creates one, or see README "Signed decisions"`,
    );
  }
  const parsed = SigningKeyFile.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new Error(`DECISION_SIGNING_KEY_FILE: ${path} is not a signing key file ({ keyId, privateKeyPem })`);
  return DecisionSigner.fromPem(parsed.data.privateKeyPem, namespace);
}

export async function loadPublicKeys(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(
      `DECISION_PUBLIC_KEYS_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the worker verifies every decision with the API's public key: point it at the API's public keys file (\`npm start\` creates one under .data/secrets)`,
    );
  }
  const parsed = PublicKeysFile.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new Error(
      `DECISION_PUBLIC_KEYS_FILE: ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
    );
  }
  for (const [keyId, hex] of Object.entries(parsed.data.keys)) {
    if (keyIdOf(hex) !== keyId)
      throw new Error(`DECISION_PUBLIC_KEYS_FILE: key id ${keyId} does not match its key (expected ${keyIdOf(hex)})`);
  }
  return parsed.data.keys;
}
