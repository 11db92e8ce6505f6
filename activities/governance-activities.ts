// Orchestrator activities that keep the record and tell people: the audit trail and notifications.
import { ApplicationFailure } from '@temporalio/activity';
import type { AuditEvent, AuditFilter, AuditRecord, AuditVerification } from '../domain/audit';
import type { ActivityFailureType } from '../domain/failures';
import type { AuditStore } from '../providers/audit/audit-store';
import type { Notifier, ReleaseEvent } from '../providers/notify/notifier';
import { NotificationFailedError } from '../providers/notify/webhook-notifier';

export interface GovernanceActivityDeps {
  audit: AuditStore;
  /** Where release events go; none configured means nobody is told. */
  notifier?: Notifier;
  /** The web console's address: a notification without a link of its own links to the release's page there. */
  consoleUrl?: string;
}

export function createGovernanceActivities({ audit, notifier, consoleUrl }: GovernanceActivityDeps) {
  return {
    /** Appends events to the audit trail, in order. Idempotent by event id, so a retry stores nothing twice. */
    async appendAudit(events: AuditEvent[]): Promise<{ stored: number }> {
      const records = await audit.append(events);
      return { stored: records.length };
    },

    /** Reads the audit trail for the API (which cannot open an embedded database this worker holds). */
    async listAudit(filter: AuditFilter): Promise<AuditRecord[]> {
      return audit.list(filter);
    },

    /** Recomputes the audit trail's hash chain; reports an edited, deleted or reordered record. */
    async verifyAudit(): Promise<AuditVerification> {
      const result = await audit.verify();
      // A badly damaged trail could list thousands of problems; the first hundred say enough.
      return result.ok ? result : { ...result, problems: result.problems.slice(0, 100) };
    },

    /**
     * Tells people about a release event. A delivery that fails throws, so the notify profile retries it (a few quick
     * tries); a webhook that refuses the message (4xx) is not retried. Delivery is at least once: a message whose
     * answer was lost may be posted twice. The release never waits on, nor fails by, a notification.
     */
    async notifyRelease(event: ReleaseEvent): Promise<{ delivered: boolean; reason?: string }> {
      if (!notifier) return { delivered: false, reason: 'no notifier configured' };
      try {
        await notifier.notify(consoleUrl && !event.url ? { ...event, url: releasePageUrl(consoleUrl, event) } : event);
        return { delivered: true };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const status = err instanceof NotificationFailedError ? err.status : undefined;
        const refused = status !== undefined && status >= 400 && status < 500 && status !== 429;
        throw ApplicationFailure.create({
          type: 'NotificationFailed' satisfies ActivityFailureType,
          message,
          nonRetryable: refused,
        });
      }
    },
  };
}

/** The release's page in the web console (its route lives in the URL's hash: web/src/main.ts). */
export function releasePageUrl(consoleUrl: string, event: Pick<ReleaseEvent, 'service' | 'releaseId'>): string {
  const base = consoleUrl.endsWith('/') ? consoleUrl : `${consoleUrl}/`;
  return `${base}#/release/${encodeURIComponent(event.service)}/${encodeURIComponent(event.releaseId)}`;
}
