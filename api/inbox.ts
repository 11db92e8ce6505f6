// The inbox: every gate waiting for a decision that a person's roles allow them to give, with what they need to decide
// (which release, why the gate is there, since when, who decided so far). Found through visibility (releases whose
// stage is a waiting one), then each release's own status, which is the only source of truth for its gates.
import type { Client } from '@temporalio/client';
import type { Gate } from '../domain/approval';
import { hasAnyRole, type Principal } from '../domain/principal';
import { getReleaseStatus } from '../workflows/lifecycle';
import { releaseListQuery } from './visibility';

export interface InboxItem {
  service: string;
  releaseId: string;
  version: string;
  changeClass: string;
  requestedBy: string;
  reason?: string;
  /** The caller asked for this release (or wrote it): the release will refuse their decision. */
  own: boolean;
  gate: Gate;
}

const WAITING_STAGES = ['awaiting-approval', 'needs-decision'] as const;
/** Releases looked at, at most, per call. */
const MAX_RELEASES = 200;

export async function inboxOf(client: Client, principal: Principal): Promise<InboxItem[]> {
  const ids: { service: string; releaseId: string }[] = [];
  for (const stage of WAITING_STAGES) {
    const query = releaseListQuery({ stage, outcome: 'running' });
    for await (const info of client.workflow.list({ query })) {
      const [, service = '', releaseId = ''] = info.workflowId.split('/');
      ids.push({ service, releaseId });
      if (ids.length >= MAX_RELEASES) break;
    }
  }
  const statuses = await Promise.all(
    ids.map(({ service, releaseId }) => getReleaseStatus(client, service, releaseId).catch(() => undefined)),
  );
  const items: InboxItem[] = [];
  for (const status of statuses) {
    if (!status) continue;
    for (const gate of status.gates) {
      if (gate.status !== 'waiting' || !hasAnyRole(principal, gate.roles)) continue;
      items.push({
        service: status.service,
        releaseId: status.releaseId,
        version: status.version,
        changeClass: status.changeClass,
        requestedBy: status.requestedBy,
        ...(status.reason ? { reason: status.reason } : {}),
        own: status.requestedBy === principal.id,
        gate,
      });
    }
  }
  return items.sort((a, b) => (a.gate.openedAt ?? '').localeCompare(b.gate.openedAt ?? ''));
}
