// A database double for the real migration runner: it answers the runner's own statements (its tracking table, the
// advisory lock, SET LOCAL, transactions, the catalog queries of a dry run) from memory, and runs migration SQL
// written in a small DDL subset (CREATE/DROP TABLE, ALTER TABLE ADD/DROP COLUMN, CREATE/DROP INDEX) against an
// in-memory schema, with PostgreSQL's error codes. Anything else fails loudly, so a change in the runner's SQL shows
// up here as "cannot answer" rather than as a silently wrong test. A test can make statements fail on demand.
import type { DatabaseResolver } from '../../../activities/migration-activities';
import type { SqlDatabase, SqlQueryable } from '../../../providers/sql/database';
import type { Journal } from './journal';

interface Column {
  type: string;
  notNull: boolean;
  default: string | null;
}

interface TrackingRow {
  service: string;
  id: string;
  phase: 'expand' | 'contract';
  checksum: string;
  release_id: string;
  applied_at: string;
}

interface State {
  tables: Map<string, Map<string, Column>>;
  indexes: Map<string, { table: string; definition: string }>;
  tracking: TrackingRow[];
  trackingTable: boolean;
}

/** An error carrying a SQLSTATE, as the runner reads it from pg and PGlite errors. */
export class MemorySqlError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const TYPE_END = /\s+(NOT\s+NULL|NULL|DEFAULT|PRIMARY\s+KEY|REFERENCES|UNIQUE|CHECK|CONSTRAINT)\b/i;

function cloneState(state: State): State {
  return {
    tables: new Map([...state.tables].map(([name, columns]) => [name, new Map(columns)])),
    indexes: new Map(state.indexes),
    tracking: state.tracking.map((row) => ({ ...row })),
    trackingTable: state.trackingTable,
  };
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === separator && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean);
}

function columnOf(definition: string): { name: string; column: Column } | undefined {
  if (/^(PRIMARY\s+KEY|CONSTRAINT|UNIQUE|FOREIGN\s+KEY|CHECK)\b/i.test(definition)) return undefined;
  const [name = '', ...rest] = definition.split(/\s+/);
  const spec = rest.join(' ');
  const end = TYPE_END.exec(spec);
  const type = (end ? spec.slice(0, end.index) : spec).toLowerCase();
  const defaultMatch = /\bDEFAULT\s+(.+?)(\s+(NOT\s+NULL|NULL|PRIMARY\s+KEY|REFERENCES|UNIQUE|CHECK)\b|$)/i.exec(spec);
  return {
    name: name.toLowerCase(),
    column: {
      type,
      notNull: /\bNOT\s+NULL\b|\bPRIMARY\s+KEY\b/i.test(spec),
      default: defaultMatch?.[1] ?? null,
    },
  };
}

export class MemoryDatabase implements SqlDatabase {
  readonly kind = 'postgres';
  private state: State = { tables: new Map(), indexes: new Map(), tracking: [], trackingTable: false };
  private inTransaction: State | undefined;
  private turn: Promise<unknown> = Promise.resolve();
  private readonly failures: { match: string | RegExp; left: number; message: string }[] = [];
  constructor(
    readonly name: string,
    private readonly journal?: Journal,
  ) {}

  /** Makes statements of migration SQL that contain `match` fail (`times` times, every time when omitted). */
  failWhen(match: string | RegExp, options: { times?: number; message?: string } = {}): void {
    this.failures.push({
      match,
      left: options.times ?? Infinity,
      message: options.message ?? `statement failed on purpose (programmed by the test)`,
    });
  }

  /** Runs DDL outside any migration (the schema a database already has). */
  async seed(sql: string): Promise<void> {
    await this.exec(sql);
  }

  /** Table -> column names, to assert what the schema looks like now. */
  schema(): Record<string, string[]> {
    return Object.fromEntries([...this.state.tables].map(([table, columns]) => [table, [...columns.keys()]]));
  }

  /** The tracking table's rows for a service: which migrations are applied, by which release. */
  applied(service: string): { id: string; phase: string; releaseId: string }[] {
    return this.state.tracking
      .filter((row) => row.service === service)
      .map((row) => ({ id: row.id, phase: row.phase, releaseId: row.release_id }));
  }

  query<R = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<{ rows: R[]; rowCount: number }> {
    return this.serialized(() => this.direct.query<R>(text, params));
  }

  exec(sql: string): Promise<void> {
    return this.serialized(() => this.direct.exec(sql));
  }

