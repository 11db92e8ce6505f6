// The audit trail in memory: append-only, idempotent by entry id, hash-chained with the same hash as the SQL store,
// so verify() means the same thing here.
import type {
  AuditEntry,
  AuditFilter,
  AuditProblem,
  AuditRecord,
  AuditStore,
  AuditVerification,
} from '../../../providers/audit/audit-store';
import { auditRecordHash, GENESIS_HASH } from '../../../providers/audit/sql-audit-store';
import { Latch } from './latch';

export class MemoryAuditStore implements AuditStore {
  readonly records: AuditRecord[] = [];
  /** Append calls, each with the ids it was given (a retried activity shows up twice here, once in records). */
  readonly appends: string[][] = [];
  private readonly holds: { action: string; latch: Latch }[] = [];

  /** Makes appends of a batch holding an entry with `action` wait until the returned latch is opened (a slow store). */
  holdWhen(action: string): Latch {
    const latch = new Latch();
    this.holds.push({ action, latch });
    return latch;
  }

  /** Lets every held append through. */
  release(): void {
    for (const hold of this.holds) hold.latch.open();
  }

  async append(entries: AuditEntry[]): Promise<AuditRecord[]> {
    for (const hold of this.holds) if (entries.some((e) => e.action === hold.action)) await hold.latch.wait();
    this.appends.push(entries.map((e) => e.id));
    const stored: AuditRecord[] = [];
    for (const entry of entries) {
      const existing = this.records.find((r) => r.id === entry.id);
      if (existing) {
        stored.push(existing);
        continue;
      }
      // A JSON round trip, as a database would store it: nothing the caller keeps can change the record later.
      const plain = JSON.parse(JSON.stringify(entry)) as AuditEntry;
      const seq = this.records.length + 1;
      const prevHash = this.records.at(-1)?.hash ?? GENESIS_HASH;
      const record: AuditRecord = { ...plain, seq, prevHash, hash: auditRecordHash({ ...plain, seq, prevHash }) };
      this.records.push(record);
      stored.push(record);
    }
    return stored;
  }

  list(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const found = this.records.filter(
      (r) =>
        (filter.service === undefined || r.service === filter.service) &&
        (filter.releaseId === undefined || r.releaseId === filter.releaseId) &&
        (filter.actions === undefined || filter.actions.includes(r.action)) &&
        (filter.since === undefined || Date.parse(r.at) >= Date.parse(filter.since)),
    );
    return Promise.resolve(filter.limit === undefined ? found : found.slice(0, filter.limit));
  }

  verify(): Promise<AuditVerification> {
    const problems: AuditProblem[] = [];
    let prevHash = GENESIS_HASH;
    this.records.forEach((record, i) => {
      if (record.seq !== i + 1) {
        problems.push({ seq: record.seq, kind: 'deleted', message: `expected seq ${i + 1}` });
      }
      if (record.prevHash !== prevHash) {
        problems.push({ seq: record.seq, kind: 'broken-chain', message: 'prevHash is not the previous hash' });
      }
      if (auditRecordHash(record) !== record.hash) {
        problems.push({ seq: record.seq, kind: 'modified', message: 'hash does not match the contents' });
      }
      prevHash = record.hash;
    });
    return Promise.resolve(
      problems.length > 0
        ? { ok: false, records: this.records.length, problems }
        : { ok: true, records: this.records.length, ...(this.records.length > 0 ? { head: prevHash } : {}) },
    );
  }

  /** Actions recorded for a release, in order (e.g. release.requested, gate.opened, ...). */
  actions(releaseId: string): string[] {
    return this.records.filter((r) => r.releaseId === releaseId).map((r) => r.action);
  }
}
