// How an audit record is hashed, and the canonical JSON (RFC 8785 for the values the trail accepts) that records and
// checkpoints are hashed and signed over.
import { createHash } from 'node:crypto';
import type { AuditRecord } from '../../domain/audit';

/** The prevHash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** The hash a record must carry: sha256 hex of the canonical JSON of its contents and prevHash (not of its hash). */
export function auditRecordHash(record: Omit<AuditRecord, 'hash'>): string {
  // Named one by one so that nothing else on the object (its own hash, a stray property) enters the hash.
  const { seq, id, at, actor, action, service, releaseId, gate, region, beforeVersion, afterVersion, reason } = record;
  const { details, prevHash } = record;
  const hashed = { seq, id, at, actor, action, service, releaseId, gate, region, beforeVersion, afterVersion, reason };
  return createHash('sha256')
    .update(canonicalJson({ ...hashed, details, prevHash }), 'utf8')
    .digest('hex');
}

/** Keys sorted at every level, absent fields omitted, no whitespace: the same bytes for the same value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object)
    .filter((key) => object[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`).join(',')}}`;
}
