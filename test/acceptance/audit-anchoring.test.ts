// The audit trail's signed checkpoints through the API, as an auditor meets them: a record rewritten in the database
// with its whole sha256 chain recomputed makes `audit.verify` fail naming that record, and `audit.checkpoint` hands
// out the public key and the newest checkpoint, whose signature checks offline with nothing but node:crypto.
import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../domain/audit';
import { auditRecordHash } from '../../providers/audit/record-hash';
import { useEngines } from '../support/engine';

describe('audit anchoring through the API', () => {
  const engines = useEngines();

  it('names the record a consistent rewrite changed, and exports a checkpoint an auditor can check', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const { service } = engine;
    const at = (minute: number) => new Date(Date.UTC(2026, 2, 2, 9, minute)).toISOString();
    // Appended by the worker's store, batch by batch, as the release workflow's audit activity does.
    await engine.auditTrail.append([
      {
        id: `release/${service}/r-1#1`,
        at: at(1),
        actor: 'ci',
        action: 'release.requested',
        service,
        releaseId: 'r-1',
      },
      {
        id: `release/${service}/r-1#2`,
        at: at(2),
        actor: 'engine',
        action: 'artifact.verified',
        service,
        releaseId: 'r-1',
      },
    ]);
    await engine.auditTrail.append([
      {
        id: `release/${service}/r-1#3`,
        at: at(3),
        actor: 'alice',
        action: 'gate.approved',
        service,
        releaseId: 'r-1',
        gate: 'production-approval',
      },
      {
        id: `release/${service}/r-1#4`,
        at: at(4),
        actor: 'engine',
        action: 'region.promoted',
        service,
        releaseId: 'r-1',
        region: 'a',
      },
    ]);

    const viewer = engine.trpc('viewer');
    expect(await viewer.audit.verify.mutate()).toMatchObject({ ok: true, records: 4, anchoring: { anchored: 4 } });
    const exported = await viewer.audit.checkpoint.query();
    expect(exported).toMatchObject({ keyId: engine.auditSigner.keyId, verified: true, checkpoint: { toSeq: 4 } });
    // Offline: the exported text, the signature and the public key are all an auditor needs.
    const publicKey = createPublicKey(exported.publicKeyPem);
    const signature = Buffer.from(exported.checkpoint?.signature ?? '', 'base64');
    expect(verify(null, Buffer.from(exported.signedText ?? ''), publicKey, signature)).toBe(true);

    // A superuser makes it look as if bob approved, and recomputes the sha256 chain from there on.
    const records = await engine.auditTrail.list();
    let prevHash: string | undefined;
    for (const record of records.filter((r) => r.seq >= 3)) {
      const edited: AuditRecord = {
        ...record,
        ...(record.seq === 3 ? { actor: 'bob' } : {}),
        prevHash: prevHash ?? record.prevHash,
      };
      edited.hash = auditRecordHash(edited);
      await engine.auditDb.session(async (session) => {
        await session.query('BEGIN');
        await session.query('SET LOCAL session_replication_role = replica');
        await session.query('UPDATE release_engine_audit SET actor = $1, prev_hash = $2, hash = $3 WHERE seq = $4', [
          edited.actor,
          edited.prevHash,
          edited.hash,
          record.seq,
        ]);
        await session.query('COMMIT');
      });
      prevHash = edited.hash;
    }

    const verdict = await viewer.audit.verify.mutate();
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.problems[0]).toMatchObject({
      seq: 3,
      kind: 'rewritten',
      id: `release/${service}/r-1#3`,
      action: 'gate.approved',
    });
    expect(!verdict.ok && verdict.problems[0]?.message).toMatch(
      /^record 3 \(release\/.*#3, gate\.approved\) no longer matches checkpoint 2 .*: it was changed after it was recorded$/,
    );
    expect((await viewer.audit.checkpoint.query()).verified).toBe(false);
  });
});
