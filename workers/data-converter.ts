// The data converter every engine worker runs with (and the workflow bundle is built for): the engine's failure
// converter, plus the payload codec when payload encryption is configured.
import { join } from 'node:path';
import type { DataConverter, PayloadCodec } from '@temporalio/common';

/** Path of the failure converter module; bundleWorkflowCode needs it too (`failureConverterPath`). */
export const FAILURE_CONVERTER_PATH = join(__dirname, 'failure-converter.cjs');

/** The worker's data converter: failures as payloads, sealed by `codec` when there is one. */
export function workerDataConverter(codec?: PayloadCodec): DataConverter {
  return { failureConverterPath: FAILURE_CONVERTER_PATH, ...(codec ? { payloadCodecs: [codec] } : {}) };
}
