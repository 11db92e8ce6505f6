// What the Temporal UI shows as the release's "current details": its stage and what happens next, in words, kept up
// to date as the timeline grows. It is workflow state served by Temporal's metadata query (no history event), and a
// query result, so the payload codec encrypts it like the status.
import { setCurrentDetails } from '@temporalio/workflow';
import { approvalsOf } from '../../domain/approval';
import type { ReleaseStatus } from '../../domain/release-status';

export function showDetails(status: ReleaseStatus): void {
  setCurrentDetails(currentDetails(status));
}

export function currentDetails(status: ReleaseStatus): string {
  const head = `**${status.service}@${status.version}** (release ${status.releaseId}, ${status.changeClass} change, requested by ${status.requestedBy})`;
  const last = status.timeline.at(-1);
  return [head, `**Stage:** ${status.stage}${status.paused ? ' (paused)' : ''}`, `**Next:** ${next(status)}`]
    .concat(last ? [`**Last:** ${last.message}`] : [])
    .join('\n\n');
}

function next(status: ReleaseStatus): string {
  const waiting = status.gates.find((g) => g.status === 'waiting');
  if (status.paused) return 'nothing new starts until an operator resumes it (bakes in progress keep counting)';
  switch (status.stage) {
    case 'queued':
      return 'waits for the release ahead of it to finish';
    case 'validating':
      return "checks the artifact's digest and signature, and the migrations it carries";
    case 'waiting-for-freeze':
      return 'waits for the freeze window to end';
    case 'awaiting-check': {
      const pending = status.checks?.find((c) => c.status === 'requested');
      return pending
        ? `external check ${pending.name} waits for its result (until ${pending.deadline})`
        : 'an external check waits for its result';
    }
    case 'awaiting-approval':
    case 'needs-decision':
      return waiting
        ? `gate ${waiting.id} waits for ${waiting.quorum - approvalsOf(waiting).length} more approval(s) from ${waiting.roles.join(' or ')}: ${waiting.description}`
        : 'a gate waits for a decision';
    case 'deploying': {
      const moving = status.regions.filter((r) =>
        ['deploying', 'canary', 'needs-decision', 'promoting', 'smoke-testing'].includes(r.status),
      );
      const pending = status.regions.filter((r) => r.status === 'pending');
      if (moving.length > 0)
        return `rolls out to ${moving.map((r) => `${r.region} (${r.trafficPercent}%)`).join(', ')}`;
      return pending.length > 0 ? `the next wave: ${pending.map((r) => r.region).join(', ')}` : 'finishes the rollout';
    }
    case 'watching':
      return 'watches the promoted release; an alert from monitoring rolls it back';
    case 'paused':
      return 'nothing new starts until an operator resumes it';
    case 'rolling-back':
      return 'undoes what was done, in reverse order';
    case 'needs-attention':
      return 'a compensation could not run safely: a person must look (see the timeline)';
    case 'succeeded':
    case 'rolled-back':
    case 'failed':
    case 'aborted':
      return `nothing: the release has ended (${status.stage}${status.outcome?.reason ? `: ${status.outcome.reason}` : ''})`;
  }
}
