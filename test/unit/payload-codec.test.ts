// Payload encryption: what an operator relies on when release data sits in Temporal sealed with AES-256-GCM, and what
// they see when the keys are configured wrong.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  UnknownPayloadKeyError,
} from '../../providers/codec/encryption-codec';
import { payloadEncryption } from '../../providers/codec/payload-encryption';
import { loadPayloadKeyring, PayloadKeysEnv } from '../../providers/codec/payload-keys';
import { InvalidEnvironmentError, parseEnv } from '../../providers/env';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const codecWith = (currentKeyId: string, keys: Record<string, Buffer>) =>
  new AesGcmPayloadCodec({ currentKeyId, keys: new Map(Object.entries(keys)) });

const manifest = {
  service: 'checkout',
  version: '4.2.0',
  waves: [['eu-west-1'], ['us-east-1', 'us-west-2']],
  comment: 'ship-it: DB password rotated in CHG-991',
};
const plainPayload = (): Payload => defaultPayloadConverter.toPayload(manifest);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const keysEnv = (env: Record<string, string>) => loadPayloadKeyring(parseEnv(PayloadKeysEnv, env));
const entry = (id: string, key: Buffer) => `${id}:${key.toString('base64')}`;

describe('the AES-256-GCM payload codec', () => {
  it('seals a payload so that nothing of it is readable, and opens it back to the very same payload', async () => {
    const codec = codecWith('k1', { k1: keyA });
    const original = plainPayload();
    const [sealed] = await codec.encode([original]);

    expect(text(sealed?.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed?.metadata?.[KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(sealed?.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA]);
    for (const clear of ['checkout', 'eu-west-1', 'CHG-991', 'json/plain']) {
      expect(Buffer.from(sealed?.data ?? []).includes(clear)).toBe(false);
    }

    const [opened] = await codec.decode([sealed as Payload]);
    expect(text(opened?.metadata?.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(opened as Payload)).toEqual(manifest);

    // A fresh IV per payload: the same data sealed twice gives two different ciphertexts.
    const [again] = await codec.encode([original]);
    expect(Buffer.from(again?.data ?? []).equals(Buffer.from(sealed?.data ?? []))).toBe(false);
  });

  it('refuses a payload whose ciphertext was altered, or moved under another key id, naming the key id', async () => {
    const codec = codecWith('k1', { k1: keyA, k2: keyB });
    const [sealed] = await codec.encode([plainPayload()]);
    const data = Buffer.from(sealed?.data ?? []);

    const flipped = Buffer.from(data);
    flipped[20] = (flipped[20] as number) ^ 0x01;
    await expect(codec.decode([{ ...sealed, data: flipped }])).rejects.toThrow(PayloadDecryptionError);
    await expect(codec.decode([{ ...sealed, data: flipped }])).rejects.toThrow(/key id "k1".*failed authentication/);
    await expect(codec.decode([{ ...sealed, data: data.subarray(0, 20) }])).rejects.toThrow(/too short/);

    const relabelled = { ...sealed, metadata: { ...sealed?.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/key id "k2".*failed authentication/);
  });

  it('after a rotation, opens payloads sealed with the old key and seals new ones with the new key', async () => {
    const before = codecWith('k1', { k1: keyA });
    const [old] = await before.encode([plainPayload()]);

    const after = codecWith('k2', { k1: keyA, k2: keyB });
    const [opened] = await after.decode([old as Payload]);
    expect(defaultPayloadConverter.fromPayload(opened as Payload)).toEqual(manifest);
    const [fresh] = await after.encode([plainPayload()]);
    expect(text(fresh?.metadata?.[KEY_ID_METADATA])).toBe('k2');

    // A process that dropped the old key says which key it is missing.
    const retired = codecWith('k2', { k2: keyB });
    await expect(retired.decode([old as Payload])).rejects.toThrow(UnknownPayloadKeyError);
    await expect(retired.decode([old as Payload])).rejects.toThrow(/key id "k1", which this process does not have/);
  });

  it('passes payloads that were never encrypted through untouched (releases started before encryption)', async () => {
    const codec = codecWith('k1', { k1: keyA });
    const plain = plainPayload();
    const [decoded] = await codec.decode([plain]);
    expect(decoded).toBe(plain);
  });
});

describe('payload key configuration', () => {
  it('takes the first key of PAYLOAD_KEYS as current unless PAYLOAD_KEY_ID names another', () => {
    const keys = `${entry('2025-01', keyA)},${entry('2024-07', keyB)}`;
    expect(keysEnv({ PAYLOAD_KEYS: keys })?.currentKeyId).toBe('2025-01');
    const ring = keysEnv({ PAYLOAD_KEYS: keys, PAYLOAD_KEY_ID: '2024-07' });
    expect(ring?.currentKeyId).toBe('2024-07');
    expect(ring?.keys.get('2025-01')?.equals(keyA)).toBe(true);
  });

  it('reads a keys file with one key per line and comments', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'payload-keys-'));
    const file = join(dir, 'keys');
    await writeFile(file, `# the current key first, then older ones\n${entry('new', keyB)}\n\n${entry('old', keyA)}\n`);
    const ring = keysEnv({ PAYLOAD_KEYS_FILE: file });
    expect(ring?.currentKeyId).toBe('new');
    expect([...(ring?.keys.keys() ?? [])]).toEqual(['new', 'old']);
  });

  it('runs unencrypted without keys, and says so', () => {
    const off = payloadEncryption(parseEnv(PayloadKeysEnv, {}));
    expect(off.codec).toBeUndefined();
    expect(off.summary).toMatch(/payload encryption is OFF/);
    const on = payloadEncryption(parseEnv(PayloadKeysEnv, { PAYLOAD_KEYS: entry('k1', keyA) }));
    expect(on.summary).toMatch(/payload encryption is on: AES-256-GCM with key "k1"/);
  });

  it('stops with a message naming the variable, and never the key material', async () => {
    const short = randomBytes(16).toString('base64');
    const failures: [Record<string, string>, RegExp][] = [
      [
        { PAYLOAD_KEYS: `k1:${short}` },
        /key "k1" must be the base64 of 32 random bytes \(it decodes to 16\)[\s\S]*PAYLOAD_KEYS/,
      ],
      [{ PAYLOAD_KEYS: 'k1:not base64!' }, /key "k1" must be the base64 of 32 random bytes[\s\S]*PAYLOAD_KEYS/],
      [{ PAYLOAD_KEYS: keyA.toString('base64') }, /entry 1 is not <keyId>:<base64 32-byte key>[\s\S]*PAYLOAD_KEYS/],
      [{ PAYLOAD_KEYS: `${entry('k1', keyA)},${entry('k1', keyB)}` }, /key id "k1" appears twice[\s\S]*PAYLOAD_KEYS/],
      [
        { PAYLOAD_KEYS: entry('k1', keyA), PAYLOAD_KEY_ID: 'k9' },
        /"k9" is not among the configured keys \(k1\)[\s\S]*PAYLOAD_KEY_ID/,
      ],
      [{ PAYLOAD_KEY_ID: 'k1' }, /PAYLOAD_KEYS and PAYLOAD_KEYS_FILE are unset[\s\S]*PAYLOAD_KEY_ID/],
      [
        { PAYLOAD_KEYS_FILE: '/nonexistent/payload-keys' },
        /cannot read \/nonexistent\/payload-keys[\s\S]*PAYLOAD_KEYS_FILE/,
      ],
      [{ PAYLOAD_KEYS: entry('k1', keyA), PAYLOAD_KEYS_FILE: '/x' }, /not both[\s\S]*PAYLOAD_KEYS_FILE/],
    ];
    for (const [env, message] of failures) {
      let thrown: unknown;
      try {
        keysEnv(env);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(env)).toBeInstanceOf(InvalidEnvironmentError);
      expect((thrown as Error).message).toMatch(message);
      expect((thrown as Error).message).not.toContain(short);
      expect((thrown as Error).message).not.toContain(keyA.toString('base64'));
    }

    const dir = await mkdtemp(join(tmpdir(), 'payload-keys-'));
    const file = join(dir, 'keys');
    await writeFile(file, `k1:${short}\n`);
    expect(() => keysEnv({ PAYLOAD_KEYS_FILE: file })).toThrow(
      new RegExp(`${file}: key "k1" must be the base64 of 32 random bytes[\\s\\S]*PAYLOAD_KEYS_FILE`),
    );
  });
});
