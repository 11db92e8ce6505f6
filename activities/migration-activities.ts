// Orchestrator activities that run the schema migrations an artifact carries against an environment's database.
import { nonRetryable } from './errors';
import type { ArtifactStore } from '../providers/artifacts/artifact-store';
import { migrationsFromArtifact, type Migration, type MigrationPhase } from '../providers/migrations/migrations';
import {
  IrreversibleMigrationError,
  MigrationChecksumError,
  MigrationFailedError,
  MigrationRunner,
  type MigrationReport,
  type SchemaChange,
} from '../providers/migrations/runner';
import type { SqlDatabase } from '../providers/sql/database';
import { withHeartbeat } from './heartbeat';

/** The database of a service's environment (PostgreSQL, or an embedded PGlite). */
export type DatabaseResolver = (service: string, environment: string) => Promise<SqlDatabase>;

export interface MigrationActivityDeps {
  artifacts: ArtifactStore;
  databases: DatabaseResolver;
}

export interface MigrationSummary {
  id: string;
  phase: MigrationPhase;
  reversible: boolean;
}

interface MigrationInput {
  service: string;
  version: string;
  environment: string;
  phase: MigrationPhase;
  releaseId: string;
}

/** A schema change in words: "add column greetings.locale". */
export function describeChange(change: SchemaChange): string {
  const target = change.column ? `${change.table}.${change.column}` : (change.name ?? change.table);
  const verb = {
    'table-added': 'add table',
    'table-removed': 'drop table',
    'column-added': 'add column',
    'column-removed': 'drop column',
    'column-changed': 'change column',
    'index-added': 'add index',
    'index-removed': 'drop index',
  }[change.kind];
  // A column's detail starts with its own name ("locale text"); say the name once.
  const detail =
    change.column && change.detail?.startsWith(`${change.column} `)
      ? change.detail.slice(change.column.length + 1)
      : change.detail;
  return `${verb} ${target}${detail ? ` (${detail})` : ''}`;
}

export function createMigrationActivities({ artifacts, databases }: MigrationActivityDeps) {
  async function migrationsOf(service: string, version: string): Promise<Migration[]> {
    const record = await artifacts.resolve(service, version);
    if (!record) throw nonRetryable('ArtifactNotFound', `there is no artifact ${service}@${version}`);
    return migrationsFromArtifact(await artifacts.read(record.digest));
  }

  /** Runs the runner, turning errors retrying cannot fix into non-retryable failures that name the migration. */
  async function run(
    input: MigrationInput,
    fn: (runner: MigrationRunner, migrations: Migration[]) => Promise<MigrationReport>,
  ) {
    return withHeartbeat(async () => {
      const migrations = await migrationsOf(input.service, input.version);
      const runner = new MigrationRunner(await databases(input.service, input.environment));
      try {
        return await fn(runner, migrations);
      } catch (err) {
        if (err instanceof MigrationFailedError) throw nonRetryable('MigrationFailed', err.message);
        if (err instanceof MigrationChecksumError) throw nonRetryable('MigrationChecksumMismatch', err.message);
        if (err instanceof IrreversibleMigrationError) throw nonRetryable('MigrationIrreversible', err.message);
        throw err;
      }
    });
  }

  const options = (input: MigrationInput) => ({
    service: input.service,
    releaseId: input.releaseId,
    phase: input.phase,
  });

  return {
    /** The migrations an artifact carries (id, phase, whether it has a down file). */
    async inspectMigrations(input: { service: string; version: string }): Promise<MigrationSummary[]> {
      return (await migrationsOf(input.service, input.version)).map((m) => ({
        id: m.id,
        phase: m.phase,
        reversible: m.down !== undefined,
      }));
    },

    /** Applies one phase's pending migrations inside a transaction that is rolled back; reports what would change. */
    async dryRunMigrations(input: MigrationInput): Promise<{ wouldApply: string[]; changes: string[] }> {
      const report = await run(input, (runner, migrations) =>
        runner.up(migrations, { ...options(input), dryRun: true }),
      );
      return { wouldApply: report.applied, changes: report.changes.map(describeChange) };
    },

    /** Applies one phase's pending migrations, each in its own transaction. Safe to repeat. */
    async applyMigrations(input: MigrationInput): Promise<{ applied: string[]; alreadyApplied: string[] }> {
      const report = await run(input, (runner, migrations) => runner.up(migrations, options(input)));
      return { applied: report.applied, alreadyApplied: report.alreadyApplied };
    },

    /** Reverts what this release applied in one phase, newest first, with the down files. Safe to repeat. */
    async revertMigrations(input: MigrationInput): Promise<{ reverted: string[] }> {
      const report = await run(input, (runner, migrations) => runner.down(migrations, options(input)));
      return { reverted: report.reverted };
    },
  };
}
