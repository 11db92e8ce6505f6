// Payload encryption as a process sees it at start-up: the codec built from the configured keys (or none), the
// data converter a Temporal client should use, and the one line the process prints about it.
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from './encryption-codec';
import { loadPayloadKeyring, type PayloadKeysEnv } from './payload-keys';

export interface PayloadEncryption {
  /** Undefined when no keys are configured: payloads then reach Temporal unencrypted. */
  codec: AesGcmPayloadCodec | undefined;
  /** For `new Client({ dataConverter })`. */
  dataConverter: DataConverter;
  /** What to print once at start-up. */
  summary: string;
}

/** Builds payload encryption from the parsed environment; throws InvalidEnvironmentError on bad key settings. */
export function payloadEncryption(env: PayloadKeysEnv): PayloadEncryption {
  const keyring = loadPayloadKeyring(env);
  if (!keyring) {
    return {
      codec: undefined,
      dataConverter: {},
      summary:
        'payload encryption is OFF (PAYLOAD_KEYS / PAYLOAD_KEYS_FILE unset): release data is stored in Temporal in clear text',
    };
  }
  const codec = new AesGcmPayloadCodec(keyring);
  const others = codec.keyIds.filter((id) => id !== codec.currentKeyId);
  return {
    codec,
    dataConverter: { payloadCodecs: [codec] },
    summary: `payload encryption is on: AES-256-GCM with key "${codec.currentKeyId}"${others.length ? ` (also opens payloads of ${others.map((id) => `"${id}"`).join(', ')})` : ''}`,
  };
}
