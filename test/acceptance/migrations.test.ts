// The migration runner against real PostgreSQL (a fresh database per test) and PGlite (a fresh directory per test):
// what a release would notice in the schema and the tracking table, plus the PostgreSQL-only timeouts and locking.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packArtifact } from '../../providers/artifacts/pack';
import {
  type Migration,
  MigrationNameError,
  migrationChecksum,
  migrationsFromArtifact,
  migrationsFromDirectory,
  migrationsFromFiles,
} from '../../providers/migrations/migrations';
import {
  IrreversibleMigrationError,
  MigrationChecksumError,
  MigrationFailedError,
  MigrationLockTimeoutError,
  MigrationRunner,
} from '../../providers/migrations/runner';
import { openDatabase, type SqlDatabase } from '../../providers/sql/database';

const ADMIN_URL = process.env.MIGRATIONS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SERVICE = 'hello';

const GREETINGS: Record<string, string> = {
  'migrations/0001_greetings.expand.up.sql': 'CREATE TABLE greetings (id serial PRIMARY KEY, text text NOT NULL);\n',
  'migrations/0001_greetings.expand.down.sql': 'DROP TABLE greetings;\n',
  'migrations/0002_greeting_language.expand.up.sql':
    'ALTER TABLE greetings ADD COLUMN language text;\nCREATE INDEX greetings_language_idx ON greetings (language);\n',
  'migrations/0002_greeting_language.expand.down.sql':
    'DROP INDEX greetings_language_idx;\nALTER TABLE greetings DROP COLUMN language;\n',
  'migrations/0003_drop_text.contract.up.sql':
    'ALTER TABLE greetings DROP COLUMN text;\nALTER TABLE greetings ALTER COLUMN language SET NOT NULL;\n',
};

function files(overrides: Record<string, string | undefined> = {}, base = GREETINGS): Migration[] {
  const merged: Record<string, string> = {};
  for (const [path, sql] of Object.entries({ ...base, ...overrides })) if (sql !== undefined) merged[path] = sql;
  return migrationsFromFiles(merged);
}

function only(ids: string[], migrations = files()): Migration[] {
  return migrations.filter((m) => ids.includes(m.id));
}

async function columns(db: SqlDatabase, table: string): Promise<string[]> {
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1
      ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((row) => row.column_name);
}