  session<T>(fn: (session: SqlQueryable) => Promise<T>): Promise<T> {
    return this.serialized(() => fn(this.direct));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** One connection: queries and sessions take turns, as on PGlite. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  // A statement's error becomes a rejection, as a driver's would.
  private readonly direct: SqlQueryable = {
    query: <R>(text: string, params: unknown[] = []) =>
      Promise.resolve().then(() => {
        const rows = this.answer(text.replace(/\s+/g, ' ').trim(), params) as R[];
        return { rows, rowCount: rows.length };
      }),
    exec: (sql: string) => Promise.resolve().then(() => this.runScript(sql)),
  };

  /** The runner's own statements. */
  private answer(sql: string, params: unknown[]): unknown[] {
    const tracking = /^(SELECT .* FROM|INSERT INTO|DELETE FROM) "?release_engine_migrations"?/;
    if (sql === 'BEGIN') {
      this.inTransaction ??= cloneState(this.state);
      return [];
    }
    if (sql === 'COMMIT') {
      this.inTransaction = undefined;
      return [];
    }
    if (sql === 'ROLLBACK') {
      if (this.inTransaction) this.state = this.inTransaction;
      this.inTransaction = undefined;
      return [];
    }
    if (/^SET LOCAL (lock_timeout|statement_timeout) = \d+$/.test(sql)) return [];
    if (/^SELECT pg_advisory_xact_lock\(/.test(sql)) return [{}];
    if (/^SELECT pg_try_advisory_lock\(/.test(sql)) return [{ locked: true }];
    if (/^SELECT pg_advisory_unlock\(/.test(sql)) return [{ pg_advisory_unlock: true }];
    if (/^CREATE TABLE IF NOT EXISTS "?release_engine_migrations"? \(/.test(sql)) {
      this.state.trackingTable = true;
      return [];
    }
    if (/^SELECT to_regclass\(\$1\)::text AS oid$/.test(sql)) {
      return [{ oid: this.state.trackingTable ? 'release_engine_migrations' : null }];
    }
    if (tracking.test(sql) && !this.state.trackingTable) {
      throw new MemorySqlError('relation "release_engine_migrations" does not exist', '42P01');
    }
    if (/^SELECT service, id, phase, checksum, release_id, applied_at FROM \S+ WHERE service = \$1$/.test(sql)) {
      return this.state.tracking.filter((row) => row.service === params[0]).map((row) => ({ ...row }));
    }
    if (/^INSERT INTO \S+ \(service, id, phase, checksum, release_id\) VALUES \(\$1, \$2, \$3, \$4, \$5\)$/.test(sql)) {
      const [service, id, phase, checksum, releaseId] = params as string[];
      if (this.state.tracking.some((row) => row.service === service && row.id === id)) {
        throw new MemorySqlError(`duplicate key value violates unique constraint (${service}, ${id})`, '23505');
      }
      this.state.tracking.push({
        service: service ?? '',
        id: id ?? '',
        phase: phase === 'contract' ? 'contract' : 'expand',
        checksum: checksum ?? '',
        release_id: releaseId ?? '',
        applied_at: new Date().toISOString(),
      });
      this.journal?.add('database', `${this.name}: applied ${id} (${phase}) by ${releaseId}`);
      return [];
    }
    if (/^DELETE FROM \S+ WHERE service = \$1 AND id = \$2$/.test(sql)) {
      const before = this.state.tracking.length;
      this.state.tracking = this.state.tracking.filter((row) => !(row.service === params[0] && row.id === params[1]));
      if (this.state.tracking.length < before)
        this.journal?.add('database', `${this.name}: reverted ${String(params[1])}`);
      return [];
    }
    if (/ FROM pg_class c /.test(sql)) {
      return [...this.state.tables].flatMap(([table, columns]): Record<string, unknown>[] =>
        columns.size === 0
          ? [{ schema: 'public', table, column: null, type: null, not_null: null, default: null }]
          : [...columns].map(([column, c]) => ({
              schema: 'public',
              table,
              column,
              type: c.type,
              not_null: c.notNull,
              default: c.default,
            })),
      );
    }
    if (/ FROM pg_indexes i /.test(sql)) {
      return [...this.state.indexes].map(([name, index]) => ({
        schema: 'public',
        table: index.table,
        name,
        definition: index.definition,
      }));
    }
    throw new Error(`MemoryDatabase ${this.name} cannot answer this query (did the migration runner change?): ${sql}`);
  }

  /** Migration SQL: statements separated by `;`, `--` comments ignored. */
  private runScript(sql: string): void {
    const statements = sql
      .split('\n')
      .map((line) => line.replace(/--.*$/, ''))
      .join('\n')
      .split(';')
      .map((s) => s.replace(/\s+/g, ' ').trim())
      .filter(Boolean);
    for (const statement of statements) {
      const failure = this.failures.find(
        (f) => f.left > 0 && (typeof f.match === 'string' ? statement.includes(f.match) : f.match.test(statement)),
      );
      if (failure) {
        failure.left -= 1;
        throw new MemorySqlError(failure.message, 'P0001');
      }
      this.runStatement(statement);
    }
  }

  private runStatement(statement: string): void {
    const { tables, indexes } = this.state;
    const table = (name: string) => {
      const found = tables.get(name.toLowerCase());
      if (!found) throw new MemorySqlError(`relation "${name}" does not exist`, '42P01');
      return found;
    };
    let m: RegExpExecArray | null;
    if ((m = /^CREATE TABLE (IF NOT EXISTS )?(\w+) \((.*)\)$/i.exec(statement))) {
      const name = (m[2] ?? '').toLowerCase();
      if (tables.has(name)) {
        if (m[1]) return;
        throw new MemorySqlError(`relation "${name}" already exists`, '42P07');
      }
      const columns = new Map<string, Column>();
      for (const definition of splitTopLevel(m[3] ?? '', ',')) {
        const column = columnOf(definition);
        if (column) columns.set(column.name, column.column);
      }
      tables.set(name, columns);
    } else if ((m = /^DROP TABLE (IF EXISTS )?(\w+)$/i.exec(statement))) {
      const name = (m[2] ?? '').toLowerCase();
      if (!tables.has(name)) {
        if (m[1]) return;
        throw new MemorySqlError(`table "${name}" does not exist`, '42P01');
      }
      tables.delete(name);
      for (const [index, { table: of }] of indexes) if (of === name) indexes.delete(index);
    } else if ((m = /^ALTER TABLE (\w+) ADD COLUMN (IF NOT EXISTS )?(.+)$/i.exec(statement))) {
      const columns = table(m[1] ?? '');
      const column = columnOf(m[3] ?? '');
      if (!column) throw new MemorySqlError(`syntax error at or near "${m[3]}"`, '42601');
      if (columns.has(column.name)) {
        if (m[2]) return;
        throw new MemorySqlError(`column "${column.name}" of relation "${m[1]}" already exists`, '42701');
      }
      columns.set(column.name, column.column);
    } else if ((m = /^ALTER TABLE (\w+) DROP COLUMN (IF EXISTS )?(\w+)$/i.exec(statement))) {
      const columns = table(m[1] ?? '');
      const name = (m[3] ?? '').toLowerCase();
      if (!columns.has(name)) {
        if (m[2]) return;
        throw new MemorySqlError(`column "${name}" of relation "${m[1]}" does not exist`, '42703');
      }
      columns.delete(name);
    } else if ((m = /^CREATE (UNIQUE )?INDEX (\w+) ON (\w+) \((.+)\)$/i.exec(statement))) {
      const name = (m[2] ?? '').toLowerCase();
      table(m[3] ?? '');
      if (indexes.has(name)) throw new MemorySqlError(`relation "${name}" already exists`, '42P07');
      indexes.set(name, { table: (m[3] ?? '').toLowerCase(), definition: statement });
    } else if ((m = /^DROP INDEX (IF EXISTS )?(\w+)$/i.exec(statement))) {
      const name = (m[2] ?? '').toLowerCase();
      if (!indexes.delete(name) && !m[1]) {
        throw new MemorySqlError(`index "${name}" does not exist`, '42704');
      }
    } else {
      const word = statement.split(' ')[0] ?? statement;
      throw new MemorySqlError(`syntax error at or near "${word}" (MemoryDatabase knows a small DDL subset)`, '42601');
    }
  }
}

/** One MemoryDatabase per service and environment, created on first use, as the real resolver opens them. */
export function memoryDatabases(journal?: Journal) {
  const open = new Map<string, MemoryDatabase>();
  const of = (service: string, environment: string): MemoryDatabase => {
    const key = `${service}/${environment}`;
    let db = open.get(key);
    if (!db) {
      db = new MemoryDatabase(environment, journal);
      open.set(key, db);
    }
    return db;
  };
  const resolve: DatabaseResolver = (service, environment) => Promise.resolve(of(service, environment));
  return Object.assign(resolve, { of });
}
