// Changes people make to post-incident records: the API starts incidentNoteWorkflow on the orchestrator (which alone
// writes the audit trail), signed, under an id derived from the request, and waits for it to be recorded.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { TimeoutFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { EngineError } from '../../domain/errors';
import { incidentNoteWorkflowId } from '../../domain/workflow-ids';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import type { incidentNoteWorkflow } from '../incident-note';
import type { IncidentNoteInput } from '../messages';

/** How long a note may take to be recorded: as long as the API waits for any write (a second when the worker polls). */
const NOTE_TIMEOUT_MS = 15_000;

/**
 * Records one change to an incident through the orchestrator. `noteId` names the change (e.g. `add-<actionId>`): the
 * same change sent again maps to the same workflow and is recorded once (`alreadyRecorded`).
 */
export async function recordIncidentNote(
  client: Client,
  note: Omit<IncidentNoteInput, 'authorization'>,
  noteId: string,
  options: { signer: DecisionSigner; taskQueue: string },
): Promise<{ alreadyRecorded: boolean }> {
  const workflowId = incidentNoteWorkflowId(note.service, note.incidentId, noteId);
  const what = `the change to incident ${note.incidentId} of ${note.service} (${note.note.kind})`;
  const notRecorded = (why: string) => new EngineError('WORKER_UNAVAILABLE', `${what} was not recorded: ${why}`);
  let handle: WorkflowHandle<typeof incidentNoteWorkflow>;
  let alreadyRecorded = false;
  try {
    handle = await client.workflow.start<typeof incidentNoteWorkflow>('incidentNoteWorkflow', {
      workflowId,
      taskQueue: options.taskQueue,
      args: [options.signer.sign(workflowId, 'incident', note)],
      // A run that failed or timed out (worker away, a forged start refused) must not stop the real record.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      workflowExecutionTimeout: NOTE_TIMEOUT_MS,
      staticSummary: `incident ${note.incidentId} of ${note.service}: ${note.note.kind}, by ${note.by}`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // Recorded by an earlier request, or being recorded now: that run's result is this request's.
    handle = client.workflow.getHandle<typeof incidentNoteWorkflow>(workflowId);
    alreadyRecorded = true;
  }
  const late = `the orchestrator worker did not answer within ${NOTE_TIMEOUT_MS / 1000}s: is it running (task queue ${options.taskQueue}), and can it reach the audit database? Send it again`;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      handle.result(),
      // The run's own execution timeout bounds a real record; this bounds a run somebody else started without one.
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(notRecorded(late)), NOTE_TIMEOUT_MS + 5_000);
      }),
    ]);
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof TimeoutFailure) throw notRecorded(late);
    // The run this request waited for was not ours (a refused direct start): sending it again starts a real one.
    if (err instanceof WorkflowFailedError) {
      throw notRecorded(`${err.cause?.message ?? err.message}; send it again`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { alreadyRecorded };
}
