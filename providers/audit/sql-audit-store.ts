// The audit trail on PostgreSQL or PGlite. One table, seq assigned by the store (last seq + 1 under a transaction-level
// advisory lock, never a serial, so a gap can only be a deletion); each row stores its prev_hash and hash, where
//   hash = sha256 hex of the canonical JSON of { seq, id, at, actor, action, service, releaseId?, gate?, region?,
//          beforeVersion?, afterVersion?, reason?, details?, prevHash }
// Canonical JSON is RFC 8785 (JCS) for the values accepted here: keys sorted by UTF-16 code units at every level,
// absent fields omitted, no whitespace, ECMAScript number and string formatting. Triggers refuse UPDATE, DELETE and
// TRUNCATE, so rewriting history takes superuser rights; verify() catches what such a user changes.
//
// With a signing key, each append also writes a signed checkpoint of the records it added, in the same transaction,
// into a second append-only table (<table>_cp); see checkpoints.ts. Per append rather than every N records: no
// record is ever unanchored once its append returned, and no timer or background job is needed; it costs one ed25519
// signature (tens of microseconds) and one row per batch, and the engine appends a few records per batch.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { SqlDatabase, SqlQueryable } from '../sql/database';
import type { AuditEntry, AuditFilter, AuditProblem, AuditRecord, AuditStore, AuditVerification } from './audit-store';
import { AnchorCheck, signCheckpoint } from './checkpoints';
import { GENESIS_HASH, auditRecordHash } from './record-hash';
import type { AuditPublicKey, AuditSigner } from './signing-key';
import type { AuditCheckpoint } from '../../domain/audit';

export { GENESIS_HASH, auditRecordHash };

// Text that PostgreSQL stores byte for byte: it refuses NUL, and the driver would turn a lone surrogate into U+FFFD,
// silently changing what was hashed.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function storableText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}
const Text = z.string().refine(storableText, 'must be well-formed Unicode without NUL characters');
const Name = Text.refine((text) => text.length > 0, 'must not be empty');
const IsoTime = z.iso.datetime({ offset: true });

const EntryFields = z.object({
  id: Name,
  at: IsoTime,
  actor: Name,
  action: Name,
  service: Name,
  releaseId: Text.optional(),
  gate: Text.optional(),
  region: Text.optional(),
  beforeVersion: Text.optional(),
  afterVersion: Text.optional(),
  reason: Text.optional(),
});

const OPTIONAL_COLUMNS = [
  ['releaseId', 'release_id'],
  ['gate', 'gate'],
  ['region', 'region'],
  ['beforeVersion', 'before_version'],
  ['afterVersion', 'after_version'],
  ['reason', 'reason'],
] as const;

/**
 * A deep copy of `value` as plain JSON, or an error naming the first value that jsonb would not give back unchanged
 * (so its hash would no longer verify): undefined in an array, NaN, a Date or class instance, a cycle, bad text.
 */
