// Recording an alert that rolled nothing back: the API starts alertRecordWorkflow on the orchestrator (which alone
// writes the audit trail), signed, under an id derived from the alert, and waits for it.
import type { Client } from '@temporalio/client';
import { EngineError } from '../../domain/errors';
import { alertRecordWorkflowId } from '../../domain/names';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import type { AlertRecordInput } from '../messages';
import { TRAIL_WRITE_TIMEOUT_MS, writeToTrail } from './trail-writes';

/**
 * Puts an alert on the audit trail through the orchestrator. `alreadyRecorded` when an earlier delivery of the same
 * alert (same service, fingerprint and startsAt) recorded it. Alertmanager waits for the answer and sends again on a
 * 503.
 */
export async function recordAlert(
  client: Client,
  record: Omit<AlertRecordInput, 'authorization'>,
  options: { signer: DecisionSigner; taskQueue: string },
): Promise<{ alreadyRecorded: boolean }> {
  const workflowId = alertRecordWorkflowId(record.service, record.fingerprint, record.startsAt);
  return writeToTrail(client, {
    workflowType: 'alertRecordWorkflow',
    workflowId,
    taskQueue: options.taskQueue,
    input: options.signer.sign(workflowId, 'alert', record),
    staticSummary: `alert ${record.alertname} for ${record.service}, from ${record.by}`,
    notRecorded: (why) =>
      new EngineError(
        'WORKER_UNAVAILABLE',
        why.late
          ? `the orchestrator worker did not record the alert ${record.alertname} for ${record.service} within ${TRAIL_WRITE_TIMEOUT_MS / 1000}s: is it running (task queue ${options.taskQueue}), and can it reach the audit database? Alertmanager sends the alert again`
          : `the alert ${record.alertname} for ${record.service} was not recorded (${why.reason}); Alertmanager sends it again`,
      ),
  });
}
