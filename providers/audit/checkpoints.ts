// Signed checkpoints of the audit trail, in the manner of CloudTrail's signed digest files and Certificate
// Transparency's signed tree heads. The hash chain alone shows an edit only to someone who kept a hash from before it:
// whoever can write the database can recompute every hash after an edit and the chain is consistent again. A
// checkpoint lists the hashes of the records appended since the previous one and is signed with a key kept outside
// the database, so such a rewrite contradicts a signature the attacker cannot forge, at the first record it changed.
//
// The signature is ed25519 over the UTF-8 bytes of the canonical JSON (record-hash.ts) of the checkpoint without its
// signature: `checkpointSignedText()` gives those bytes, so an auditor can check one with openssl.
import type { AuditAnchoring, AuditCheckpoint, AuditProblem, AuditRecord } from '../../domain/audit';
import { GENESIS_HASH, auditRecordHash, canonicalJson } from './record-hash';
import { type AuditPublicKey, type AuditSigner, verifyAuditSignature } from './signing-key';

export type { AuditCheckpoint } from '../../domain/audit';

/** The exact text a checkpoint's signature covers. */
export function checkpointSignedText(checkpoint: Omit<AuditCheckpoint, 'signature'>): string {
  const { trail, number, fromSeq, toSeq, head, hashes, at, keyId } = checkpoint;
  return canonicalJson({ trail, number, fromSeq, toSeq, head, hashes, at, keyId });
}

/** Signs a checkpoint of `records` (consecutive, ascending seq) that follows checkpoint `number - 1`. */
export function signCheckpoint(
  signer: AuditSigner,
  fields: { trail: string; number: number; at: string; records: Pick<AuditRecord, 'seq' | 'hash'>[] },
): AuditCheckpoint {
  const first = fields.records[0];
  const last = fields.records.at(-1);
  if (!first || !last) throw new Error('a checkpoint covers at least one record');
  const body = {
    trail: fields.trail,
    number: fields.number,
    fromSeq: first.seq,
    toSeq: last.seq,
    head: last.hash,
    hashes: fields.records.map((record) => record.hash),
    at: fields.at,
    keyId: signer.keyId,
  };
  return { ...body, signature: signer.sign(Buffer.from(checkpointSignedText(body), 'utf8')) };
}

/** Why a checkpoint cannot be trusted, or undefined if a trusted key signed it and it is well formed. */
export function checkpointFault(
  checkpoint: AuditCheckpoint,
  trusted: ReadonlyMap<string, AuditPublicKey>,
  trail: string,
): string | undefined {
  const key = trusted.get(checkpoint.keyId);
  if (!key) {
    return `it is signed by key ${checkpoint.keyId}, which is not a trusted key (trusted: ${[...trusted.keys()].join(', ') || 'none'}); if that was an earlier key of this engine, add its public key to AUDIT_TRUSTED_PUBLIC_KEYS`;
  }
  if (!verifyAuditSignature(key, Buffer.from(checkpointSignedText(checkpoint), 'utf8'), checkpoint.signature)) {
    return `its signature does not verify with key ${checkpoint.keyId}: it was edited or forged`;
  }
  if (checkpoint.trail !== trail) return `it belongs to the trail ${checkpoint.trail}, not ${trail}`;
  const count = checkpoint.toSeq - checkpoint.fromSeq + 1;
  if (count < 1 || checkpoint.hashes.length !== count || checkpoint.hashes.at(-1) !== checkpoint.head) {
    return 'its record range, hashes and head do not agree';
  }
  return undefined;
}

function describe(record: AuditRecord): string {
  return `record ${record.seq} (${record.id}, ${record.action})`;
}

function range(from: number, to: number): string {
  return from === to ? `record ${from}` : `records ${from} to ${to}`;
}

interface Current {
  checkpoint: AuditCheckpoint;
  valid: boolean;
  /** The anchored hash of the record before fromSeq, when a valid checkpoint (or the start) vouches for it. */
  before: string | undefined;
}

/**
 * Checks a trail against its checkpoints, both fed in ascending order: checkpoints as they are needed (`next()` is
 * asked for the following one), records one by one. Reports rewritten records by name, bad and missing
 * checkpoints, and records a checkpoint signed that are no longer there.
 */
export class AnchorCheck {
  readonly problems: AuditProblem[] = [];
  private current: Current | undefined;
  private exhausted = false;
  private expectedNumber = 1;
  private expectedFrom = 1;
  /** The head of the last valid checkpoint, for the record right after it. */
  private lastValidHead: string | undefined = GENESIS_HASH;
  private checkpoints = 0;
  private anchored = 0;
  private unanchored = 0;
  private latest: AuditCheckpoint | undefined;
  private rechained: { from: number; to: number } | undefined;
  private lastSeq = 0;
  /** The last record a valid checkpoint signed. */
  private signedUpTo = 0;

  constructor(
    private readonly trail: string,
    private readonly trusted: ReadonlyMap<string, AuditPublicKey>,
    private readonly next: () => Promise<AuditCheckpoint | undefined>,
  ) {}

