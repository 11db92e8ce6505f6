// What the API asks the orchestrator to put on the audit trail (an alert that rolled nothing back, a change to a
// post-incident record): a short signed workflow, started under an id derived from the request so that a request
// sent again is recorded once, and waited for. The orchestrator alone writes the trail.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { TimeoutFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { type EngineError } from '../../domain/errors';

/** How long a record may take: as long as the API waits for any write (well under a second when the worker polls). */
export const TRAIL_WRITE_TIMEOUT_MS = 15_000;

export interface TrailWrite {
  workflowType: 'alertRecordWorkflow' | 'incidentNoteWorkflow';
  workflowId: string;
  taskQueue: string;
  /** The API's signed input for this very workflow id. */
  input: object;
  staticSummary: string;
  /** The error for a record that did not happen: the worker away (`late`), or a run that failed (its reason). */
  notRecorded: (why: { late: true } | { late: false; reason: string }) => EngineError;
}

/** Starts the write (or finds the run an earlier request started) and waits for it; `alreadyRecorded` for the latter. */
export async function writeToTrail(client: Client, write: TrailWrite): Promise<{ alreadyRecorded: boolean }> {
  let handle: WorkflowHandle;
  let alreadyRecorded = false;
  try {
    handle = await client.workflow.start(write.workflowType, {
      workflowId: write.workflowId,
      taskQueue: write.taskQueue,
      args: [write.input],
      // A run that failed or timed out (worker away, a forged start refused) must not stop the real record.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      workflowExecutionTimeout: TRAIL_WRITE_TIMEOUT_MS,
      staticSummary: write.staticSummary,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    // Recorded by an earlier request, or being recorded now: that run's result is this request's. A repeat sent
    // while the first still waits for an absent worker must not be told "recorded" before it is.
    handle = client.workflow.getHandle(write.workflowId);
    alreadyRecorded = true;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      handle.result(),
      // The run's own execution timeout bounds a real record; this bounds a run somebody else started without one.
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(write.notRecorded({ late: true })), TRAIL_WRITE_TIMEOUT_MS + 5_000);
      }),
    ]);
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof TimeoutFailure)
      throw write.notRecorded({ late: true });
    // The run this request waited for was not ours (a refused direct start): sending it again starts a real one.
    if (err instanceof WorkflowFailedError) {
      throw write.notRecorded({ late: false, reason: err.cause?.message ?? err.message });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { alreadyRecorded };
}
