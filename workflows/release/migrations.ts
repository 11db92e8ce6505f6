// Schema migrations: what the artifact carries is listed and dry-run at validation; expand migrations run in an
// environment's database right before its first wave, contract migrations once every environment runs the new
// version. Each phase registers its way back first; a contract migration, or one without a down file, has none that
// is safe to run automatically, so a rollback reaching it asks a human.
import { releaseFailure } from '../failures';
import { innermostMessage } from '../saga';
import { migrationActivities, releaseActivities, releaseCompensations, type MigrationSummary } from './activities';
import type { ReleaseRun } from './run-state';

export type MigrationPhase = 'expand' | 'contract';

/** Records the migrations the artifact carries per database environment, and dry-runs the expand phase. */
export async function planMigrations(run: ReleaseRun, carried: MigrationSummary[]): Promise<void> {
  const { plan, status } = run;
  const list = carried.map((m) => `${m.id} (${m.phase})`).join(', ');
  if (plan.databaseEnvironments.length === 0) {
    throw releaseFailure(
      'MigrationsWithoutDatabase',
      `${plan.service}@${plan.version} carries schema migrations (${list}), but no environment of ${plan.service} has a database (database: true in the catalog)`,
    );
  }
  status.migrations = plan.databaseEnvironments.flatMap((environment) =>
    (['expand', 'contract'] as const).flatMap((phase) => {
      const ids = carried.filter((m) => m.phase === phase).map((m) => m.id);
      return ids.length > 0 ? [{ environment, phase, ids, state: 'pending' as const }] : [];
    }),
  );
  run.note(`${plan.service}@${plan.version} carries schema migrations: ${list}`);
  for (const progress of status.migrations.filter((m) => m.phase === 'expand')) {
    const dryRun = await releaseActivities.dryRunMigrations.executeWithOptions(
      { summary: `dry run of the expand migrations in ${progress.environment} (rolled back)` },
      [{ ...migrationInput(run, progress.environment, 'expand') }],
    );
    // What this release will apply (those the previous releases applied are already there).
    progress.ids = dryRun.wouldApply;
    progress.changes = dryRun.changes;
    run.note(
      `expand migrations in ${progress.environment} would ${dryRun.changes.length > 0 ? dryRun.changes.join('; ') : 'change nothing'} (dry run, rolled back)`,
    );
  }
}

function migrationInput(run: ReleaseRun, environment: string, phase: MigrationPhase) {
  const { plan } = run;
  return { service: plan.service, version: plan.version, environment, phase, releaseId: plan.releaseId };
}

/** Runs one phase of migrations in an environment's database, its way back registered first. */
export async function migrate(
  run: ReleaseRun,
  environment: string,
  phase: MigrationPhase,
  carried: MigrationSummary[],
): Promise<void> {
  const progress = run.status.migrations?.find((m) => m.environment === environment && m.phase === phase);
  if (!progress || progress.ids.length === 0) return;
  const ids = progress.ids.join(', ');
  const reversible = carried.filter((m) => progress.ids.includes(m.id)).every((m) => m.reversible);
  run.saga.add({
    name:
      phase === 'expand'
        ? `revert expand migrations ${ids} in ${environment}`
        : `undo contract migrations ${ids} in ${environment}`,
    group: `migrations-${environment}-${phase}`,
    // A contract migration removes what the previous version needs, and a migration without a down file has no
    // way back: neither is undone automatically.
    irreversible: phase === 'contract' || !reversible,
    run: async () => {
      const result = await releaseCompensations.revertMigrations.executeWithOptions(
        { summary: `revert the ${phase} migrations in ${environment} (rollback)` },
        [migrationInput(run, environment, phase)],
      );
      progress.state = 'reverted';
      run.audit('migration.reverted', { details: { environment, phase, ids: result.reverted } });
      run.note(
        `${phase} migrations reverted in ${environment}: ${result.reverted.join(', ') || 'none had been applied'}`,
      );
    },
  });
  try {
    const result = await migrationActivities.applyMigrations.executeWithOptions(
      { summary: `${phase} migrations ${ids} in ${environment}` },
      [migrationInput(run, environment, phase)],
    );
    progress.state = 'applied';
    run.audit('migration.applied', { details: { environment, phase, ids: result.applied } });
    run.note(
      `${phase} migrations applied in ${environment}: ${result.applied.join(', ') || 'all were already applied'}`,
    );
  } catch (err) {
    progress.state = 'failed';
    run.audit('migration.failed', { reason: innermostMessage(err), details: { environment, phase } });
    throw err;
  } finally {
    await run.record.flush();
  }
}
