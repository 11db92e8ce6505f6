// Audit events a workflow collects and writes in batches: the release's record and the train's both use it.
//
// Ids are `<workflowId>#<n>` in the order add() is called, and the store keeps an id it already has, so a retried or
// replayed write stores nothing twice. The ORDER of add() calls is therefore a durable contract with workflows already
// running (the payload-exact replay test guards it).
import { CancellationScope, proxyActivities } from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities';
import type { AuditEvent } from '../domain/audit';
import { auditStep } from './profiles';

const auditActivities = proxyActivities<ReleaseActivities>(auditStep);

export class AuditBatch {
  private seq = 0;
  private readonly pending: AuditEvent[] = [];
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly workflowId: string) {}

  /** Collects an event (its id is given here); it is written by the next flush(). */
  add(event: Omit<AuditEvent, 'id'>): void {
    this.pending.push({ id: `${this.workflowId}#${++this.seq}`, ...event });
  }

  /** Writes the events collected so far. Writes are chained (the trail keeps the order) and not cancellable. */
  flush(): Promise<void> {
    const write = async () => {
      const batch = this.pending.splice(0);
      if (batch.length === 0) return;
      await CancellationScope.nonCancellable(() =>
        auditActivities.appendAudit.executeWithOptions(
          { summary: `audit: ${[...new Set(batch.map((e) => e.action))].join(', ')}` },
          [batch],
        ),
      );
    };
    this.writes = this.writes.then(write, write);
    return this.writes;
  }
}
