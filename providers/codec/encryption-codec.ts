// The payload codec that keeps release data (manifests, plans, comments, reasons, config) out of Temporal in clear
// text: every payload is serialised whole (metadata included) and sealed with AES-256-GCM under the current key,
// with a fresh random 12-byte IV; the key id travels in the sealed payload's metadata, so a payload sealed under an
// older key still opens after the current key changes. Codecs run in clients and in the worker's main thread, never
// inside the workflow sandbox: workflow code must not import this module.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** `encoding` metadata of a sealed payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata naming the key a payload was sealed with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** Keys by id, and the id new payloads are sealed with. */
export interface PayloadKeyring {
  currentKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

/** A sealed payload names a key this process does not have (e.g. it was sealed after a rotation it has not seen). */
export class UnknownPayloadKeyError extends Error {
  override readonly name = 'UnknownPayloadKeyError';
  constructor(readonly keyId: string) {
    super(
      `payload was encrypted with key id "${keyId}", which this process does not have; add that key to PAYLOAD_KEYS (or PAYLOAD_KEYS_FILE)`,
    );
  }
}

/** A sealed payload did not open: tampered, truncated, or sealed with different key material under the same id. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? Buffer.from(bytes).toString('utf8') : undefined;
}

/** True when `payload` was sealed by this codec. */
export function isEncryptedPayload(payload: Payload): boolean {
  return text(payload.metadata?.[METADATA_ENCODING_KEY]) === ENCRYPTED_ENCODING;
}

/** The key id binds the ciphertext: moving a sealed payload's data under another key id makes it fail to open. */
function additionalData(keyId: string): Buffer {
  return Buffer.from(`${ENCRYPTED_ENCODING};${keyId}`, 'utf8');
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  readonly currentKeyId: string;

  constructor(keyring: PayloadKeyring) {
    for (const [id, key] of keyring.keys) {
      if (key.length !== KEY_BYTES)
        throw new Error(`payload key "${id}" must be ${KEY_BYTES} bytes, not ${key.length}`);
    }
    if (!keyring.keys.has(keyring.currentKeyId)) {
      throw new Error(`the current payload key "${keyring.currentKeyId}" is not among the keys`);
    }
    this.keys = new Map(keyring.keys);
    this.currentKeyId = keyring.currentKeyId;
  }

  /** Ids of every key this codec can open payloads with. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  // node:crypto's AES-GCM is synchronous; `then` turns its errors into rejections, as callers of a codec expect.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() => payloads.map((payload) => this.seal(payload)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() =>
      payloads.map((payload) => (isEncryptedPayload(payload) ? this.open(payload) : payload)),
    );
  }

  private seal(payload: Payload): Payload {
    const keyId = this.currentKeyId;
    const key = this.keys.get(keyId) as Buffer;
    const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(keyId));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING, 'utf8'),
        [KEY_ID_METADATA]: Buffer.from(keyId, 'utf8'),
      },
      data: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]),
    };
  }

  private open(payload: Payload): Payload {
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
    if (!keyId) throw new PayloadDecryptionError(`encrypted payload has no "${KEY_ID_METADATA}" metadata`);
    const key = this.keys.get(keyId);
    if (!key) throw new UnknownPayloadKeyError(keyId);
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`encrypted payload (key id "${keyId}") is too short to be one`);
    }
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const decipher = createDecipheriv(ALGORITHM, key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(keyId));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadDecryptionError(
        `encrypted payload (key id "${keyId}") failed authentication: it was altered, or sealed with other key material under that id`,
      );
    }
    return temporal.api.common.v1.Payload.decode(plaintext);
  }
}
