// The audit trail's records, as the workflows write them and the API reads them. The audit store (providers/audit)
// chains and stores them; ids are chosen by the writer so a retried append stores each event once.

/** One event, as the writer describes it. */
export interface AuditEntry {
  /** Idempotency key chosen by the writer (e.g. '<workflowId>#<n>'): appending the same id twice stores it once. */
  id: string;
  /** ISO 8601 time of the event with a zone ('Z' or an offset), from the writer, not the database clock. */
  at: string;
  /** Principal id, or 'engine'. */
  actor: string;
  /** What happened, e.g. 'release.requested', 'gate.approved', 'region.promoted', 'region.reverted'. */
  action: string;
  service: string;
  releaseId?: string;
  gate?: string;
  region?: string;
  beforeVersion?: string;
  afterVersion?: string;
  reason?: string;
  /** Plain JSON only (objects, arrays, strings, finite numbers, booleans, null), so it hashes the same once stored. */
  details?: Record<string, unknown>;
}

/** An entry as the release workflow writes it: details limited to values that survive any JSON round trip. */
export interface AuditEvent extends Omit<AuditEntry, 'details'> {
  details?: Record<string, string | number | boolean | null | string[]>;
}

/** A stored entry: its place in the chain and the hashes that bind it there. */
export interface AuditRecord extends AuditEntry {
  /** 1, 2, 3, ... with no gaps: a gap means a deleted record. */
  seq: number;
  /** The previous record's hash (64 zeros for the first record). */
  prevHash: string;
  /** sha256 (hex) of the record's canonical JSON, prevHash included. */
  hash: string;
}

/** Which records list() returns; all conditions must hold. */
export interface AuditFilter {
  service?: string;
  releaseId?: string;
  /** ISO time: records whose `at` is at or after it. */
  since?: string;
  /** At most this many records, the oldest first. */
  limit?: number;
}

/** One thing verify() found wrong, at the record (seq) where it shows. */
export type AuditProblem = { seq: number; kind: 'modified' | 'deleted' | 'broken-chain'; message: string };

/** What verify() found: ok with the head hash to keep elsewhere, or the problems. */
export type AuditVerification =
  { ok: true; records: number; head?: string } | { ok: false; records: number; problems: AuditProblem[] };
