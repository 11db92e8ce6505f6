// Puts one change people make to a post-incident record (an action item added or closed, a new owner, the close) on
// the audit trail, which is the record's only store. The audit trail is written only by workflows, so the API starts
// this short workflow on the orchestrator, under an id derived from the request (incidentNoteWorkflowId): a request
// sent again records once. The API checks the change against the record first; this workflow only writes it.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities';
import { incidentNoteEvent } from '../domain/incident';
import { refusedPayload } from '../domain/signed-message';
import { releaseFailure } from './failures';
import type { IncidentNoteInput } from './messages';
import { auditStep } from './profiles';
import { verifySigned } from './trusted-keys';

const { appendAudit } = proxyActivities<ReleaseActivities>(auditStep);

/**
 * Patch id of post-incident records: releases that end rolled back or failed, and emergency rollbacks, open one at
 * their end. Runs started before records existed replay without them.
 */
export const INCIDENT_RECORD_PATCH = 'incident-record';

export async function incidentNoteWorkflow(input: IncidentNoteInput): Promise<{ recorded: string }> {
  const info = workflowInfo();
  // Started directly on Temporal, this would write in a principal's name on the audit trail (close an action item
  // nobody closed): only the API's signature for this very workflow id counts.
  const refused = refusedPayload(input);
  const verification = refused
    ? { ok: false as const, reason: refused }
    : verifySigned(info.workflowId, 'incident', input, info.startTime.getTime());
  if (!verification.ok) {
    throw releaseFailure(
      'Unauthorized',
      `refused to record the change to the incident: it was not sent through the release engine's API (${verification.reason}); nothing was recorded`,
    );
  }
  // The event id is the workflow id: a second run under it (after a timed-out first) stores nothing twice.
  const id = `${info.workflowId}#1`;
  await appendAudit([
    incidentNoteEvent(input.note, {
      id,
      at: info.startTime.toISOString(),
      by: input.by,
      service: input.service,
      incidentId: input.incidentId,
    }),
  ]);
  return { recorded: id };
}
