// Recording an alert that rolled nothing back: the API starts alertRecordWorkflow on the orchestrator (which alone
// writes the audit trail), signed, under an id derived from the alert, and waits for it.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { TimeoutFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { EngineError } from '../../domain/errors';
import { alertRecordWorkflowId } from '../../domain/names';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import type { alertRecordWorkflow } from '../alert-record';
import type { AlertRecordInput } from '../messages';

/**
 * How long a record may take: as long as the API waits for a write to a release. A record takes well under a second
 * when the worker polls; Alertmanager waits for the answer and sends again on a 503.
 */
const ALERT_RECORD_TIMEOUT_MS = 15_000;

/**
 * Puts an alert on the audit trail through the orchestrator. `alreadyRecorded` when an earlier delivery of the same
 * alert (same service, fingerprint and startsAt) recorded it.
 */
export async function recordAlert(
  client: Client,
  record: Omit<AlertRecordInput, 'authorization'>,
  options: { signer: DecisionSigner; taskQueue: string },
): Promise<{ alreadyRecorded: boolean }> {
  const workflowId = alertRecordWorkflowId(record.service, record.fingerprint, record.startsAt);
  const notRecorded = () =>
    new EngineError(
      'WORKER_UNAVAILABLE',
      `the orchestrator worker did not record the alert ${record.alertname} for ${record.service} within ${ALERT_RECORD_TIMEOUT_MS / 1000}s: is it running (task queue ${options.taskQueue}), and can it reach the audit database? Alertmanager sends the alert again`,
    );
  let handle: WorkflowHandle<typeof alertRecordWorkflow>;
  let alreadyRecorded = false;
  try {
    handle = await client.workflow.start<typeof alertRecordWorkflow>('alertRecordWorkflow', {
      workflowId,
      taskQueue: options.taskQueue,
      args: [options.signer.sign(workflowId, 'alert', record)],
      // A run that failed or timed out (worker away, a forged start refused) must not stop the real record.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      workflowExecutionTimeout: ALERT_RECORD_TIMEOUT_MS,
      staticSummary: `alert ${record.alertname} for ${record.service}, from ${record.by}`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // Recorded by an earlier delivery, or being recorded now: that run's result is this delivery's. A repeat sent
    // while the first still waits for an absent worker must not be told "recorded" before it is.
    handle = client.workflow.getHandle<typeof alertRecordWorkflow>(workflowId);
    alreadyRecorded = true;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      handle.result(),
      // The run's own execution timeout bounds a real record; this bounds a run somebody else started without one.
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(notRecorded()), ALERT_RECORD_TIMEOUT_MS + 5_000);
      }),
    ]);
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof TimeoutFailure) throw notRecorded();
    // The run this repeat waited for was not ours (a refused direct start): the next delivery starts a real one.
    if (err instanceof WorkflowFailedError) {
      throw new EngineError(
        'WORKER_UNAVAILABLE',
        `the alert ${record.alertname} for ${record.service} was not recorded (${err.cause?.message ?? err.message}); Alertmanager sends it again`,
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { alreadyRecorded };
}
