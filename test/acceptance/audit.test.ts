// The audit trail on real PostgreSQL (a fresh database per test) and on PGlite (a fresh directory per test): what a
// reader of the trail sees, what the database refuses, and what verify() reports after a superuser rewrites history.
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditRecord } from '../../providers/audit/audit-store';
import { type AuditSigner, loadOrCreateAuditSigningKey } from '../../providers/audit/signing-key';
import { GENESIS_HASH, SqlAuditStore, auditRecordHash } from '../../providers/audit/sql-audit-store';
import { openDatabase, type SqlDatabase } from '../../providers/sql/database';

const POSTGRES = 'postgres://postgres@127.0.0.1:5432';
const TABLE = 'release_engine_audit';

/** A place for one test's trail: opened as often as the test likes, removed afterwards. */
interface Target {
  open(): Promise<SqlDatabase>;
  dispose(): Promise<void>;
}

async function postgresTarget(): Promise<Target> {
  const name = `audit_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client(`${POSTGRES}/test`);
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const opened: SqlDatabase[] = [];
  return {
    async open() {
      const db = await openDatabase({ url: `${POSTGRES}/${name}` });
      opened.push(db);
      return db;
    },
    async dispose() {
      await Promise.all(opened.map((db) => db.close().catch(() => undefined)));
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

// Creating a PGlite data directory runs initdb in WASM (seconds, more on a busy machine); opening a copy of one is
// quick. So the file initializes one template and each test gets its own copy.
let pgliteTemplate: Promise<string> | undefined;
afterAll(async () => {
  if (pgliteTemplate) await rm(await pgliteTemplate, { recursive: true, force: true });
});

async function pgliteTarget(): Promise<Target> {
  pgliteTemplate ??= (async () => {
    const template = await mkdtemp(join(tmpdir(), 'audit-pglite-template-'));
    await (await openDatabase({ pgliteDir: template })).close();
    return template;
  })();
  const dir = await mkdtemp(join(tmpdir(), 'audit-pglite-'));
  await cp(await pgliteTemplate, dir, { recursive: true });
  const opened: SqlDatabase[] = [];
  return {
    async open() {
      const db = await openDatabase({ pgliteDir: dir });
      opened.push(db);
      return db;
    },
    async dispose() {
      for (const db of opened) await db.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `sql` the way a superuser rewriting history would: with the append-only triggers switched off. */
async function tamper(db: SqlDatabase, sql: string, params: unknown[] = []): Promise<void> {
  await db.session(async (session) => {
    await session.query('BEGIN');
    try {
      await session.query('SET LOCAL session_replication_role = replica');
      await session.query(sql, params);
      await session.query('COMMIT');
    } catch (err) {
      await session.query('ROLLBACK');
      throw err;
    }
  });
}

const start = Date.parse('2026-03-02T09:00:00.000Z');
const minutes = (n: number) => new Date(start + n * 60_000).toISOString();

/** A release of checkout (rel-1, records 1-4) and one of payments (rel-2, record 5). */
const story: AuditEntry[] = [
  {
    id: 'rel-1#1',
    at: minutes(1),
    actor: 'dana',
    action: 'release.requested',
    service: 'checkout',
    releaseId: 'rel-1',
    afterVersion: '1.1.0',
    reason: 'new payment form',
    details: { changeClass: 'normal', regions: ['eu-west-1', 'us-east-1'] },
  },
  {
    id: 'rel-1#2',
    at: minutes(2),
    actor: 'alice',
    action: 'gate.approved',
    service: 'checkout',
    releaseId: 'rel-1',
    gate: 'production-approval',
  },
  {
    id: 'rel-1#3',
    at: minutes(3),
    actor: 'engine',
    action: 'region.promoted',
    service: 'checkout',
    releaseId: 'rel-1',
    region: 'eu-west-1',
    beforeVersion: '1.0.0',
    afterVersion: '1.1.0',
    reason: 'canary healthy',
    details: { errorRate: 0.001, p99Ms: 182 },
  },
  {
    id: 'rel-1#4',
    at: minutes(4),
    actor: 'engine',
    action: 'region.reverted',
    service: 'checkout',
    releaseId: 'rel-1',
    region: 'us-east-1',
    beforeVersion: '1.1.0',
    afterVersion: '1.0.0',
    reason: 'error rate 4.2% over the 1% budget',
  },
  {
    id: 'rel-2#1',
    at: minutes(5),
    actor: 'ci',
    action: 'release.requested',
    service: 'payments',
    releaseId: 'rel-2',
    afterVersion: '3.0.0',
  },
];

const backends = [
  { name: 'PostgreSQL', target: postgresTarget },
  { name: 'PGlite', target: pgliteTarget },
];

describe.each(backends)('audit trail on $name', ({ target: createTarget }) => {
  let target: Target;
  let db: SqlDatabase;
  let store: SqlAuditStore;

  beforeEach(async () => {
    target = await createTarget();
    db = await target.open();
    store = new SqlAuditStore(db);
  });
  afterEach(async () => {
    await target.dispose();
  });

  it('lists appended records in order, numbered 1..n, each chained to the one before', async () => {
    const appended = await store.append(story);
    const records = await store.list();

    expect(records).toEqual(appended);
    expect(records.map((r) => [r.seq, r.id])).toEqual(story.map((e, i) => [i + 1, e.id]));
    expect(records.map(({ seq: _seq, prevHash: _prev, hash: _hash, ...entry }) => entry)).toEqual(story);
    expect(records[0]?.prevHash).toBe(GENESIS_HASH);
    records.forEach((record, i) => {
      expect(record.hash).toMatch(/^[0-9a-f]{64}$/);
      if (i > 0) expect(record.prevHash).toBe(records[i - 1]?.hash);
    });
    // Absent optional fields stay absent (not null) once read back.
    expect(Object.keys(records[1] ?? {})).not.toContain('reason');
    expect(Object.keys(records[1] ?? {})).not.toContain('details');

    // A later append continues the same chain.
    const [next] = await store.append([{ ...story[4]!, id: 'rel-2#2', at: minutes(6), action: 'gate.approved' }]);
    expect(next).toMatchObject({ seq: 6, prevHash: records[4]?.hash });
  });

  it('filters by service, release, time and count', async () => {
    await store.append(story);
    const ids = (records: AuditRecord[]) => records.map((r) => r.id);

    expect(ids(await store.list({ service: 'payments' }))).toEqual(['rel-2#1']);
    expect(ids(await store.list({ releaseId: 'rel-1' }))).toEqual(['rel-1#1', 'rel-1#2', 'rel-1#3', 'rel-1#4']);
    expect(ids(await store.list({ since: minutes(3) }))).toEqual(['rel-1#3', 'rel-1#4', 'rel-2#1']);
    // The same instant written with an offset: times compare as instants, not as text.
    expect(ids(await store.list({ since: '2026-03-02T11:04:00+02:00' }))).toEqual(['rel-1#4', 'rel-2#1']);
    expect(ids(await store.list({ limit: 2 }))).toEqual(['rel-1#1', 'rel-1#2']);
    expect(ids(await store.list({ service: 'checkout', since: minutes(2), limit: 2 }))).toEqual(['rel-1#2', 'rel-1#3']);
    expect(await store.list({ service: 'search' })).toEqual([]);
    await expect(store.list({ since: 'yesterday' })).rejects.toThrow(/since must be an ISO time/);
  });

  it('stores a retried append once and returns the stored records', async () => {
    const first = await store.append(story.slice(0, 3));
    // The activity is retried after a timeout, with one more entry than before; the stored versions win.
    const retried = await store.append([{ ...story[1]!, reason: 'retried' }, story[2]!, story[3]!]);

    expect(retried.slice(0, 2)).toEqual(first.slice(1, 3));
    expect(retried[2]).toMatchObject({ seq: 4, id: 'rel-1#4', prevHash: first[2]?.hash });
    const duplicate = await store.append([story[4]!, story[4]!]);
    expect(duplicate[0]).toEqual(duplicate[1]);

    const records = await store.list();
    expect(records.map((r) => r.id)).toEqual(story.map((e) => e.id));
    expect(records[1]?.reason).toBeUndefined();
    expect(await store.verify()).toMatchObject({ ok: true, records: 5, head: records[4]?.hash });
  });

  it('verifies an untouched trail, empty or not, and again after more appends', async () => {
    expect(await store.verify()).toMatchObject({ ok: true, records: 0 });
    const appended = await store.append(story.slice(0, 3));
    expect(await store.verify()).toMatchObject({ ok: true, records: 3, head: appended[2]?.hash });
    const more = await store.append(story.slice(3));
    expect(await store.verify()).toMatchObject({ ok: true, records: 5, head: more[1]?.hash });
  });

  it('names a record whose reason or details were edited behind its back', async () => {
    await store.append(story);
    await tamper(db, `UPDATE ${TABLE} SET reason = 'canary skipped' WHERE seq = 3`);
    expect(await store.verify()).toMatchObject({
      ok: false,
      records: 5,
      problems: [
        {
          seq: 3,
          kind: 'modified',
          message: 'record 3 (rel-1#3) was modified: its hash no longer matches its contents',
        },
      ],
    });

    await tamper(db, `UPDATE ${TABLE} SET reason = 'canary healthy' WHERE seq = 3`);
    expect((await store.verify()).ok).toBe(true);
    await tamper(db, `UPDATE ${TABLE} SET details = jsonb_set(details, '{errorRate}', '0.2') WHERE seq = 3`);
    const verdict = await store.verify();
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.problems.map((p) => [p.seq, p.kind])).toEqual([[3, 'modified']]);
  });

  it('names the gap a deleted record leaves', async () => {
    await store.append(story);
    await tamper(db, `DELETE FROM ${TABLE} WHERE seq = 2`);
    expect(await store.verify()).toMatchObject({
      ok: false,
      records: 4,
      problems: [
        {
          seq: 2,
          kind: 'deleted',
          message: 'record 2 is missing: deleted from between record 1 (rel-1#1) and record 3 (rel-1#3)',
        },
      ],
    });

    await tamper(db, `DELETE FROM ${TABLE} WHERE seq IN (1, 3)`);
    const verdict = await store.verify();
    expect(!verdict.ok && verdict.problems.map((p) => p.message)).toEqual([
      'records 1 to 3 are missing: deleted from between the start of the trail and record 4 (rel-1#4)',
    ]);
  });

  it('catches an edited hash column, and an edit whose hash was recomputed', async () => {
    await store.append(story);
    await tamper(db, `UPDATE ${TABLE} SET hash = $1 WHERE seq = 3`, ['f'.repeat(64)]);
    let verdict = await store.verify();
    expect(!verdict.ok && verdict.problems).toEqual([
      { seq: 3, kind: 'modified', message: 'record 3 (rel-1#3) was modified: its hash no longer matches its contents' },
      {
        seq: 4,
        kind: 'broken-chain',
        message: "record 4 (rel-1#4) does not follow record 3 (rel-1#3): its prev_hash is not that record's hash",
      },
    ]);

    // A careful attacker rewrites record 3 and gives it a matching hash: the next record still points at the original.
    const original = (await store.list())[2]!;
    const forged = { ...original, reason: 'canary skipped' };
    await tamper(db, `UPDATE ${TABLE} SET reason = $1, hash = $2 WHERE seq = 3`, [
      forged.reason,
      auditRecordHash(forged),
    ]);
    verdict = await store.verify();
    expect(!verdict.ok && verdict.problems.map((p) => [p.seq, p.kind])).toEqual([[4, 'broken-chain']]);
  });

  it('catches two records swapped in order', async () => {
    await store.append(story);
    await tamper(db, `UPDATE ${TABLE} SET seq = 1000 WHERE seq = 2`);
    await tamper(db, `UPDATE ${TABLE} SET seq = 2 WHERE seq = 3`);
    await tamper(db, `UPDATE ${TABLE} SET seq = 3 WHERE seq = 1000`);
    const verdict = await store.verify();
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.problems.filter((p) => p.kind === 'modified').map((p) => p.message)).toEqual([
      'record 2 (rel-1#3) was modified: its hash no longer matches its contents',
      'record 3 (rel-1#2) was modified: its hash no longer matches its contents',
    ]);
  });

  it('cannot see records cut from the end, but the head it reported before changes', async () => {
    await store.append(story);
    const before = await store.verify();
    await tamper(db, `DELETE FROM ${TABLE} WHERE seq = 5`);
    const after = await store.verify();
    expect(after).toMatchObject({ ok: true, records: 4 });
    expect(after.ok && before.ok && after.head !== before.head).toBe(true);
  });

  it('refuses UPDATE, DELETE and TRUNCATE through ordinary SQL', async () => {
    await store.append(story);
    await expect(db.query(`UPDATE ${TABLE} SET reason = 'oops' WHERE seq = 3`)).rejects.toThrow(
      /the audit trail is append-only/,
    );
    await expect(db.query(`DELETE FROM ${TABLE} WHERE seq = 2`)).rejects.toThrow(/the audit trail is append-only/);
    await expect(db.query(`TRUNCATE ${TABLE}`)).rejects.toThrow(/the audit trail is append-only/);
    expect(await store.list()).toHaveLength(5);
    expect((await store.verify()).ok).toBe(true);
  });

  it('keeps nested, unicode and numeric details exactly, and they verify', async () => {
    const details = {
      zeta: 'last key first',
      message: 'déploiement réussi ✅ — 部署成功 — נפרס — 🚀🇯🇵',
      'ключ с пробелами': { nested: { deeper: [1, 'two', { three: 3 }, [], {}] } },
      numbers: [0, -1, 0.1, 0.30000000000000004, 1e-7, 1e21, 2 ** 53 + 2, -273.15, 5e-324],
      flags: { on: true, off: false, none: null },
      empty: '',
      emoji: { '👍': 'a key of one astral character', a: 'and one of ascii' },
    };
    const [appended] = await store.append([{ ...story[0]!, details }]);
    const [listed] = await store.list();

    expect(appended?.details).toEqual(details);
    expect(listed?.details).toEqual(details);
    expect(listed?.hash).toBe(appended?.hash);
    expect(await store.verify()).toMatchObject({ ok: true, records: 1 });
  });

  it('refuses entries that would not read back as written, and appends nothing of their batch', async () => {
    const attempts: [AuditEntry, RegExp][] = [
      [{ ...story[1]!, at: 'yesterday' }, /cannot append audit entry 2 \(rel-1#2\):[\s\S]*at/],
      [{ ...story[1]!, reason: 'nul\u0000byte' }, /well-formed Unicode without NUL/],
      [{ ...story[1]!, details: { ratio: NaN } }, /details\.ratio is NaN/],
      [{ ...story[1]!, details: { when: new Date() } }, /details\.when is a Date, not a plain object/],
      [{ ...story[1]!, details: { list: [1, undefined] } }, /details\.list\[1\] is undefined/],
      [{ ...story[1]!, actor: '' }, /actor/],
    ];
    for (const [bad, error] of attempts) await expect(store.append([story[0]!, bad])).rejects.toThrow(error);
    expect(await store.list()).toEqual([]);
  });

  it('continues the chain after the database is closed and opened again', async () => {
    const first = await store.append(story.slice(0, 2));
    await db.close();
    const reopened = new SqlAuditStore(await target.open());
    const [third] = await reopened.append([story[2]!]);
    expect(third).toMatchObject({ seq: 3, prevHash: first[1]?.hash });
    expect(await reopened.verify()).toMatchObject({ ok: true, records: 3 });
  });
});

/**
 * Rewrites record `seq` with `change` and recomputes every hash from there on, directly in the database: the chain
 * is consistent again, as a careful attacker with superuser rights would leave it.
 */
async function rewriteAndRechain(db: SqlDatabase, store: SqlAuditStore, seq: number, change: Partial<AuditRecord>) {
  let prevHash: string | undefined;
  for (const record of await store.list()) {
    if (record.seq < seq) continue;
    const edited = { ...record, ...(record.seq === seq ? change : {}), prevHash: prevHash ?? record.prevHash };
    const hash = auditRecordHash(edited);
    await tamper(db, `UPDATE ${TABLE} SET actor = $1, reason = $2, prev_hash = $3, hash = $4 WHERE seq = $5`, [
      edited.actor,
      edited.reason ?? null,
      edited.prevHash,
      hash,
      record.seq,
    ]);
    prevHash = hash;
  }
}

describe.each(backends)('audit trail with signed checkpoints on $name', ({ target: createTarget }) => {
  let target: Target;
  let db: SqlDatabase;
  let signer: AuditSigner;
  let store: SqlAuditStore;
  let keyDir: string;

  beforeEach(async () => {
    target = await createTarget();
    db = await target.open();
    keyDir = await mkdtemp(join(tmpdir(), 'audit-key-'));
    signer = loadOrCreateAuditSigningKey(join(keyDir, 'audit-signing.key'));
    store = new SqlAuditStore(db, { signer });
  });
  afterEach(async () => {
    await target.dispose();
    await rm(keyDir, { recursive: true, force: true });
  });

  it('anchors every append batch, and says so', async () => {
    await store.append(story.slice(0, 2));
    await store.append(story.slice(2));
    const verdict = await store.verify();
    expect(verdict).toMatchObject({
      ok: true,
      records: 5,
      anchoring: { checkpoints: 2, anchored: 5, unanchored: 0, trustedKeyIds: [signer.keyId] },
    });
    expect(verdict.anchoring?.latest).toMatchObject({ number: 2, fromSeq: 3, toSeq: 5, keyId: signer.keyId });
    expect(verdict.anchoring?.signingKey?.publicKeyPem).toBe(signer.publicKeyPem);
  });

  it('names the first record of a rewrite whose sha256 chain was recomputed in the database', async () => {
    await store.append(story.slice(0, 3));
    await store.append(story.slice(3));
    // Who approved the gate (record 2) is changed, and every hash after it recomputed: the chain alone is fine.
    await rewriteAndRechain(db, store, 2, { actor: 'mallory' });
    const chainOnly = await new SqlAuditStore(db).verify();
    expect(!chainOnly.ok && chainOnly.problems.filter((p) => !p.kind.endsWith('checkpoint'))).toEqual([]);

    const verdict = await store.verify();
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.problems[0]).toMatchObject({
      seq: 2,
      kind: 'rewritten',
      id: 'rel-1#2',
      action: 'gate.approved',
    });
    expect(!verdict.ok && verdict.problems[0]?.message).toMatch(
      /^record 2 \(rel-1#2, gate\.approved\) no longer matches checkpoint 1 /,
    );
    expect(!verdict.ok && verdict.problems.map((p) => [p.seq, p.kind])).toEqual([
      [2, 'rewritten'],
      [3, 'rechained'],
    ]);
  });

  it('fails a forged checkpoint and a deleted one by number, and sees records cut from the end', async () => {
    for (const entry of story) await store.append([entry]);
    await tamper(db, `UPDATE ${TABLE}_cp SET signature = $1 WHERE number = 2`, [
      Buffer.alloc(64, 7).toString('base64'),
    ]);
    let verdict = await store.verify();
    expect(!verdict.ok && verdict.problems.map((p) => [p.kind, p.checkpoint])).toEqual([['bad-checkpoint', 2]]);

    await tamper(db, `DELETE FROM ${TABLE}_cp WHERE number = 2`);
    verdict = await store.verify();
    expect(!verdict.ok && verdict.problems.map((p) => p.message)).toEqual([
      'checkpoint 2 is missing: deleted from the checkpoints table, so record 2 lost its signature',
    ]);

    await tamper(db, `DELETE FROM ${TABLE} WHERE seq = 5`);
    verdict = await store.verify();
    expect(!verdict.ok && verdict.problems.map((p) => p.kind)).toEqual(['missing-checkpoint', 'truncated']);
  });

  it('refuses changes to checkpoints through ordinary SQL', async () => {
    await store.append(story);
    await expect(db.query(`DELETE FROM ${TABLE}_cp`)).rejects.toThrow(/the audit trail is append-only/);
    await expect(db.query(`UPDATE ${TABLE}_cp SET at = 'x'`)).rejects.toThrow(/the audit trail is append-only/);
  });

  it('verifies a trail written before checkpoints as not anchored, and anchors it with the next append', async () => {
    await new SqlAuditStore(db).append(story.slice(0, 4));
    const before = await store.verify();
    expect(before).toMatchObject({ ok: true, records: 4, anchoring: { checkpoints: 0, unanchored: 4 } });
    expect(before.anchoring?.summary).toMatch(/^not anchored/);

    await store.append(story.slice(4));
    expect(await store.verify()).toMatchObject({ ok: true, anchoring: { checkpoints: 1, anchored: 5, unanchored: 0 } });
  });
});

describe('audit trail on PostgreSQL, appended to from many connections', () => {
  let target: Target;
  beforeEach(async () => {
    target = await postgresTarget();
  });
  afterEach(async () => {
    await target.dispose();
  });

  it('20 concurrent appenders get seq 1..20 with no gap and one valid chain', async () => {
    // Separate pools, so separate connections, and separate stores that each create the table on first use.
    const stores = await Promise.all(Array.from({ length: 20 }, async () => new SqlAuditStore(await target.open())));
    const appended = await Promise.all(
      stores.map((s, i) =>
        s.append([
          { id: `wf-${i}#1`, at: minutes(i), actor: 'engine', action: 'region.promoted', service: 'checkout' },
        ]),
      ),
    );

    const records = await stores[0]!.list();
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(appended.map(([r]) => r?.seq)).size).toBe(20);
    expect(await stores[0]!.verify()).toMatchObject({ ok: true, records: 20, head: records[19]?.hash });
  });

  it('keeps each concurrent batch together in the chain', async () => {
    const db = await target.open();
    const store = new SqlAuditStore(db);
    const batches = await Promise.all(
      Array.from({ length: 10 }, (_, b) =>
        new SqlAuditStore(db).append(
          [0, 1, 2].map((n) => ({
            id: `rel-${b}#${n}`,
            at: minutes(n),
            actor: 'engine',
            action: 'region.promoted',
            service: `svc-${b}`,
          })),
        ),
      ),
    );
    for (const batch of batches) expect(batch.map((r) => r.seq - batch[0]!.seq)).toEqual([0, 1, 2]);
    expect(await store.verify()).toMatchObject({ ok: true, records: 30 });
  });
});