function plainJson(value: unknown, path: string, ancestors: object[] = []): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    if (!storableText(value)) throw new Error(`${path} must be well-formed Unicode without NUL characters`);
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${path} is ${value}, which JSON cannot hold`);
    return value === 0 ? 0 : value; // -0 is stored as 0
  }
  if (typeof value !== 'object') throw new Error(`${path} is a ${typeof value}, which JSON cannot hold`);
  if (ancestors.includes(value)) throw new Error(`${path} refers to itself`);
  const inside = [...ancestors, value];
  if (Array.isArray(value)) {
    return Array.from(value as unknown[], (item, index) => {
      if (item === undefined) throw new Error(`${path}[${index}] is undefined, which a JSON array cannot hold`);
      return plainJson(item, `${path}[${index}]`, inside);
    });
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new Error(`${path} is a ${value.constructor?.name ?? 'class instance'}, not a plain object`);
  }
  // Object.fromEntries defines properties, so a '__proto__' key stays a key instead of replacing the prototype.
  // Properties set to undefined are dropped, as JSON.stringify drops them.
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .map(([key, item]) => {
        if (!storableText(key)) throw new Error(`a key in ${path} must be well-formed Unicode without NUL characters`);
        return [key, plainJson(item, `${path}.${key}`, inside)];
      }),
  );
}

type Prepared = Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>;

/** The entry as it will be stored and hashed, or an error naming the entry and what is wrong with it. */
function prepare(entry: AuditEntry, index: number): Prepared {
  const label = `audit entry ${index + 1}${typeof entry?.id === 'string' ? ` (${entry.id})` : ''}`;
  const parsed = EntryFields.safeParse(entry);
  if (!parsed.success) throw new Error(`cannot append ${label}: ${z.prettifyError(parsed.error)}`);
  const prepared: Prepared = {
    id: parsed.data.id,
    at: parsed.data.at,
    actor: parsed.data.actor,
    action: parsed.data.action,
    service: parsed.data.service,
  };
  for (const [field] of OPTIONAL_COLUMNS) {
    const value = parsed.data[field];
    if (value !== undefined) prepared[field] = value;
  }
  if (entry.details !== undefined) {
    const details = entry.details as unknown;
    if (details === null || typeof details !== 'object' || Array.isArray(details)) {
      throw new Error(`cannot append ${label}: details must be an object`);
    }
    try {
      prepared.details = plainJson(details, 'details') as Record<string, unknown>;
    } catch (err) {
      throw new Error(`cannot append ${label}: ${(err as Error).message}`);
    }
  }
  return prepared;
}

interface Row {
  seq: string | number | bigint;
  id: string;
  at: string;
  actor: string;
  action: string;
  service: string;
  release_id: string | null;
  gate: string | null;
  region: string | null;
  before_version: string | null;
  after_version: string | null;
  reason: string | null;
  details: Record<string, unknown> | null;
  prev_hash: string;
  hash: string;
}

const COLUMNS =
  'seq, id, at, actor, action, service, release_id, gate, region, before_version, after_version, reason, details, prev_hash, hash';

function fromRow(row: Row): AuditRecord {
  const record: AuditRecord = {
    seq: Number(row.seq), // pg returns bigint as a string, PGlite as a bigint
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    service: row.service,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
  for (const [field, column] of OPTIONAL_COLUMNS) {
    const value = row[column];
    if (value !== null) record[field] = value;
  }
  if (row.details !== null) record.details = row.details;
  return record;
}

async function inTransaction<T>(session: SqlQueryable, fn: () => Promise<T>): Promise<T> {
  // READ COMMITTED whatever the server default: each statement then sees what the previous lock holder committed.
  // Under REPEATABLE READ the snapshot would date from before the lock was granted, and seq would collide.
  await session.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    const result = await fn();
    await session.query('COMMIT');
    return result;
  } catch (err) {
    // PGlite reuses its only connection, so it must not be left inside a failed transaction.
    await session.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

const VERIFY_PAGE = 1000;
/** Most records one checkpoint lists (a first checkpoint of an older trail is split into checkpoints this size). */
const CHECKPOINT_MAX_RECORDS = 1000;

interface CheckpointRow {
  number: string | number | bigint;
  from_seq: string | number | bigint;
  to_seq: string | number | bigint;
  head: string;
  hashes: string[];
  at: string;
  key_id: string;
  signature: string;
}

const CHECKPOINT_COLUMNS = 'number, from_seq, to_seq, head, hashes, at, key_id, signature';

export interface SqlAuditStoreOptions {
  table?: string;
  /** Signs a checkpoint after each append; without it the trail is chained only. */
  signer?: AuditSigner;
  /** Further public keys whose checkpoints verify() accepts (the signer's own key is always trusted). */
  trustedKeys?: AuditPublicKey[];
}

/** The audit trail in one PostgreSQL (or PGlite) table, created with its append-only triggers on first use. */
export class SqlAuditStore implements AuditStore {
  private readonly table: string;
  private readonly name: string;
  private readonly checkpointTable: string;
  private readonly lockKey: string;
  private readonly signer: AuditSigner | undefined;
  private readonly trusted: Map<string, AuditPublicKey>;
  private schema: Promise<void> | undefined;

  constructor(
    private readonly db: SqlDatabase,
    options: SqlAuditStoreOptions = {},
  ) {
    this.name = options.table ?? 'release_engine_audit';
    this.signer = options.signer;
    this.trusted = new Map(
      [...(options.trustedKeys ?? []), ...(this.signer ? [this.signer] : [])].map((k) => [k.keyId, k]),
    );
    // Short enough that the derived function and trigger names fit PostgreSQL's 63-byte identifiers.
    if (!/^[a-z_][a-z0-9_]{0,47}$/.test(this.name)) {
      throw new Error(`audit table name ${JSON.stringify(this.name)} must be lowercase letters, digits, _ (max 48)`);
    }
    this.table = `"${this.name}"`;
    this.checkpointTable = `"${this.name}_cp"`;
    // One lock per table (advisory lock keys are per database), shared by every process appending to it.
    this.lockKey = createHash('sha256')
      .update(`release-engine-audit:${this.name}`)
      .digest()
      .readBigInt64BE(0)
      .toString();
  }

  async append(entries: AuditEntry[]): Promise<AuditRecord[]> {
    // Everything is checked before the database is touched: a bad entry appends nothing of its batch.
    const prepared = entries.map(prepare);
    if (prepared.length === 0) return [];
    await this.ready();
    return this.db.session((session) =>
      inTransaction(session, async () => {
        await this.lock(session);
        const ids = [...new Set(prepared.map((entry) => entry.id))];
        const existing = await session.query<Row>(`SELECT ${COLUMNS} FROM ${this.table} WHERE id = ANY($1::text[])`, [
          ids,
        ]);
        const byId = new Map(existing.rows.map((row) => [row.id, fromRow(row)]));
        const last = await session.query<Pick<Row, 'seq' | 'hash'>>(
          `SELECT seq, hash FROM ${this.table} ORDER BY seq DESC LIMIT 1`,
        );
        let seq = last.rows[0] ? Number(last.rows[0].seq) : 0;
        let prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
        const appended: AuditRecord[] = [];
        const fresh: AuditRecord[] = [];
        for (const entry of prepared) {
          // A retried activity (or the same id twice in one batch) gets the stored record back, whatever it now says.
          const stored = byId.get(entry.id);
          if (stored) {
            appended.push(stored);
            continue;
          }
          seq += 1;
          const record: AuditRecord = { ...entry, seq, prevHash, hash: auditRecordHash({ ...entry, seq, prevHash }) };
          await session.query(
            `INSERT INTO ${this.table} (${COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15)`,
            [
              seq,
              record.id,
              record.at,
              record.actor,
              record.action,
              record.service,
              ...OPTIONAL_COLUMNS.map(([field]) => record[field] ?? null),
              record.details === undefined ? null : JSON.stringify(record.details),
              record.prevHash,
              record.hash,
            ],
          );
          byId.set(record.id, record);
          appended.push(record);
          fresh.push(record);
          prevHash = record.hash;
        }
        if (this.signer && fresh.length > 0) await this.writeCheckpoints(session, this.signer, fresh);
        return appended;
      }),
    );
  }

  async list(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (filter.service !== undefined) conditions.push(`service = ${param(filter.service)}`);
    if (filter.releaseId !== undefined) conditions.push(`release_id = ${param(filter.releaseId)}`);
    if (filter.actions !== undefined) conditions.push(`action = ANY(${param(filter.actions)}::text[])`);
    if (filter.since !== undefined) {
      if (!IsoTime.safeParse(filter.since).success) {
        throw new Error(`since must be an ISO time with a zone (e.g. 2026-01-01T00:00:00Z), not ${filter.since}`);
      }
      // Compared as instants, not as text: writers may use different offsets or precisions.
      conditions.push(`at::timestamptz >= ${param(filter.since)}::timestamptz`);
    }
    let limit = '';
    if (filter.limit !== undefined) {
      if (!Number.isSafeInteger(filter.limit) || filter.limit < 0) {
        throw new Error(`limit must be a whole number of records, not ${filter.limit}`);
      }
      limit = ` LIMIT ${param(filter.limit)}`;
    }
    await this.ready();
    const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.table}${where} ORDER BY seq${limit}`,
      params,
    );
    return rows.map(fromRow);
  }

  async verify(): Promise<AuditVerification> {
    await this.ready();
    const problems: AuditProblem[] = [];
    const anchors = new AnchorCheck(this.name, this.trusted, this.checkpointReader());
    let records = 0;
    let previous: AuditRecord | undefined;
    // Page by seq rather than read the table at once; appends made meanwhile only extend the chain.
    for (;;) {
      const { rows } = await this.db.query<Row>(
        `SELECT ${COLUMNS} FROM ${this.table} WHERE seq > $1 ORDER BY seq LIMIT ${VERIFY_PAGE}`,
        [previous?.seq ?? Number.MIN_SAFE_INTEGER],
      );
      for (const row of rows) {
        const record = fromRow(row);
        problems.push(...checkLink(previous, record));
        await anchors.record(record);
        if (auditRecordHash(record) !== record.hash) {
          problems.push({
            seq: record.seq,
            kind: 'modified',
            message: `record ${describe(record)} was modified: its hash no longer matches its contents`,
          });
        }
        previous = record;
        records += 1;
      }
      if (rows.length < VERIFY_PAGE) break;
    }
    const anchoring = await anchors.finish(this.signer);
    problems.push(...anchors.problems);
    if (problems.length > 0) {
      // In trail order, so the first problem names the first record that no longer matches.
      problems.sort((a, b) => a.seq - b.seq);
      return { ok: false, records, problems, anchoring };
    }
    return previous ? { ok: true, records, head: previous.hash, anchoring } : { ok: true, records, anchoring };
  }

  /** Signs checkpoints up to the last of `fresh` (just inserted, in this transaction, under the append lock). */
  private async writeCheckpoints(session: SqlQueryable, signer: AuditSigner, fresh: AuditRecord[]): Promise<void> {
    const last = await session.query<Pick<CheckpointRow, 'number' | 'to_seq'>>(
      `SELECT number, to_seq FROM ${this.checkpointTable} ORDER BY number DESC LIMIT 1`,
    );
    let number = last.rows[0] ? Number(last.rows[0].number) : 0;
    const signedUpTo = last.rows[0] ? Number(last.rows[0].to_seq) : 0;
    // Records before this batch that no checkpoint covers (a trail older than checkpoints, or appended by a worker
    // without a key) are anchored now, as they stand.
    const older = await session.query<Pick<Row, 'seq' | 'hash'>>(
      `SELECT seq, hash FROM ${this.table} WHERE seq > $1 AND seq < $2 ORDER BY seq`,
      [signedUpTo, fresh[0]?.seq ?? 0],
    );
    const covered = [...older.rows.map((row) => ({ seq: Number(row.seq), hash: row.hash })), ...fresh];
    const at = new Date().toISOString();
    for (let i = 0; i < covered.length; i += CHECKPOINT_MAX_RECORDS) {
      number += 1;
      const checkpoint = signCheckpoint(signer, {
        trail: this.name,
        number,
        at,
        records: covered.slice(i, i + CHECKPOINT_MAX_RECORDS),
      });
      await session.query(
        `INSERT INTO ${this.checkpointTable} (${CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)`,
        [
          checkpoint.number,
          checkpoint.fromSeq,
          checkpoint.toSeq,
          checkpoint.head,
          JSON.stringify(checkpoint.hashes),
          checkpoint.at,
          checkpoint.keyId,
          checkpoint.signature,
        ],
      );
    }
  }

  /** Reads checkpoints in order, a page at a time, as verify() needs them. */
  private checkpointReader(): () => Promise<AuditCheckpoint | undefined> {
    let page: AuditCheckpoint[] = [];
    let after = 0;
    let done = false;
    return async () => {
      if (page.length === 0 && !done) {
        const { rows } = await this.db.query<CheckpointRow>(
          `SELECT ${CHECKPOINT_COLUMNS} FROM ${this.checkpointTable} WHERE number > $1 ORDER BY number LIMIT 100`,
          [after],
        );
        page = rows.map((row) => ({
          trail: this.name,
          number: Number(row.number),
          fromSeq: Number(row.from_seq),
          toSeq: Number(row.to_seq),
          head: row.head,
          hashes: row.hashes,
          at: row.at,
          keyId: row.key_id,
          signature: row.signature,
        }));
        if (rows.length < 100) done = true;
        after = page.at(-1)?.number ?? after;
      }
      return page.shift();
    };
  }

  /** Creates the table, its indexes and its append-only triggers if missing (once per store; retried after a failure). */
  private ready(): Promise<void> {
    this.schema ??= this.createSchema().catch((err: unknown) => {
      this.schema = undefined;
      throw err;
    });
    return this.schema;
  }

  private async createSchema(): Promise<void> {
    const { table, name } = this;
    await this.db.session((session) =>
      inTransaction(session, async () => {
        // Under the append lock: two processes starting at once would otherwise race on CREATE TABLE IF NOT EXISTS.
        await this.lock(session);
        await session.exec(`
          CREATE TABLE IF NOT EXISTS ${table} (
            seq bigint PRIMARY KEY CHECK (seq > 0),
            id text NOT NULL UNIQUE,
            at text NOT NULL,
            actor text NOT NULL,
            action text NOT NULL,
            service text NOT NULL,
            release_id text,
            gate text,
            region text,
            before_version text,
            after_version text,
            reason text,
            details jsonb,
            prev_hash text NOT NULL,
            hash text NOT NULL
          );
          CREATE INDEX IF NOT EXISTS "${name}_service_idx" ON ${table} (service, seq);
          CREATE INDEX IF NOT EXISTS "${name}_release_idx" ON ${table} (release_id, seq);
          CREATE INDEX IF NOT EXISTS "${name}_action_idx" ON ${table} (action, seq);
          CREATE TABLE IF NOT EXISTS ${this.checkpointTable} (
            number bigint PRIMARY KEY CHECK (number > 0),
            from_seq bigint NOT NULL,
            to_seq bigint NOT NULL,
            head text NOT NULL,
            hashes jsonb NOT NULL,
            at text NOT NULL,
            key_id text NOT NULL,
            signature text NOT NULL
          );
          CREATE OR REPLACE FUNCTION "${name}_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
              USING HINT = 'Records are never changed or removed; append a new record that corrects or reverses one.';
          END
          $$;
        `);
        // Created only when missing, so starting a store never touches triggers that exist.
        for (const [tableName, prefix] of [
          [table, name],
          [this.checkpointTable, `${name}_cp`],
        ] as const) {
          const { rows } = await session.query<{ tgname: string }>(
            'SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal',
            [tableName],
          );
          const present = new Set(rows.map((row) => row.tgname));
          if (!present.has(`${prefix}_append_only`)) {
            await session.exec(
              `CREATE TRIGGER "${prefix}_append_only" BEFORE UPDATE OR DELETE ON ${tableName}
               FOR EACH ROW EXECUTE FUNCTION "${name}_refuse_change"()`,
            );
          }
          if (!present.has(`${prefix}_no_truncate`)) {
            await session.exec(
              `CREATE TRIGGER "${prefix}_no_truncate" BEFORE TRUNCATE ON ${tableName}
               FOR EACH STATEMENT EXECUTE FUNCTION "${name}_refuse_change"()`,
            );
          }
        }
      }),
    );
  }

  private async lock(session: SqlQueryable): Promise<void> {
    await session.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.lockKey]);
  }
}

