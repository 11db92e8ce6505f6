// Signed audit checkpoints without a database: what verify reports when someone rewrites the trail and recomputes
// its whole sha256 chain, forges or deletes a checkpoint, or cuts records from the end.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditCheckpoint, AuditRecord } from '../../domain/audit';
import { AnchorCheck, checkpointFault, checkpointSignedText, signCheckpoint } from '../../providers/audit/checkpoints';
import { GENESIS_HASH, auditRecordHash } from '../../providers/audit/record-hash';
import {
  type AuditPublicKey,
  loadOrCreateAuditSigningKey,
  parseTrustedAuditKeys,
} from '../../providers/audit/signing-key';

const dir = await mkdtemp(join(tmpdir(), 'audit-keys-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const signer = loadOrCreateAuditSigningKey(join(dir, 'secrets', 'audit-signing.key'));
const trusted = new Map<string, AuditPublicKey>([[signer.keyId, signer]]);
const TRAIL = 'release_engine_audit';

/** A chain of `n` records, as the store would write them. */
function chain(n: number, edit?: (seq: number) => Partial<AuditRecord> | undefined): AuditRecord[] {
  const records: AuditRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq += 1) {
    const base = {
      seq,
      id: `release/hello/r-1#${seq}`,
      at: new Date(Date.UTC(2026, 2, 2, 9, seq)).toISOString(),
      actor: seq === 3 ? 'alice' : 'engine',
      action: seq === 3 ? 'gate.approved' : 'region.promoted',
      service: 'hello',
      prevHash,
      ...edit?.(seq),
    };
    const record = { ...base, hash: auditRecordHash(base) };
    records.push(record);
    prevHash = record.hash;
  }
  return records;
}

/** Checkpoints the way the store writes them: one per append batch (here batches of `sizes`). */
function checkpoints(records: AuditRecord[], sizes: number[]): AuditCheckpoint[] {
  const result: AuditCheckpoint[] = [];
  let from = 0;
  for (const size of sizes) {
    const batch = records.slice(from, from + size);
    result.push(
      signCheckpoint(signer, {
        trail: TRAIL,
        number: result.length + 1,
        at: '2026-03-02T10:00:00.000Z',
        records: batch,
      }),
    );
    from += size;
  }
  return result;
}

async function check(records: AuditRecord[], cps: AuditCheckpoint[], keys = trusted) {
  const queue = [...cps];
  const anchors = new AnchorCheck(TRAIL, keys, () => Promise.resolve(queue.shift()));
  for (const record of records) await anchors.record(record);
  const anchoring = await anchors.finish(signer);
  return { problems: anchors.problems, anchoring };
}

describe('audit signing key', () => {
  it('is created once, owner-only, and loads again as the same key', async () => {
    const file = join(dir, 'secrets', 'audit-signing.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(loadOrCreateAuditSigningKey(file).keyId).toBe(signer.keyId);
    expect(signer.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(signer.publicKeyPem).toContain('BEGIN PUBLIC KEY');
  });

  it('reads trusted public keys from the printed base64, and names a bad one', () => {
    expect(parseTrustedAuditKeys(` ${signer.publicKey} ,`).map((k) => k.keyId)).toEqual([signer.keyId]);
    expect(() => parseTrustedAuditKeys(`${signer.publicKey},bm90IGEga2V5`)).toThrow(
      /AUDIT_TRUSTED_PUBLIC_KEYS: key 2 is not a base64 ed25519 public key/,
    );
  });
});

describe('audit checkpoints', () => {
  it('sign the canonical text, and any edit of a checkpoint breaks the signature', () => {
    const [checkpoint] = checkpoints(chain(3), [3]);
    expect(checkpointSignedText(checkpoint!)).not.toContain('signature');
    expect(checkpointFault(checkpoint!, trusted, TRAIL)).toBeUndefined();
    const forged = { ...checkpoint!, hashes: [...checkpoint!.hashes.slice(0, 2), 'f'.repeat(64)] };
    expect(checkpointFault(forged, trusted, TRAIL)).toMatch(/signature does not verify with key/);
    expect(checkpointFault(checkpoint!, new Map(), TRAIL)).toMatch(/not a trusted key/);
  });

  it('anchor an untouched trail, and count records after the last checkpoint as not yet anchored', async () => {
    const records = chain(6);
    const { problems, anchoring } = await check(records, checkpoints(records, [2, 2]));
    expect(problems).toEqual([]);
    expect(anchoring).toMatchObject({ checkpoints: 2, anchored: 4, unanchored: 2, trustedKeyIds: [signer.keyId] });
    expect(anchoring.summary).toBe(
      '4 records anchored by 2 signed checkpoints; latest checkpoint 2 up to record 4; 2 records not yet anchored',
    );
    expect(anchoring.latest?.toSeq).toBe(4);
  });

  it('say a trail without checkpoints is not anchored', async () => {
    const { problems, anchoring } = await check(chain(3), []);
    expect(problems).toEqual([]);
    expect(anchoring.summary).toMatch(/^not anchored: no signed checkpoints yet/);
  });

  it('name the first record of a consistent rewrite, and the rest as only rechained', async () => {
    const original = chain(8);
    const cps = checkpoints(original, [3, 3, 2]);
    // The attacker edits record 3 (who approved) and recomputes every hash after it: the chain is consistent again.
    const rewritten = chain(8, (seq) => (seq === 3 ? { actor: 'mallory' } : undefined));
    const { problems } = await check(rewritten, cps);
    expect(problems).toEqual([
      {
        seq: 3,
        kind: 'rewritten',
        id: 'release/hello/r-1#3',
        action: 'gate.approved',
        checkpoint: 1,
        message: `record 3 (release/hello/r-1#3, gate.approved) no longer matches checkpoint 1 (signed 2026-03-02T10:00:00.000Z by key ${signer.keyId}): it was changed after it was recorded`,
      },
      {
        seq: 4,
        kind: 'rechained',
        message:
          'records 4 to 8 kept their contents but carry recomputed hashes: the chain was recomputed after an earlier record was changed',
      },
    ]);
  });

  it('fail a forged checkpoint and a deleted one by number', async () => {
    const records = chain(6);
    const [first, second, third] = checkpoints(records, [2, 2, 2]);
    const forged = {
      ...second!,
      hashes: chain(4, () => ({ actor: 'mallory' }))
        .slice(2)
        .map((r) => r.hash),
    };
    let { problems } = await check(records, [first!, forged, third!]);
    expect(problems.map((p) => [p.kind, p.checkpoint])).toEqual([['bad-checkpoint', 2]]);
    expect(problems[0]?.message).toMatch(
      /^checkpoint 2 \(records 3 to 4, signed .*\) cannot be trusted: its signature/,
    );

    ({ problems } = await check(records, [first!, third!]));
    expect(problems.map((p) => p.message)).toEqual([
      'checkpoint 2 is missing: deleted from the checkpoints table, so records 3 to 4 lost their signature',
    ]);
  });

  it('see records cut from the end that a checkpoint signed', async () => {
    const records = chain(5);
    const { problems } = await check(records.slice(0, 3), checkpoints(records, [5]));
    expect(problems.map((p) => p.message)).toEqual([
      'the trail ends at record 3, but checkpoints signed records 4 to 5: deleted from the end',
    ]);
  });
});
