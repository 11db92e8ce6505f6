// The record an emergency rollback leaves when it ends: its story on the audit trail (who asked and why, what each
// region did, how it ended) and the post-incident record it opens. Written in one batch at the end, under the
// rollback's release id, so the incident's timeline reads it with the incident (domain/incident.ts).
import type { AuditEvent } from '../domain/audit';
import { incidentOpenedFields, rollbackIncident } from '../domain/incident';
import { AuditBatch } from './audit-batch';
import { now } from './journal';
import type { EmergencyRollbackInput, RollbackRegionState, RollbackStatus } from './messages';

/** What each region's end is called on the audit trail. */
const REGION_ACTIONS: Record<RollbackRegionState['status'], string> = {
  pending: 'region.rollback-failed',
  reverting: 'region.rollback-failed',
  failed: 'region.rollback-failed',
  reverted: 'region.reverted',
  'already-good': 'region.already-good',
  'no-known-good': 'region.no-known-good',
};

/** Appends the rollback's story and its `incident.opened` (ids `<workflowId>#<n>`: a retried write stores once). */
export async function recordRollbackIncident(
  workflowId: string,
  input: EmergencyRollbackInput,
  status: RollbackStatus,
): Promise<void> {
  const batch = new AuditBatch(workflowId);
  const finishedAt = status.finishedAt ?? now();
  const base = { service: input.service, releaseId: input.rollbackId };
  const event = (fields: Omit<AuditEvent, 'id' | 'service' | 'releaseId'>) => batch.add({ ...base, ...fields });
  event({
    at: status.startedAt,
    actor: input.requestedBy,
    action: 'rollback.requested',
    reason: input.reason,
    details: { regions: input.regions, ...(input.train ? { train: input.train.trainId } : {}) },
  });
  for (const region of status.regions) {
    // The region's own last line on the rollback's timeline says when it ended.
    const at = status.timeline.filter((e) => e.region === region.region).at(-1)?.at ?? finishedAt;
    const why = region.error ?? region.why;
    event({
      at,
      actor: 'engine',
      action: REGION_ACTIONS[region.status],
      region: region.region,
      ...(region.from ? { beforeVersion: region.from } : {}),
      ...(region.to ? { afterVersion: region.to } : {}),
      ...(why ? { reason: why } : {}),
    });
  }
  const opening = rollbackIncident({
    requestedBy: input.requestedBy,
    reason: input.reason,
    stage: status.stage,
    regions: status.regions,
    avoid: input.avoid,
    train: input.train?.trainId,
  });
  event({ at: finishedAt, actor: 'engine', action: `rollback.${status.stage}`, reason: opening.summary });
  event({ at: finishedAt, action: 'incident.opened', ...incidentOpenedFields(opening) });
  await batch.flush();
}