async function tableExists(db: SqlDatabase, table: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = $1`,
    [table],
  );
  return rows.length > 0;
}

async function trackingRows(db: SqlDatabase): Promise<number> {
  if (!(await tableExists(db, 'release_engine_migrations'))) return 0;
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM release_engine_migrations');
  return rows[0]?.n ?? 0;
}

/** The error `run` rejects with, checked to be an `ErrorClass`. */
async function failure<E extends Error>(run: Promise<unknown>, ErrorClass: new (...args: never[]) => E): Promise<E> {
  const error = await run.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ErrorClass);
  return error as E;
}

async function writeTree(dir: string, tree: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(tree)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** A fresh PostgreSQL database, created through the admin connection and dropped afterwards. */
interface FreshDatabase {
  db: SqlDatabase;
  url?: string;
  dispose(): Promise<void>;
}

let admin: SqlDatabase | undefined;

async function freshPostgres(): Promise<FreshDatabase> {
  admin ??= await openDatabase({ url: ADMIN_URL });
  const name = `mig_${randomBytes(6).toString('hex')}`;
  await admin.exec(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString() });
  return {
    db,
    url: url.toString(),
    dispose: async () => {
      await db.close();
      await admin?.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

let pglite: { db: SqlDatabase; dir: string } | undefined;

/** One PGlite per file (opening one costs seconds of WASM start-up); each test gets an empty public schema. */
async function freshPglite(): Promise<FreshDatabase> {
  if (!pglite) {
    const dir = await mkdtemp(join(tmpdir(), 'mig-pglite-'));
    pglite = { db: await openDatabase({ pgliteDir: dir }), dir };
  }
  const { db } = pglite;
  await db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  return { db, dispose: () => Promise.resolve() };
}

afterAll(async () => {
  await admin?.close();
  if (pglite) {
    await pglite.db.close();
    await rm(pglite.dir, { recursive: true, force: true });
  }
});

describe.each([
  { kind: 'postgres', fresh: freshPostgres },
  { kind: 'pglite', fresh: freshPglite },
])('migration runner on $kind', ({ fresh }) => {
  let current: FreshDatabase;
  let db: SqlDatabase;
  let runner: MigrationRunner;

  beforeEach(async () => {
    current = await fresh();
    db = current.db;
    runner = new MigrationRunner(db);
  });

  afterEach(async () => {
    await current.dispose();
  });

  it('applies the expand migrations in order, records them, and applies nothing the second time', async () => {
    // Given in reverse, still applied by number: 0002 alters the table 0001 creates.
    const report = await runner.up([...files()].reverse(), { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    expect(report).toEqual({
      phase: 'expand',
      applied: ['0001_greetings', '0002_greeting_language'],
      alreadyApplied: [],
      reverted: [],
      dryRun: false,
      changes: [],
    });
    expect(await columns(db, 'greetings')).toEqual(['id', 'text', 'language']);
    const applied = await runner.applied(SERVICE);
    expect(applied.map((m) => [m.id, m.phase, m.releaseId])).toEqual([
      ['0001_greetings', 'expand', 'r1'],
      ['0002_greeting_language', 'expand', 'r1'],
    ]);
    expect(applied[0]?.checksum).toBe(migrationChecksum(GREETINGS['migrations/0001_greetings.expand.up.sql'] ?? ''));
    expect(Number.isNaN(Date.parse(applied[0]?.appliedAt ?? ''))).toBe(false);

    const again = await runner.up(files(), { service: SERVICE, releaseId: 'r2', phase: 'expand' });
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(['0001_greetings', '0002_greeting_language']);
    expect(await trackingRows(db)).toBe(2);
    // Tracking is per service: another service sharing the table has applied nothing.
    expect(await runner.applied('other-service')).toEqual([]);
  });

  it('keeps the phases apart: expand runs skip contract migrations and contract runs skip expand ones', async () => {
    const expand = await runner.up(files(), { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    expect(expand.applied).not.toContain('0003_drop_text');
    expect(await columns(db, 'greetings')).toContain('text');

    const contract = await runner.up(files(), { service: SERVICE, releaseId: 'r1', phase: 'contract' });
    expect(contract).toMatchObject({ phase: 'contract', applied: ['0003_drop_text'], alreadyApplied: [] });
    expect(await columns(db, 'greetings')).toEqual(['id', 'language']);

    // And the other way round: a contract run applies no expand migration.
    const pair = migrationsFromFiles({
      'migrations/0001_audit.expand.up.sql': 'CREATE TABLE audit (id int);',
      'migrations/0002_archive.contract.up.sql': 'CREATE TABLE archive (id int);',
    });
    const first = await runner.up(pair, { service: 'audit', releaseId: 'r1', phase: 'contract' });
    expect(first.applied).toEqual(['0002_archive']);
    expect(await tableExists(db, 'archive')).toBe(true);
    expect(await tableExists(db, 'audit')).toBe(false);
  });

  it('reverts newest first with the down files and removes the records', async () => {
    await runner.up(files(), { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    const report = await runner.down(files(), { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    expect(report).toMatchObject({ reverted: ['0002_greeting_language', '0001_greetings'], applied: [] });
    expect(await tableExists(db, 'greetings')).toBe(false);
    expect(await runner.applied(SERVICE)).toEqual([]);
  });

  it('reverts only what the given release applied, or only the given ids', async () => {
    await runner.up(only(['0001_greetings']), { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    await runner.up(files(), { service: SERVICE, releaseId: 'r2', phase: 'expand' });

    const report = await runner.down(files(), { service: SERVICE, releaseId: 'r2', phase: 'expand' });
    expect(report.reverted).toEqual(['0002_greeting_language']);
    expect(await columns(db, 'greetings')).toEqual(['id', 'text']);
    expect((await runner.applied(SERVICE)).map((m) => m.id)).toEqual(['0001_greetings']);

    const byId = await runner.down(files(), {
      service: SERVICE,
      releaseId: 'rollback',
      phase: 'expand',
      ids: ['0001_greetings', '0002_greeting_language'],
    });
    expect(byId.reverted).toEqual(['0001_greetings']);
    expect(await tableExists(db, 'greetings')).toBe(false);
  });

  it('refuses a down of a migration without a down file before reverting anything', async () => {
    const set = files(
      {},
      {
        'migrations/0001_accounts.expand.up.sql': 'CREATE TABLE accounts (id int PRIMARY KEY);',
        'migrations/0002_account_email.expand.up.sql': 'ALTER TABLE accounts ADD COLUMN email text;',
        'migrations/0002_account_email.expand.down.sql': 'ALTER TABLE accounts DROP COLUMN email;',
      },
    );
    await runner.up(set, { service: SERVICE, releaseId: 'r1', phase: 'expand' });

    const down = runner.down(set, { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    await expect(down).rejects.toBeInstanceOf(IrreversibleMigrationError);
    await expect(runner.down(set, { service: SERVICE, releaseId: 'r1', phase: 'expand' })).rejects.toThrow(
      /0001_accounts .*no down file/,
    );
    // 0002 has a down and is newest: it would have gone first had the check not come before any work.
    expect(await columns(db, 'accounts')).toEqual(['id', 'email']);
    expect(await trackingRows(db)).toBe(2);
  });

  it('refuses an applied migration whose up SQL was edited, and applies nothing', async () => {
    await runner.up(only(['0001_greetings']), { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    const edited = files({
      'migrations/0001_greetings.expand.up.sql': 'CREATE TABLE greetings (id bigserial PRIMARY KEY, text text);\n',
    });

    const error = await failure(
      runner.up(edited, { service: SERVICE, releaseId: 'r2', phase: 'expand' }),
      MigrationChecksumError,
    );
    expect(error.message).toContain('migration 0001_greetings');
    expect(error.message).toContain(migrationChecksum(GREETINGS['migrations/0001_greetings.expand.up.sql'] ?? ''));
    expect(error.message).toContain(edited[0]?.checksum);
    expect(await columns(db, 'greetings')).toEqual(['id', 'text']);
    expect(await trackingRows(db)).toBe(1);
  });

  it('rolls back a failing migration, keeps the earlier ones, and names it with the database message', async () => {
    const broken = files({
      'migrations/0002_greeting_language.expand.up.sql':
        'ALTER TABLE greetings ADD COLUMN language text;\nCREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n',
    });
    const failed = await failure(
      runner.up(broken, { service: SERVICE, releaseId: 'r1', phase: 'expand' }),
      MigrationFailedError,
    );
    expect(failed.migrationId).toBe('0002_greeting_language');
    expect(failed.message).toMatch(
      /migration 0002_greeting_language \(expand\) of hello failed and it was rolled back/,
    );
    expect(failed.message).toContain('relation "no_such_table" does not exist');
    expect(failed.report.applied).toEqual(['0001_greetings']);

    expect(await columns(db, 'greetings')).toEqual(['id', 'text']);
    expect(await tableExists(db, 'half_done')).toBe(false);
    expect((await runner.applied(SERVICE)).map((m) => m.id)).toEqual(['0001_greetings']);

    // Fixed, the next run picks up where the failed one stopped.
    const fixed = await runner.up(files(), { service: SERVICE, releaseId: 'r2', phase: 'expand' });
    expect(fixed).toMatchObject({ applied: ['0002_greeting_language'], alreadyApplied: ['0001_greetings'] });
  });

  it('dry-runs: reports the schema changes and leaves the database as it was', async () => {
    const report = await runner.up(files(), { service: SERVICE, releaseId: 'r1', phase: 'expand', dryRun: true });
    expect(report).toMatchObject({ dryRun: true, applied: ['0001_greetings', '0002_greeting_language'] });
    expect(report.changes).toEqual([
      {
        kind: 'table-added',
        table: 'greetings',
        detail: `columns: id integer not null default nextval('greetings_id_seq'::regclass), text text not null, language text`,
      },
      {
        kind: 'index-added',
        table: 'greetings',
        name: 'greetings_language_idx',
        detail: 'CREATE INDEX greetings_language_idx ON public.greetings USING btree (language)',
      },
      {
        kind: 'index-added',
        table: 'greetings',
        name: 'greetings_pkey',
        detail: 'CREATE UNIQUE INDEX greetings_pkey ON public.greetings USING btree (id)',
      },
    ]);
    expect(await tableExists(db, 'greetings')).toBe(false);
    expect(await trackingRows(db)).toBe(0);

    await runner.up(files(), { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    const contract = await runner.up(files(), { service: SERVICE, releaseId: 'r1', phase: 'contract', dryRun: true });
    expect(contract.applied).toEqual(['0003_drop_text']);
    expect(contract.changes).toEqual([
      { kind: 'column-changed', table: 'greetings', column: 'language', detail: 'nullable -> not null' },
      { kind: 'column-removed', table: 'greetings', column: 'text' },
    ]);
    expect(await columns(db, 'greetings')).toEqual(['id', 'text', 'language']);
    expect(await trackingRows(db)).toBe(2);

    const down = await runner.down(files(), { service: SERVICE, releaseId: 'r1', phase: 'expand', dryRun: true });
    expect(down.reverted).toEqual(['0002_greeting_language', '0001_greetings']);
    expect(down.changes.map((c) => `${c.kind} ${c.table}`)).toEqual([
      'table-removed greetings',
      'index-removed greetings',
      'index-removed greetings',
    ]);
    expect(await columns(db, 'greetings')).toEqual(['id', 'text', 'language']);
    expect(await trackingRows(db)).toBe(2);
  });
});

describe('migration runner on postgres only', () => {
  let current: FreshDatabase;
  let db: SqlDatabase;
  let runner: MigrationRunner;
  const others: SqlDatabase[] = [];

  beforeEach(async () => {
    current = await freshPostgres();
    db = current.db;
    runner = new MigrationRunner(db);
  });

  afterEach(async () => {
    for (const other of others.splice(0)) await other.close();
    await current.dispose();
  });

  async function secondConnection(): Promise<SqlDatabase> {
    const other = await openDatabase({ url: current.url ?? '' });
    others.push(other);
    return other;
  }

  it('applies statement_timeout per migration', async () => {
    const slow = files({ 'migrations/0004_slow.expand.up.sql': 'SELECT pg_sleep(2);' });
    const started = Date.now();
    const error = await failure(
      runner.up(slow, { service: SERVICE, releaseId: 'r1', phase: 'expand', statementTimeoutMs: 200 }),
      MigrationFailedError,
    );
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error.message).toContain('migration 0004_slow');
    expect(error.message).toContain('statement_timeout of 200ms exceeded');
    expect(error.sqlState).toBe('57014');
    expect(error.report.applied).toEqual(['0001_greetings', '0002_greeting_language']);
  });

  it('applies lock_timeout: a migration blocked by another connection fails instead of hanging', async () => {
    await runner.up(only(['0001_greetings']), { service: SERVICE, releaseId: 'r1', phase: 'expand' });
    const blocker = new pg.Client({ connectionString: current.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE greetings IN ACCESS SHARE MODE');
      const started = Date.now();
      const error = await failure(
        runner.up(files(), { service: SERVICE, releaseId: 'r1', phase: 'expand', lockTimeoutMs: 200 }),
        MigrationFailedError,
      );
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(error.message).toContain('migration 0002_greeting_language');
      expect(error.message).toContain('lock_timeout of 200ms');
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(await columns(db, 'greetings')).toEqual(['id', 'text']);
  });

  const concurrent = files({
    'migrations/0002_greeting_language.expand.up.sql':
      'SELECT pg_sleep(1);\nALTER TABLE greetings ADD COLUMN language text;\n' +
      'CREATE INDEX greetings_language_idx ON greetings (language);\n',
  });

  it('runs two concurrent runs one after the other: each migration applied exactly once', async () => {
    const other = new MigrationRunner(await secondConnection());
    const [a, b] = await Promise.all([
      runner.up(concurrent, { service: SERVICE, releaseId: 'a', phase: 'expand' }),
      other.up(concurrent, { service: SERVICE, releaseId: 'b', phase: 'expand' }),
    ]);
    const [first, second] = a.applied.length > 0 ? [a, b] : [b, a];
    expect(first.applied).toEqual(['0001_greetings', '0002_greeting_language']);
    expect(second).toMatchObject({ applied: [], alreadyApplied: ['0001_greetings', '0002_greeting_language'] });
    expect(await trackingRows(db)).toBe(2);
    expect(new Set((await runner.applied(SERVICE)).map((m) => m.releaseId)).size).toBe(1);
    expect(await columns(db, 'greetings')).toEqual(['id', 'text', 'language']);
  });

  it('fails the loser of two concurrent runs cleanly when its lock wait is short', async () => {
    const other = new MigrationRunner(await secondConnection());
    const results = await Promise.allSettled([
      runner.up(concurrent, { service: SERVICE, releaseId: 'a', phase: 'expand', lockWaitMs: 200 }),
      other.up(concurrent, { service: SERVICE, releaseId: 'b', phase: 'expand', lockWaitMs: 200 }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(won[0]?.value.applied).toEqual(['0001_greetings', '0002_greeting_language']);
    expect(lost).toHaveLength(1);
    const reason: unknown = lost[0]?.reason;
    expect(reason).toBeInstanceOf(MigrationLockTimeoutError);
    expect((reason as Error).message).toMatch(/migration run for hello still holds its lock after 200ms/);
    expect(await trackingRows(db)).toBe(2);
    expect(await columns(db, 'greetings')).toEqual(['id', 'text', 'language']);
  });

  it('locks per service: another service migrates while one is busy', async () => {
    const other = new MigrationRunner(await secondConnection());
    const accounts = migrationsFromFiles({
      'migrations/0001_accounts.expand.up.sql': 'CREATE TABLE accounts (id int);',
    });
    const busy = runner.up(concurrent, { service: SERVICE, releaseId: 'a', phase: 'expand' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const quick = await other.up(accounts, { service: 'accounts', releaseId: 'b', phase: 'expand', lockWaitMs: 100 });
    expect(quick.applied).toEqual(['0001_accounts']);
    await busy;
    expect(await trackingRows(db)).toBe(3);
  });
});

describe('reading migrations', () => {
  it('orders by number, pairs up and down files, checksums the up SQL, and ignores files outside migrations/', () => {
    const migrations = migrationsFromFiles({
      'server.mjs': 'console.log("hi")',
      'migrations/0010_later.expand.up.sql': 'SELECT 10;',
      'migrations/0002_second.contract.up.sql': 'SELECT 2;',
      'migrations/.gitkeep': '',
      'migrations/0001_first.expand.down.sql': 'SELECT -1;',
      'migrations/0001_first.expand.up.sql': 'SELECT 1;',
    });
    expect(migrations).toEqual([
      {
        id: '0001_first',
        phase: 'expand',
        up: 'SELECT 1;',
        down: 'SELECT -1;',
        checksum: migrationChecksum('SELECT 1;'),
      },
      { id: '0002_second', phase: 'contract', up: 'SELECT 2;', checksum: migrationChecksum('SELECT 2;') },
      { id: '0010_later', phase: 'expand', up: 'SELECT 10;', checksum: migrationChecksum('SELECT 10;') },
    ]);
    expect(migrations[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    'migrations/greetings.expand.up.sql',
    'migrations/0001_greetings.up.sql',
    'migrations/0001_greetings.migrate.up.sql',
    'migrations/0001_greetings.expand.sideways.sql',
    'migrations/0001_greetings.expand.up.txt',
    'migrations/old/0001_greetings.expand.up.sql',
  ])('refuses the malformed name %s, naming the file', (path) => {
    expect(() => migrationsFromFiles({ [path]: 'SELECT 1;' })).toThrow(MigrationNameError);
    expect(() => migrationsFromFiles({ [path]: 'SELECT 1;' })).toThrow(`migration file ${path} is not named`);
  });

  it('refuses a down file without its up file, naming it', () => {
    const set = {
      'migrations/0001_greetings.expand.up.sql': 'SELECT 1;',
      'migrations/0001_greetings.contract.down.sql': 'SELECT 2;',
    };
    expect(() => migrationsFromFiles(set)).toThrow(MigrationNameError);
    expect(() => migrationsFromFiles(set)).toThrow(
      'migration file migrations/0001_greetings.contract.down.sql is a down migration without its up file',
    );
  });

  it('refuses two migrations with the same number, naming both', () => {
    const set = {
      'migrations/0001_greetings.expand.up.sql': 'SELECT 1;',
      'migrations/001_accounts.contract.up.sql': 'SELECT 2;',
    };
    expect(() => migrationsFromFiles(set)).toThrow(MigrationNameError);
    expect(() => migrationsFromFiles(set)).toThrow(/001_accounts.*0001_greetings|0001_greetings.*001_accounts/);
  });

  it('reads a directory holding migrations/, and no migrations/ means none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mig-dir-'));
    try {
      expect(await migrationsFromDirectory(dir)).toEqual([]);
      await writeTree(dir, GREETINGS);
      expect(await migrationsFromDirectory(dir)).toEqual(files());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the migrations packed in an artifact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mig-artifact-'));
    try {
      await writeTree(dir, { 'server.mjs': 'console.log("hello");\n', ...GREETINGS });
      const bytes = await packArtifact(dir, { service: 'hello', version: '1.0.0', entrypoint: 'server.mjs' });
      const migrations = await migrationsFromArtifact(bytes);
      expect(migrations.map((m) => `${m.id}.${m.phase}${m.down !== undefined ? '+down' : ''}`)).toEqual([
        '0001_greetings.expand+down',
        '0002_greeting_language.expand+down',
        '0003_drop_text.contract',
      ]);
      expect(migrations).toEqual(files());

      await rm(join(dir, 'migrations'), { recursive: true });
      const plain = await packArtifact(dir, { service: 'hello', version: '1.0.1', entrypoint: 'server.mjs' });
      expect(await migrationsFromArtifact(plain)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