function describe(record: AuditRecord): string {
  return `${record.seq} (${record.id})`;
}

/** What is wrong, if anything, with the link from `previous` (undefined: the start of the trail) to `record`. */
function checkLink(previous: AuditRecord | undefined, record: AuditRecord): AuditProblem[] {
  const expectedSeq = (previous?.seq ?? 0) + 1;
  if (record.seq > expectedSeq) {
    // The gap explains the prev_hash mismatch that comes with it; it is reported once, as the deletion.
    const missing =
      record.seq - 1 === expectedSeq
        ? `record ${expectedSeq} is missing`
        : `records ${expectedSeq} to ${record.seq - 1} are missing`;
    const after = previous ? `record ${describe(previous)}` : 'the start of the trail';
    return [
      {
        seq: expectedSeq,
        kind: 'deleted',
        message: `${missing}: deleted from between ${after} and record ${describe(record)}`,
      },
    ];
  }
  if (record.prevHash === (previous?.hash ?? GENESIS_HASH)) return [];
  const message = previous
    ? `record ${describe(record)} does not follow record ${describe(previous)}: its prev_hash is not that record's hash`
    : `record ${describe(record)} does not start the chain: its prev_hash is not ${GENESIS_HASH.length} zeros`;
  return [{ seq: record.seq, kind: 'broken-chain', message }];
}
