// The worker's side of payload encryption: with keys configured, what comes in must be sealed with them. An inbound
// payload that is not (sent in clear by someone talking to Temporal directly, or sealed with a key the worker does
// not have, or altered) is not decoded: it is replaced by a marker the workflows recognise and refuse
// (domain/signed-message.ts, refusedPayload). Throwing instead would fail the workflow task, again at every retry:
// a forged signal would turn into a stuck release.
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { REFUSED_PAYLOAD_FIELD } from '../../domain/signed-message';
import { type AesGcmPayloadCodec, isEncryptedPayload } from './encryption-codec';

function marker(reason: string): Payload {
  return {
    metadata: { [METADATA_ENCODING_KEY]: Buffer.from('json/plain', 'utf8') },
    data: Buffer.from(JSON.stringify({ [REFUSED_PAYLOAD_FIELD]: reason }), 'utf8'),
  };
}

export class InboundGuardCodec implements PayloadCodec {
  constructor(
    private readonly inner: AesGcmPayloadCodec,
    private readonly onRefused: (reason: string) => void = (reason) =>
      console.warn(`refused an inbound payload: ${reason}`),
  ) {}

  encode(payloads: Payload[]): Promise<Payload[]> {
    return this.inner.encode(payloads);
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((payload) => this.decodeOne(payload)));
  }

  private async decodeOne(payload: Payload): Promise<Payload> {
    if (!isEncryptedPayload(payload)) {
      const reason = "the payload was not encrypted with the engine's keys (was it sent to Temporal directly?)";
      this.onRefused(reason);
      return marker(reason);
    }
    try {
      const [decoded] = await this.inner.decode([payload]);
      return decoded as Payload;
    } catch (err) {
      const reason = `the payload could not be decrypted: ${(err as Error).message}`;
      this.onRefused(reason);
      return marker(reason);
    }
  }
}
