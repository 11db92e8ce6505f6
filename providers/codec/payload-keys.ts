// Payload encryption keys from configuration, parsed once at start-up with zod. A key list is
// `<keyId>:<base64 of 32 bytes>` entries separated by commas or new lines (a keys file may hold `#` comments); the
// first entry is the current key unless PAYLOAD_KEY_ID names another. Messages name the variable and the key id,
// never key material.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InvalidEnvironmentError } from '../env';
import { KEY_BYTES, type PayloadKeyring } from './encryption-codec';

export const PayloadKeyId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a key id is 1-64 letters, digits, ".", "_" or "-"');

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A key list (see the module comment), parsed into ordered `{ id, key }` entries. */
export const PayloadKeyList = z.string().transform((value, ctx) => {
  const entries = value
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const keys: { id: string; key: Buffer }[] = [];
  if (entries.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'no keys: expected <keyId>:<base64 32-byte key>, comma separated' });
    return z.NEVER;
  }
  entries.forEach((entry, index) => {
    const where = `entry ${index + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) {
      ctx.addIssue({ code: 'custom', message: `${where} is not <keyId>:<base64 32-byte key>` });
      return;
    }
    const id = entry.slice(0, colon).trim();
    const material = entry.slice(colon + 1).trim();
    if (!PayloadKeyId.safeParse(id).success) {
      ctx.addIssue({ code: 'custom', message: `${where}: a key id is 1-64 letters, digits, ".", "_" or "-"` });
      return;
    }
    const key = BASE64.test(material) ? Buffer.from(material, 'base64') : undefined;
    if (key?.length !== KEY_BYTES) {
      ctx.addIssue({
        code: 'custom',
        message: `key "${id}" must be the base64 of ${KEY_BYTES} random bytes${key ? ` (it decodes to ${key.length})` : ''}; generate one with \`openssl rand -base64 32\``,
      });
      return;
    }
    if (keys.some((k) => k.id === id)) {
      ctx.addIssue({ code: 'custom', message: `key id "${id}" appears twice` });
      return;
    }
    keys.push({ id, key });
  });
  return keys;
});

/** The payload-encryption variables; spread into a process's environment schema. */
export const PayloadKeysEnv = z.object({
  /** `<keyId>:<base64 32-byte key>,...`; the first is the current key. Unset (with no file): no encryption. */
  PAYLOAD_KEYS: PayloadKeyList.optional(),
  /** A file holding such a list (one entry per line); the alternative to PAYLOAD_KEYS for secrets mounted as files. */
  PAYLOAD_KEYS_FILE: z.string().min(1).optional(),
  /** The key new payloads are sealed with, when not the first (rotation: add the key everywhere first, then this). */
  PAYLOAD_KEY_ID: PayloadKeyId.optional(),
});
export type PayloadKeysEnv = z.infer<typeof PayloadKeysEnv>;

function invalid(variable: string, message: string): InvalidEnvironmentError {
  return new InvalidEnvironmentError(`Invalid environment:\n✖ ${message}\n  → at ${variable}`);
}

/**
 * The keyring configured by `env`, or undefined when no keys are configured (payloads then go to Temporal
 * unencrypted). Reads PAYLOAD_KEYS_FILE; throws InvalidEnvironmentError naming the variable at fault.
 */
export function loadPayloadKeyring(env: PayloadKeysEnv): PayloadKeyring | undefined {
  if (env.PAYLOAD_KEYS && env.PAYLOAD_KEYS_FILE) {
    throw invalid('PAYLOAD_KEYS_FILE', 'set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, not both');
  }
  let entries = env.PAYLOAD_KEYS;
  if (env.PAYLOAD_KEYS_FILE) {
    let contents: string;
    try {
      contents = readFileSync(env.PAYLOAD_KEYS_FILE, 'utf8');
    } catch (err) {
      throw invalid('PAYLOAD_KEYS_FILE', `cannot read ${env.PAYLOAD_KEYS_FILE}: ${(err as Error).message}`);
    }
    const parsed = PayloadKeyList.safeParse(contents);
    if (!parsed.success) {
      throw invalid(
        'PAYLOAD_KEYS_FILE',
        `${env.PAYLOAD_KEYS_FILE}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`,
      );
    }
    entries = parsed.data;
  }
  if (!entries) {
    if (env.PAYLOAD_KEY_ID)
      throw invalid('PAYLOAD_KEY_ID', 'names a key, but PAYLOAD_KEYS and PAYLOAD_KEYS_FILE are unset');
    return undefined;
  }
  const currentKeyId = env.PAYLOAD_KEY_ID ?? (entries[0] as { id: string }).id;
  if (!entries.some((entry) => entry.id === currentKeyId)) {
    throw invalid(
      'PAYLOAD_KEY_ID',
      `"${currentKeyId}" is not among the configured keys (${entries.map((e) => e.id).join(', ')})`,
    );
  }
  return { currentKeyId, keys: new Map(entries.map((entry) => [entry.id, entry.key])) };
}

/** A fresh key list entry, `<keyId>:<base64 key>` (for dev set-ups and tests). */
export function generatePayloadKeyEntry(keyId: string): string {
  return `${PayloadKeyId.parse(keyId)}:${randomBytes(KEY_BYTES).toString('base64')}`;
}
