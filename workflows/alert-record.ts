// Puts an alert from monitoring on the audit trail when it rolled nothing back (no release in flight, or the release
// outside its watch window). The audit trail is written only by workflows, so the API starts this short workflow on
// the orchestrator; its id comes from the alert (alertRecordWorkflowId), so Alertmanager's repeats record it once.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities';
import { refusedPayload } from '../domain/signed-message';
import { releaseFailure } from './failures';
import type { AlertRecordInput } from './messages';
import { auditStep } from './profiles';
import { verifySigned } from './trusted-keys';

const { appendAudit } = proxyActivities<ReleaseActivities>(auditStep);

export async function alertRecordWorkflow(input: AlertRecordInput): Promise<{ recorded: string }> {
  const info = workflowInfo();
  // Started directly on Temporal, this would put words in a principal's mouth on the audit trail: only the API's
  // signature for this very workflow id counts.
  const verification = refusedPayload(input)
    ? { ok: false as const, reason: refusedPayload(input) ?? '' }
    : verifySigned(info.workflowId, 'alert', input, info.startTime.getTime());
  if (!verification.ok) {
    throw releaseFailure(
      'Unauthorized',
      `refused to record the alert: it was not sent through the release engine's API (${verification.reason}); nothing was recorded`,
    );
  }
  // The event id is the workflow id: a second run under it (after a timed-out first) stores nothing twice.
  const id = `${info.workflowId}#1`;
  await appendAudit([
    {
      id,
      at: info.startTime.toISOString(),
      actor: input.by,
      action: 'alert.received',
      service: input.service,
      ...(input.releaseId ? { releaseId: input.releaseId } : {}),
      ...(input.region ? { region: input.region } : {}),
      ...(input.reason ? { reason: input.reason } : {}),
      details: {
        alertname: input.alertname,
        region: input.region ?? null,
        fingerprint: input.fingerprint,
        startsAt: input.startsAt,
        why: input.why,
        suggestion: input.suggestion,
      },
    },
  ]);
  return { recorded: id };
}
