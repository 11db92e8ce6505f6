// Applies and reverts a service's schema migrations on PostgreSQL (or PGlite), tracked per service in one table.
//
// Why our own runner: we need, together, expand/contract phases, up AND down files, checksums that refuse an edited
// applied migration, a PostgreSQL advisory lock, one transaction per migration with lock_timeout and
// statement_timeout, and a dry run that really applies inside a transaction and rolls back while reporting the schema
// changes. node-pg-migrate has the lock and per-migration transactions but no checksums, and its dry run only prints
// SQL; postgres-migrations has checksums and locking but no down migrations. So this is a small runner on the `pg`
// driver (and PGlite), which is the well-kept part.
//
// Migration files run inside the runner's transaction: they must not contain BEGIN/COMMIT or statements that refuse
// a transaction (CREATE INDEX CONCURRENTLY). On PGlite the timeouts are set but not enforced (WASM has no timer
// interrupt), and the advisory lock always succeeds because PGlite's single connection is already exclusive.
import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlDatabase, SqlQueryable } from '../sql/database';
import type { Migration, MigrationPhase } from './migrations';

export type { Migration, MigrationPhase } from './migrations';

export interface RunOptions {
  /** Migrations are tracked per service: one table can hold several services. */
  service: string;
  /** Recorded as who applied each migration; `down` reverts what this release applied. */
  releaseId: string;
  phase: MigrationPhase;
  dryRun?: boolean;
  /** SET LOCAL lock_timeout per migration (default 5000). */
  lockTimeoutMs?: number;
  /** SET LOCAL statement_timeout per migration (default 60000). */
  statementTimeoutMs?: number;
  /** How long to wait for another run's advisory lock on this service before failing (default 30000). */
  lockWaitMs?: number;
}

export interface SchemaChange {
  kind:
    | 'table-added'
    | 'table-removed'
    | 'column-added'
    | 'column-removed'
    | 'column-changed'
    | 'index-added'
    | 'index-removed';
  table: string;
  column?: string;
  name?: string;
  detail?: string;
}

export interface MigrationReport {
  phase: MigrationPhase;
  applied: string[];
  alreadyApplied: string[];
  reverted: string[];
  dryRun: boolean;
  changes: SchemaChange[];
}

export interface AppliedMigration {
  service: string;
  id: string;
  phase: MigrationPhase;
  checksum: string;
  releaseId: string;
  appliedAt: string;
}

/** An applied migration whose up SQL has changed since: applying the new text would diverge from the database. */
export class MigrationChecksumError extends Error {
  override readonly name = 'MigrationChecksumError';
  constructor(
    readonly migrationId: string,
    readonly appliedChecksum: string,
    readonly currentChecksum: string,
    service: string,
  ) {
    super(
      `migration ${migrationId} of ${service} was edited after it was applied: its up SQL now has checksum ` +
        `${currentChecksum}, but ${appliedChecksum} was applied; nothing was applied (add a new migration instead)`,
    );
  }
}

/** Another run held this service's migration lock for longer than lockWaitMs. */
export class MigrationLockTimeoutError extends Error {
  override readonly name = 'MigrationLockTimeoutError';
}

/** A migration's SQL failed; its transaction was rolled back. `report` says what the run had done before it. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  constructor(
    readonly migrationId: string,
    readonly report: MigrationReport,
    message: string,
    /** The database's SQLSTATE, when it gave one. */
    readonly sqlState?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A down was asked of a migration that has no down file. */
