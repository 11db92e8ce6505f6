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
  /** Records of these actions only (e.g. the incident.* notes an incident list reads). */
  actions?: string[];
  /** ISO time: records whose `at` is at or after it. */
  since?: string;
  /** At most this many records, the oldest first. */
  limit?: number;
}

/**
 * A signed statement of the worker that appended a batch: "records fromSeq..toSeq of this trail hash to these values".
 * The signing key lives outside the database, so a rewrite that recomputes the whole sha256 chain still contradicts
 * the checkpoints, which name the first record that changed.
 */
export interface AuditCheckpoint {
  /** The audit table the checkpoint belongs to (a checkpoint cannot be moved to another trail). */
  trail: string;
  /** 1, 2, 3, ... with no gaps: a gap means a deleted checkpoint. */
  number: number;
  /** First record covered: the previous checkpoint's toSeq + 1. */
  fromSeq: number;
  /** Last record covered. */
  toSeq: number;
  /** The hash of record toSeq; through the chain it stands for every record before it. */
  head: string;
  /** The hash of each record fromSeq..toSeq, in order. */
  hashes: string[];
  /** ISO time the checkpoint was signed. */
  at: string;
  /** Which key signed it (see the audit signing key). */
  keyId: string;
  /** Base64 ed25519 signature of the canonical JSON of every field above (signature excluded). */
  signature: string;
}

/** How far the trail is anchored by signed checkpoints. */
export interface AuditAnchoring {
  checkpoints: number;
  /** Records covered by a checkpoint whose signature a trusted key verified. */
  anchored: number;
  /** Records no valid checkpoint covers: after the last checkpoint, or in a trail written before checkpoints. */
  unanchored: number;
  /** The keys verify trusted (never taken from the database). */
  trustedKeyIds: string[];
  /** The newest checkpoint stored, for an auditor to keep outside the engine. */
  latest?: AuditCheckpoint;
  /** The verifying worker's own signing key, as an auditor needs it to check checkpoints offline. */
  signingKey?: { keyId: string; publicKeyPem: string; publicKey: string };
  /** The above in words. */
  summary: string;
}

/** One thing verify() found wrong, at the record (seq) where it shows. */
export type AuditProblem = {
  seq: number;
  kind:
    | 'modified'
    | 'deleted'
    | 'broken-chain'
    /** The record no longer hashes to what a signed checkpoint says (edited after it was anchored). */
    | 'rewritten'
    /** Records whose contents are intact but whose hashes were recomputed after an earlier rewrite. */
    | 'rechained'
    /** A checkpoint whose signature does not verify with a trusted key, or that contradicts its neighbours. */
    | 'bad-checkpoint'
    /** A checkpoint missing from the sequence. */
    | 'missing-checkpoint'
    /** Records a checkpoint signed are gone from the end of the trail. */
    | 'truncated';
  message: string;
  /** The record's id and action, when the problem is one record. */
  id?: string;
  action?: string;
  /** The checkpoint involved, if any. */
  checkpoint?: number;
};

/** What verify() found: ok with the head hash to keep elsewhere, or the problems; and how far checkpoints anchor it. */
export type AuditVerification =
  | { ok: true; records: number; head?: string; anchoring?: AuditAnchoring }
  | { ok: false; records: number; problems: AuditProblem[]; anchoring?: AuditAnchoring };
