// The audit signing key: an ed25519 key of the worker that appends audit records, kept in a file (0600) outside the
// audit database, so that someone who can rewrite the database cannot sign what they wrote. Generated at first use;
// its public key (and the keys listed in AUDIT_TRUSTED_PUBLIC_KEYS) are what `audit verify` trusts.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A public key checkpoints may be signed with. */
export interface AuditPublicKey {
  /** First 16 hex characters of the sha256 of the key's SPKI DER encoding. */
  keyId: string;
  /** SPKI PEM, as `openssl pkeyutl -verify -pubin -inkey` takes it. */
  publicKeyPem: string;
  /** Base64 of the SPKI DER encoding: one line, the form AUDIT_TRUSTED_PUBLIC_KEYS takes. */
  publicKey: string;
  key: KeyObject;
}

/** The worker's signing key and its public half. */
export interface AuditSigner extends AuditPublicKey {
  sign(message: Buffer): string;
}

function publicKeyOf(key: KeyObject): AuditPublicKey {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`an audit key must be an ed25519 key, not ${key.asymmetricKeyType ?? 'a symmetric key'}`);
  }
  const der = key.export({ type: 'spki', format: 'der' });
  return {
    keyId: createHash('sha256').update(der).digest('hex').slice(0, 16),
    publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString(),
    publicKey: der.toString('base64'),
    key,
  };
}

/**
 * The signing key in `file`, created (ed25519, PKCS#8 PEM, mode 0600, its folder 0700) if there is none. Two
 * processes starting at once end up with the same key: the file is created exclusively and the loser reads it.
 */
export function loadOrCreateAuditSigningKey(file: string): AuditSigner {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = generateKeyPairSync('ed25519');
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
    }
    pem = readFileSync(file, 'utf8');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    // Never the file's contents: it is a secret.
    throw new Error(
      `the audit signing key in ${file} (AUDIT_SIGNING_KEY_FILE) is not a PEM private key; restore it from a backup, or move it away to start a new key (and list the old public key in AUDIT_TRUSTED_PUBLIC_KEYS)`,
    );
  }
  const publicKey = publicKeyOf(createPublicKey(privateKey));
  return { ...publicKey, sign: (message) => sign(null, message, privateKey).toString('base64') };
}

/**
 * Public keys from a comma-separated list of base64 SPKI DER (or PEM bodies), as AUDIT_TRUSTED_PUBLIC_KEYS holds them:
 * the keys of other workers writing the same trail, or this worker's earlier keys.
 */
export function parseTrustedAuditKeys(
  list: string | undefined,
  variable = 'AUDIT_TRUSTED_PUBLIC_KEYS',
): AuditPublicKey[] {
  if (!list?.trim()) return [];
  return list
    .split(',')
    .map((item) => item.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s/g, ''))
    .filter(Boolean)
    .map((base64, index) => {
      try {
        return publicKeyOf(createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' }));
      } catch (err) {
        throw new Error(
          `${variable}: key ${index + 1} is not a base64 ed25519 public key (SPKI DER, as \`relctl audit public-key\` prints it): ${(err as Error).message}`,
        );
      }
    });
}

/** Whether `signature` (base64) is `key`'s signature of `message`. */
export function verifyAuditSignature(key: AuditPublicKey, message: Buffer, signature: string): boolean {
  try {
    return verify(null, message, key.key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