export class IrreversibleMigrationError extends Error {
  override readonly name = 'IrreversibleMigrationError';
  constructor(
    readonly migrationId: string,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_TABLE = 'release_engine_migrations';
const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;
const DEFAULT_LOCK_WAIT_MS = 30_000;
const LOCK_POLL_MS = 100;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Step {
  migration: Migration;
  direction: 'up' | 'down';
}

interface TrackingRow {
  service: string;
  id: string;
  phase: MigrationPhase;
  checksum: string;
  release_id: string;
  applied_at: Date | string;
}

/** Orders ids by their numeric prefix (`0010` after `0009`), then by text. */
function byNumber(a: string, b: string): number {
  const x = /^\d+/.exec(a)?.[0];
  const y = /^\d+/.exec(b)?.[0];
  if (x !== undefined && y !== undefined && BigInt(x) !== BigInt(y)) return BigInt(x) < BigInt(y) ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function nonNegativeMs(value: number | undefined, fallback: number, option: string): number {
  const ms = value ?? fallback;
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`${option} must be a non-negative integer, got ${ms}`);
  return ms;
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Applies and reverts migrations of one phase for one service, under a per-service advisory lock. */
export class MigrationRunner {
  private readonly table: string;
  private readonly tableName: string;

  constructor(
    private readonly db: SqlDatabase,
    options: { table?: string } = {},
  ) {
    this.tableName = options.table ?? DEFAULT_TABLE;
    const parts = this.tableName.split('.');
    // The name is interpolated into SQL, so only plain identifiers (optionally schema-qualified) are allowed.
    if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
      throw new RangeError(`migration table name ${JSON.stringify(this.tableName)} is not a plain [schema.]identifier`);
    }
    this.table = parts.map((part) => `"${part}"`).join('.');
  }

  /** Applies the pending migrations of options.phase in order, each in its own transaction; applied ones are skipped. */
  async up(migrations: Migration[], options: RunOptions): Promise<MigrationReport> {
    return this.run(options, async (session) => {
      const applied = await this.verifiedApplied(session, migrations, options.service);
      const ofPhase = migrations.filter((m) => m.phase === options.phase).sort((a, b) => byNumber(a.id, b.id));
      const pending = ofPhase.filter((m) => !applied.has(m.id));
      return {
        alreadyApplied: ofPhase.filter((m) => applied.has(m.id)).map((m) => m.id),
        steps: pending.map((migration) => ({ migration, direction: 'up' as const })),
      };
    });
  }

  /** Reverts, newest first, the migrations of options.phase that `options.releaseId` applied (or only `ids`). */
  async down(migrations: Migration[], options: RunOptions & { ids?: string[] }): Promise<MigrationReport> {
    return this.run(options, async (session) => {
      const applied = await this.verifiedApplied(session, migrations, options.service);
      const wanted = options.ids ? new Set(options.ids) : undefined;
      // With ids, what to revert is named explicitly; ids that are not applied (any more) are skipped so a retried
      // down completes instead of failing.
      const targets = [...applied.values()]
        .filter((row) => row.phase === options.phase)
        .filter((row) => (wanted ? wanted.has(row.id) : row.release_id === options.releaseId))
        .map((row) => row.id)
        .sort(byNumber)
        .reverse();
      const byId = new Map(migrations.map((m) => [m.id, m]));
      const steps: Step[] = [];
      for (const id of targets) {
        const migration = byId.get(id);
        if (!migration) {
          throw new IrreversibleMigrationError(
            id,
            `cannot revert migration ${id} of ${options.service}: it is applied but not among the given migrations, ` +
              `so there is no down file for it; nothing was reverted`,
          );
        }
        if (migration.down === undefined) {
          throw new IrreversibleMigrationError(
            id,
            `cannot revert migration ${id} (${migration.phase}) of ${options.service}: it has no down file ` +
              `(migrations/${id}.${migration.phase}.down.sql); nothing was reverted`,
          );
        }
        steps.push({ migration, direction: 'down' });
      }
      return { alreadyApplied: [], steps };
    });
  }

  /** The migrations recorded as applied for `service`, in order. */
  async applied(service: string): Promise<AppliedMigration[]> {
    const exists = await this.db.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [this.table]);
    if (!exists.rows[0]?.oid) return [];
    const { rows } = await this.db.query<TrackingRow>(
      `SELECT service, id, phase, checksum, release_id, applied_at FROM ${this.table} WHERE service = $1`,
      [service],
    );
    return rows
      .sort((a, b) => byNumber(a.id, b.id))
      .map((row) => ({
        service: row.service,
        id: row.id,
        phase: row.phase,
        checksum: row.checksum,
        releaseId: row.release_id,
        appliedAt: new Date(row.applied_at).toISOString(),
      }));
  }

  /** Takes the lock, plans under it (so a run that waited sees what the other applied), then executes the plan. */
  private async run(
    options: RunOptions,
    plan: (session: SqlQueryable) => Promise<{ alreadyApplied: string[]; steps: Step[] }>,
  ): Promise<MigrationReport> {
    const timeouts = {
      lock: nonNegativeMs(options.lockTimeoutMs, DEFAULT_LOCK_TIMEOUT_MS, 'lockTimeoutMs'),
      statement: nonNegativeMs(options.statementTimeoutMs, DEFAULT_STATEMENT_TIMEOUT_MS, 'statementTimeoutMs'),
    };
    const lockWaitMs = nonNegativeMs(options.lockWaitMs, DEFAULT_LOCK_WAIT_MS, 'lockWaitMs');
    return this.db.session(async (session) => {
      await this.ensureTable(session);
      await this.lock(session, options.service, lockWaitMs);
      let failed = false;
      try {
        const { alreadyApplied, steps } = await plan(session);
        const report: MigrationReport = {
          phase: options.phase,
          applied: [],
          alreadyApplied,
          reverted: [],
          dryRun: options.dryRun ?? false,
          changes: [],
        };
        if (options.dryRun) await this.dryRun(session, steps, options, timeouts, report);
        else for (const step of steps) await this.execute(session, step, options, timeouts, report);
        return report;
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        await this.unlock(session, options.service, failed);
      }
    });
  }

  private async ensureTable(session: SqlQueryable): Promise<void> {
    // CREATE TABLE IF NOT EXISTS races with itself (duplicate pg_type row), and runs for different services do not
    // share a service lock, so creation takes its own short transaction-scoped lock.
    await session.query('BEGIN');
    try {
      await session.query(`SELECT pg_advisory_xact_lock(hashtext('release-engine/migrations-table'))`);
      await session.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
          service text NOT NULL,
          id text NOT NULL,
          phase text NOT NULL CHECK (phase IN ('expand', 'contract')),
          checksum text NOT NULL,
          release_id text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (service, id)
        )`,
      );
      await session.query('COMMIT');
    } catch (err) {
      await session.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  private async lock(session: SqlQueryable, service: string, lockWaitMs: number): Promise<void> {
    const deadline = Date.now() + lockWaitMs;
    for (;;) {
      const { rows } = await session.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(hashtext('release-engine/migrations/' || $1)) AS locked`,
        [service],
      );
      if (rows[0]?.locked) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new MigrationLockTimeoutError(
          `another migration run for ${service} still holds its lock after ${lockWaitMs}ms; nothing was applied`,
        );
      }
      await sleep(Math.min(LOCK_POLL_MS, left));
    }
  }

  private async unlock(session: SqlQueryable, service: string, failed: boolean): Promise<void> {
    try {
      await session.query(`SELECT pg_advisory_unlock(hashtext('release-engine/migrations/' || $1))`, [service]);
    } catch (err) {
      // After a failure the session is discarded (which releases the lock), and the original error matters more.
      if (!failed) throw err;
    }
  }

  /** Applied rows of the service, after refusing any applied migration whose up SQL no longer matches. */
  private async verifiedApplied(
    session: SqlQueryable,
    migrations: Migration[],
    service: string,
  ): Promise<Map<string, TrackingRow>> {
    const { rows } = await session.query<TrackingRow>(
      `SELECT service, id, phase, checksum, release_id, applied_at FROM ${this.table} WHERE service = $1`,
      [service],
    );
    const applied = new Map(rows.map((row) => [row.id, row]));
    for (const migration of migrations) {
      const row = applied.get(migration.id);
      if (row && row.checksum !== migration.checksum) {
        throw new MigrationChecksumError(migration.id, row.checksum, migration.checksum, service);
      }
    }
    return applied;
  }

  private async setTimeouts(session: SqlQueryable, timeouts: { lock: number; statement: number }): Promise<void> {
    // SET does not take bind parameters; the values are validated integers.
    await session.query(`SET LOCAL lock_timeout = ${timeouts.lock}`);
    await session.query(`SET LOCAL statement_timeout = ${timeouts.statement}`);
  }

  private async execute(
    session: SqlQueryable,
    step: Step,
    options: RunOptions,
    timeouts: { lock: number; statement: number },
    report: MigrationReport,
  ): Promise<void> {
    await session.query('BEGIN');
    try {
      await this.setTimeouts(session, timeouts);
      await this.runStep(session, step, options, timeouts, report);
      if (step.direction === 'up') {
        await session.query(
          `INSERT INTO ${this.table} (service, id, phase, checksum, release_id) VALUES ($1, $2, $3, $4, $5)`,
          [options.service, step.migration.id, step.migration.phase, step.migration.checksum, options.releaseId],
        );
      } else {
        await session.query(`DELETE FROM ${this.table} WHERE service = $1 AND id = $2`, [
          options.service,
          step.migration.id,
        ]);
      }
      await session.query('COMMIT');
    } catch (err) {
      await session.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    (step.direction === 'up' ? report.applied : report.reverted).push(step.migration.id);
  }

  /** Runs one migration's SQL; a database error becomes a MigrationFailedError carrying the report so far. */
  private async runStep(
    session: SqlQueryable,
    step: Step,
    options: RunOptions,
    timeouts: { lock: number; statement: number },
    report: MigrationReport,
  ): Promise<void> {
    const { migration, direction } = step;
    try {
      await session.exec(direction === 'up' ? migration.up : (migration.down ?? ''));
    } catch (err) {
      const state = sqlState(err);
      const reason = err instanceof Error ? err.message : String(err);
      const hint =
        state === '57014'
          ? ` (statement_timeout of ${timeouts.statement}ms exceeded)`
          : state === '55P03'
            ? ` (could not take a table lock within lock_timeout of ${timeouts.lock}ms)`
            : '';
      const verb = direction === 'up' ? 'migration' : 'down migration';
      const what = options.dryRun ? 'the dry run was rolled back' : 'it was rolled back';
      throw new MigrationFailedError(
        migration.id,
        { ...report, applied: [...report.applied], reverted: [...report.reverted] },
        `${verb} ${migration.id} (${migration.phase}) of ${options.service} failed and ${what}: ${reason}${hint}`,
        state,
        { cause: err },
      );
    }
  }

  /** Applies the steps in one transaction between two schema snapshots, then rolls everything back. */
  private async dryRun(
    session: SqlQueryable,
    steps: Step[],
    options: RunOptions,
    timeouts: { lock: number; statement: number },
    report: MigrationReport,
  ): Promise<void> {
    if (steps.length === 0) return;
    await session.query('BEGIN');
    try {
      const before = await this.snapshot(session);
      for (const step of steps) {
        await this.setTimeouts(session, timeouts);
        await this.runStep(session, step, options, timeouts, report);
        (step.direction === 'up' ? report.applied : report.reverted).push(step.migration.id);
      }
      report.changes = diffSchemas(before, await this.snapshot(session));
    } finally {
      await session.query('ROLLBACK');
    }
  }

  /** Tables, columns and indexes outside the system schemas, without the tracking table. */
  private async snapshot(session: SqlQueryable): Promise<Schema> {
    // The catalog rather than information_schema: information_schema hides tables the role has no privilege on and
    // spells types loosely (`character varying` without its length).
    const userRelation = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
      AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND c.oid IS DISTINCT FROM to_regclass($1)`;
    const columns = await session.query<{
      schema: string;
      table: string;
      column: string | null;
      type: string | null;
      not_null: boolean | null;
      default: string | null;
    }>(
      `SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
              a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE c.relkind IN ('r', 'p') AND ${userRelation}`,
      [this.table],
    );
    const indexes = await session.query<{ schema: string; table: string; name: string; definition: string }>(
      `SELECT i.schemaname AS schema, i.tablename AS table, i.indexname AS name, i.indexdef AS definition
         FROM pg_indexes i
         JOIN pg_namespace n ON n.nspname = i.schemaname
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = i.tablename
        WHERE ${userRelation}`,
      [this.table],
    );
    const schema: Schema = { tables: new Map(), indexes: new Map() };
    for (const row of columns.rows) {
      const table = tableLabel(row.schema, row.table);
      const cols = schema.tables.get(table) ?? new Map<string, ColumnShape>();
      schema.tables.set(table, cols);
      // A table without columns still appears (left join), with a null column.
      if (row.column !== null) {
        cols.set(row.column, { type: row.type ?? '', notNull: row.not_null ?? false, default: row.default });
      }
    }
    for (const row of indexes.rows) {
      schema.indexes.set(`${tableLabel(row.schema, row.table)}\u0000${row.name}`, {
        table: tableLabel(row.schema, row.table),
        name: row.name,
        definition: row.definition,
      });
    }
    return schema;
  }
}

interface ColumnShape {
  type: string;
  notNull: boolean;
  default: string | null;
}

interface Schema {
  tables: Map<string, Map<string, ColumnShape>>;
  indexes: Map<string, { table: string; name: string; definition: string }>;
}

function tableLabel(schema: string, table: string): string {
  return schema === 'public' ? table : `${schema}.${table}`;
}

function describeColumn(column: string, shape: ColumnShape): string {
  return `${column} ${shape.type}${shape.notNull ? ' not null' : ''}${shape.default !== null ? ` default ${shape.default}` : ''}`;
}

/** What changed from `before` to `after`; a new or dropped table's columns are folded into its detail. */
function diffSchemas(before: Schema, after: Schema): SchemaChange[] {
  const changes: SchemaChange[] = [];
  const tables = [...new Set([...before.tables.keys(), ...after.tables.keys()])].sort();
  for (const table of tables) {
    const old = before.tables.get(table);
    const now = after.tables.get(table);
    if (!old && now) {
      const columns = [...now].map(([name, shape]) => describeColumn(name, shape)).join(', ');
      changes.push({ kind: 'table-added', table, detail: `columns: ${columns}` });
    } else if (old && !now) {
      changes.push({ kind: 'table-removed', table });
    } else if (old && now) {
      for (const [column, shape] of now) {
        const was = old.get(column);
        if (!was) {
          changes.push({ kind: 'column-added', table, column, detail: describeColumn(column, shape) });
          continue;
        }
        const differences: string[] = [];
        if (was.type !== shape.type) differences.push(`type ${was.type} -> ${shape.type}`);
        if (was.notNull !== shape.notNull) {
          differences.push(shape.notNull ? 'nullable -> not null' : 'not null -> nullable');
        }
        if (was.default !== shape.default)
          differences.push(`default ${was.default ?? 'none'} -> ${shape.default ?? 'none'}`);
        if (differences.length > 0) {
          changes.push({ kind: 'column-changed', table, column, detail: differences.join('; ') });
        }
      }
      for (const column of old.keys()) {
        if (!now.has(column)) changes.push({ kind: 'column-removed', table, column });
      }
    }
  }
  const indexKeys = [...new Set([...before.indexes.keys(), ...after.indexes.keys()])].sort();
  for (const key of indexKeys) {
    const old = before.indexes.get(key);
    const now = after.indexes.get(key);
    // A redefined index under the same name is reported as removed and added: that is what the database did.
    if (old && (!now || now.definition !== old.definition)) {
      changes.push({ kind: 'index-removed', table: old.table, name: old.name, detail: old.definition });
    }
    if (now && (!old || now.definition !== old.definition)) {
      changes.push({ kind: 'index-added', table: now.table, name: now.name, detail: now.definition });
    }
  }
  return changes;
}
