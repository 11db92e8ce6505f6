// The data converter every engine worker runs with (and the workflow bundle is built for): the engine's failure
// converter, plus the payload codec when payload encryption is configured.
import { join } from 'node:path';
import type { DataConverter } from '@temporalio/common';
import type { AesGcmPayloadCodec } from '../providers/codec/encryption-codec';
import { InboundGuardCodec } from '../providers/codec/inbound-guard';

/** Path of the failure converter module; bundleWorkflowCode needs it too (`failureConverterPath`). */
export const FAILURE_CONVERTER_PATH = join(__dirname, 'failure-converter.cjs');

/**
 * The worker's data converter: failures as payloads, sealed by `codec` when there is one; then, an inbound payload
 * not sealed with its keys reaches the workflows as a refusal marker (providers/codec/inbound-guard.ts).
 */
export function workerDataConverter(codec?: AesGcmPayloadCodec): DataConverter {
  return {
    failureConverterPath: FAILURE_CONVERTER_PATH,
    ...(codec ? { payloadCodecs: [new InboundGuardCodec(codec)] } : {}),
  };
}
