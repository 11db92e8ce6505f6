// The audit trail: an append-only, hash-chained record of who did what to which release. Each record carries the
// hash of the one before it, so editing, deleting or reordering a stored record breaks the chain and verify() says
// where. The trail is tamper-evident, not tamper-proof: removing records from the end (or everything) leaves a
// shorter valid chain, which only a head hash kept elsewhere (AuditVerification.head) can reveal.

import type { AuditEntry, AuditFilter, AuditRecord, AuditVerification } from '../../domain/audit';

export type { AuditEntry, AuditFilter, AuditProblem, AuditRecord, AuditVerification } from '../../domain/audit';

/** An append-only, hash-chained audit trail. */
export interface AuditStore {
  /** Appends entries in order (one transaction); entries whose id is already stored are skipped and returned as stored. */
  append(entries: AuditEntry[]): Promise<AuditRecord[]>;
  /** Records in append order (seq ascending). */
  list(filter?: AuditFilter): Promise<AuditRecord[]>;
  /** Recomputes every hash and checks the chain: detects an edited record, a deleted one, a reordered one. */
  verify(): Promise<AuditVerification>;
}
