// Changes people make to post-incident records: the API starts incidentNoteWorkflow on the orchestrator (which alone
// writes the audit trail), signed, under an id derived from the request, and waits for it to be recorded.
import type { Client } from '@temporalio/client';
import { EngineError } from '../../domain/errors';
import { incidentNoteWorkflowId } from '../../domain/workflow-ids';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import type { IncidentNoteInput } from '../messages';
import { TRAIL_WRITE_TIMEOUT_MS, writeToTrail } from './trail-writes';

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
  return writeToTrail(client, {
    workflowType: 'incidentNoteWorkflow',
    workflowId,
    taskQueue: options.taskQueue,
    input: options.signer.sign(workflowId, 'incident', note),
    staticSummary: `incident ${note.incidentId} of ${note.service}: ${note.note.kind}, by ${note.by}`,
    notRecorded: (why) =>
      new EngineError(
        'WORKER_UNAVAILABLE',
        why.late
          ? `${what} was not recorded: the orchestrator worker did not answer within ${TRAIL_WRITE_TIMEOUT_MS / 1000}s: is it running (task queue ${options.taskQueue}), and can it reach the audit database? Send it again`
          : `${what} was not recorded: ${why.reason}; send it again`,
      ),
  });
}
