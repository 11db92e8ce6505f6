// The release's record for auditors and people: the audit trail and chat notifications.
//
// Audit record ids are `<workflowId>#<n>` in the order audit() is called (workflows/audit-batch.ts): the ORDER of
// audit() calls is a durable contract with releases already running. The payload-exact replay test guards it.
import type { AuditEvent } from '../../domain/audit';
import type { ReleasePlan } from '../../domain/plan';
import type { ReleaseOutcome } from '../../domain/release-status';
import { patched } from '@temporalio/workflow';
import { now } from '../journal';
import { innermostMessage } from '../saga';
import { AuditBatch } from '../audit-batch';
import { notifyActivities, type ReleaseEventKind } from './activities';

export type AuditFields = Omit<Partial<AuditEvent>, 'id' | 'at' | 'action'>;

export class ReleaseRecord {
  private readonly batch: AuditBatch;
  private readonly notifications: Promise<unknown>[] = [];

  constructor(
    private readonly workflowId: string,
    private readonly plan: ReleasePlan,
    private readonly requestedBy: string,
    /** False for releases started before the audit trail and notifications existed: they replay without them. */
    readonly enabled: boolean,
  ) {
    this.batch = new AuditBatch(workflowId);
  }

  /** Collects an audit event; it is written by the next flush(). */
  audit(action: string, fields: AuditFields = {}): void {
    if (!this.enabled) return;
    this.batch.add({
      at: now(),
      actor: 'engine',
      action,
      service: this.plan.service,
      releaseId: this.plan.releaseId,
      ...fields,
    });
  }

  /** Writes the audit events collected so far (chained, not cancellable). */
  flush(): Promise<void> {
    return this.batch.flush();
  }

  /** Tells people (chat) about the release; never waits for, nor fails on, the delivery. */
  notify(kind: ReleaseEventKind, extra: { region?: string; gate?: string; reason?: string } = {}): void {
    if (!this.enabled) return;
    const event = {
      kind,
      service: this.plan.service,
      version: this.plan.version,
      releaseId: this.plan.releaseId,
      requestedBy: this.requestedBy,
      at: now(),
      ...extra,
    };
    this.notifications.push(
      notifyActivities.notifyRelease.executeWithOptions({ summary: `notify: ${kind}` }, [event]).catch(() => undefined),
    );
  }

  /**
   * Reports the release's outcome for its change ticket (issue 16), when the ticket policy names where: like a
   * notification, a few tries, never waited on for long, and its failure fails nothing.
   */
  reportToTicket(outcome: ReleaseOutcome | undefined, onFailure: (why: string) => void): void {
    const report = this.plan.ticketReport;
    if (!this.enabled || !report || !outcome || !patched('ticket-report')) return;
    const { ticket, url, tokenEnv } = report;
    this.notifications.push(
      notifyActivities.reportToTicket
        .executeWithOptions({ summary: `report ${outcome.result} to change ticket ${ticket}` }, [
          {
            ticket,
            url,
            ...(tokenEnv ? { tokenEnv } : {}),
            outcome: {
              releaseId: this.plan.releaseId,
              service: this.plan.service,
              version: this.plan.version,
              result: outcome.result,
              reason: outcome.reason,
              finishedAt: outcome.finishedAt,
            },
          },
        ])
        .catch((err: unknown) =>
          onFailure(`the outcome was not reported to change ticket ${ticket}: ${innermostMessage(err)}`),
        ),
    );
  }

  /** Resolves once every notification sent so far was delivered or given up on. */
  notified(): Promise<unknown> {
    return Promise.all(this.notifications);
  }
}