  private async advance(): Promise<boolean> {
    if (this.exhausted) return false;
    const checkpoint = await this.next();
    if (!checkpoint) {
      this.exhausted = true;
      this.current = undefined;
      return false;
    }
    this.checkpoints += 1;
    this.latest = checkpoint;
    const label = `checkpoint ${checkpoint.number} (${range(checkpoint.fromSeq, checkpoint.toSeq)}, signed ${checkpoint.at})`;
    if (checkpoint.number > this.expectedNumber || checkpoint.fromSeq > this.expectedFrom) {
      const numbers =
        checkpoint.number - 1 > this.expectedNumber
          ? `checkpoints ${this.expectedNumber} to ${checkpoint.number - 1} are`
          : `checkpoint ${this.expectedNumber} is`;
      this.problems.push({
        seq: this.expectedFrom,
        kind: 'missing-checkpoint',
        checkpoint: this.expectedNumber,
        message: `${numbers} missing: deleted from the checkpoints table, so ${range(this.expectedFrom, checkpoint.fromSeq - 1)} lost ${checkpoint.fromSeq - 1 === this.expectedFrom ? 'its' : 'their'} signature`,
      });
      this.lastValidHead = undefined;
    }
    let fault = checkpointFault(checkpoint, this.trusted, this.trail);
    if (!fault && (checkpoint.number < this.expectedNumber || checkpoint.fromSeq < this.expectedFrom)) {
      fault = `it overlaps the checkpoint before it (expected checkpoint ${this.expectedNumber} from record ${this.expectedFrom})`;
    }
    if (fault) {
      this.problems.push({
        seq: checkpoint.fromSeq,
        kind: 'bad-checkpoint',
        checkpoint: checkpoint.number,
        message: `${label} cannot be trusted: ${fault}; the records it covers are not anchored`,
      });
    }
    const before = checkpoint.fromSeq === this.expectedFrom ? this.lastValidHead : undefined;
    this.current = { checkpoint, valid: !fault, before };
    this.expectedNumber = Math.max(this.expectedNumber, checkpoint.number + 1);
    this.expectedFrom = Math.max(this.expectedFrom, checkpoint.toSeq + 1);
    this.lastValidHead = fault ? undefined : checkpoint.head;
    if (!fault) this.signedUpTo = Math.max(this.signedUpTo, checkpoint.toSeq);
    return true;
  }

  /** Checks the next record of the trail (ascending seq). */
  async record(record: AuditRecord): Promise<void> {
    this.lastSeq = record.seq;
    while (!this.current || this.current.checkpoint.toSeq < record.seq) {
      if (!(await this.advance())) break;
    }
    const current = this.current;
    if (!current || !current.valid || record.seq < current.checkpoint.fromSeq) {
      this.unanchored += 1;
      return;
    }
    const { checkpoint } = current;
    const index = record.seq - checkpoint.fromSeq;
    const signed = checkpoint.hashes[index];
    const anchoredPrev = index === 0 ? current.before : checkpoint.hashes[index - 1];
    if (auditRecordHash(record) === signed) {
      this.anchored += 1;
      return;
    }
    // Contents as signed, but chained onto a recomputed hash: the record was not edited, one before it was.
    if (anchoredPrev !== undefined && auditRecordHash({ ...record, prevHash: anchoredPrev }) === signed) {
      this.anchored += 1;
      if (this.rechained && this.rechained.to === record.seq - 1) this.rechained.to = record.seq;
      else this.rechained ??= { from: record.seq, to: record.seq };
      return;
    }
    this.problems.push({
      seq: record.seq,
      kind: 'rewritten',
      id: record.id,
      action: record.action,
      checkpoint: checkpoint.number,
      message: `${describe(record)} no longer matches checkpoint ${checkpoint.number} (signed ${checkpoint.at} by key ${checkpoint.keyId}): it was changed after it was recorded`,
    });
  }

  /** Finishes the check once every record was fed; `signingKey` is reported for auditors. */
  async finish(signingKey?: AuditPublicKey): Promise<AuditAnchoring> {
    // Checkpoints beyond the last record: what they signed was cut from the end of the trail.
    for (;;) if (!(await this.advance())) break;
    const { signedUpTo } = this;
    if (signedUpTo > this.lastSeq) {
      this.problems.push({
        seq: this.lastSeq + 1,
        kind: 'truncated',
        message: `the trail ends at record ${this.lastSeq}, but checkpoints signed ${range(this.lastSeq + 1, signedUpTo)}: deleted from the end`,
      });
    }
    if (this.rechained) {
      this.problems.push({
        seq: this.rechained.from,
        kind: 'rechained',
        message: `${range(this.rechained.from, this.rechained.to)} kept their contents but carry recomputed hashes: the chain was recomputed after an earlier record was changed`,
      });
    }
    this.problems.sort((a, b) => a.seq - b.seq);
    const trustedKeyIds = [...this.trusted.keys()];
    const anchoring: AuditAnchoring = {
      checkpoints: this.checkpoints,
      anchored: this.anchored,
      unanchored: this.unanchored,
      trustedKeyIds,
      summary: this.summary(),
    };
    if (this.latest) anchoring.latest = this.latest;
    if (signingKey) {
      const { keyId, publicKeyPem, publicKey } = signingKey;
      anchoring.signingKey = { keyId, publicKeyPem, publicKey };
    }
    return anchoring;
  }

  private summary(): string {
    if (this.checkpoints === 0) {
      return this.anchored + this.unanchored === 0
        ? 'no records yet'
        : `not anchored: no signed checkpoints yet (the trail was written before checkpoints, or by a worker without a signing key); ${this.unanchored} records verified by their hash chain only`;
    }
    const latest = this.latest ? `; latest checkpoint ${this.latest.number} up to record ${this.latest.toSeq}` : '';
    const pending = this.unanchored > 0 ? `; ${this.unanchored} records not yet anchored` : '';
    return `${this.anchored} records anchored by ${this.checkpoints} signed checkpoints${latest}${pending}`;
  }
}
