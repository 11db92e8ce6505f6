// One interface over PostgreSQL (a `pg` pool, when a URL is configured) and PGlite (the embedded default: PostgreSQL
// compiled to WASM, in a local directory). Work that needs one connection (advisory locks, transactions, SET) runs
// in a session.
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { repairDataModes } from '../file-modes';

export interface SqlQueryable {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /** Runs a script of several statements, without parameters (e.g. a migration file). */
  exec(sql: string): Promise<void>;
}

export interface SqlDatabase extends SqlQueryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` on one dedicated connection. */
  session<T>(fn: (session: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type DatabaseTarget = { url: string } | { pgliteDir: string };

/** Opens the database at `target`: PostgreSQL for a URL, PGlite for a directory. */
export async function openDatabase(target: DatabaseTarget): Promise<SqlDatabase> {
  if ('url' in target) return new PostgresDatabase(target.url);
  await mkdir(target.pgliteDir, { recursive: true });
  const db = new PGlite(target.pgliteDir);
  await db.waitReady;
  // PGlite's file system layer chmods the files it sets up (the data directory it creates, pg_internal.init at every
  // start) to 0666, past the umask; once it is up, they are made the owner's only again (providers/file-modes.ts).
  await repairDataModes(target.pgliteDir);
  return new PgliteDatabase(db, target.pgliteDir);
}

class PostgresDatabase implements SqlDatabase {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 5 });
    // An idle client that errors (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  async query<R>(text: string, params?: unknown[]) {
    const result = await this.pool.query(text, params);
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async session<T>(fn: (session: SqlQueryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      return await fn({
        query: async <R>(text: string, params?: unknown[]) => {
          const result = await client.query(text, params);
          return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
        },
        exec: async (sql: string) => {
          await client.query(sql);
        },
      });
    } catch (err) {
      // A session that failed mid-transaction or mid-lock is not reused: its state is unknown.
      broken = true;
      throw err;
    } finally {
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** PGlite has a single connection: queries and sessions take turns, so a session is never interleaved. */
class PgliteDatabase implements SqlDatabase {
  readonly kind = 'pglite';
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: PGlite,
    private readonly dir: string,
  ) {}

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn, fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private readonly direct: SqlQueryable = {
    query: async <R>(text: string, params?: unknown[]) => {
      const result = await this.db.query<R>(text, params);
      // Like pg: rows returned for a SELECT, rows changed for an UPDATE/DELETE/INSERT without RETURNING.
      return { rows: result.rows, rowCount: result.rows.length > 0 ? result.rows.length : (result.affectedRows ?? 0) };
    },
    exec: async (sql: string) => {
      await this.db.exec(sql);
    },
  };

  query<R>(text: string, params?: unknown[]) {
    return this.serialized(() => this.direct.query<R>(text, params));
  }

  exec(sql: string): Promise<void> {
    return this.serialized(() => this.direct.exec(sql));
  }

  session<T>(fn: (session: SqlQueryable) => Promise<T>): Promise<T> {
    return this.serialized(() => fn(this.direct));
  }

  close(): Promise<void> {
    return this.serialized(async () => {
      await this.db.close();
      await repairDataModes(this.dir);
    });
  }
}
