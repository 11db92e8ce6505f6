// Schema migrations in a real release: expand before an environment's first wave, contract only once every
// environment runs the new version, and what a rollback does (and refuses to do) with each.
import { describe, expect, it } from 'vitest';
import { useWorkflowEngines, type WorkflowEngine } from '../support/workflow-engine';

const GREETINGS = 'CREATE TABLE greetings (id serial PRIMARY KEY, text text NOT NULL, legacy_text text);';
const EXPAND = {
  '0001_greeting_locale.expand.up.sql': '-- per-locale greetings\nALTER TABLE greetings ADD COLUMN locale text;',
  '0001_greeting_locale.expand.down.sql': 'ALTER TABLE greetings DROP COLUMN locale;',
};
const CONTRACT = {
  '0002_drop_legacy_text.contract.up.sql': 'ALTER TABLE greetings DROP COLUMN legacy_text;',
};
const withDatabases = [
  { name: 'staging', database: true, waves: [['s']] },
  { name: 'production', database: true, waves: [['p']] },
];

async function seedGreetings(engine: WorkflowEngine, environments: string[]) {
  for (const environment of environments) await engine.database(environment).seed(GREETINGS);
}

describe('schema migrations in a release', () => {
  const engines = useWorkflowEngines();

  it('expand runs before each environment takes the version; contract runs only once every environment runs it', async () => {
    const engine = await engines.start({ environments: withDatabases });
    await seedGreetings(engine, ['staging', 'production']);
    await engine.publish('1.4.0', { migrations: { ...EXPAND, ...CONTRACT } });
    const { releaseId } = await engine.start('1.4.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.migrations?.map((m) => [m.environment, m.phase, m.ids, m.state])).toEqual([
      ['staging', 'expand', ['0001_greeting_locale'], 'applied'],
      ['staging', 'contract', ['0002_drop_legacy_text'], 'applied'],
      ['production', 'expand', ['0001_greeting_locale'], 'applied'],
      ['production', 'contract', ['0002_drop_legacy_text'], 'applied'],
    ]);
    expect(done.timeline.map((e) => e.message)).toContain(
      'expand migrations in staging would add column greetings.locale (text) (dry run, rolled back)',
    );
    const [s, p] = [engine.region('s'), engine.region('p')];
    const at = (text: string) => engine.journal.indexOf(text);
    expect(at('staging: applied 0001_greeting_locale (expand)')).toBeLessThan(at(`deploy ${s} 1.4.0`));
    expect(at('production: applied 0001_greeting_locale (expand)')).toBeGreaterThan(at(`promote ${s} 1.4.0`));
    expect(at('production: applied 0001_greeting_locale (expand)')).toBeLessThan(at(`deploy ${p} 1.4.0`));
    // Contract: in both databases, and only after the last region of the last environment was promoted.
    expect(at('staging: applied 0002_drop_legacy_text (contract)')).toBeGreaterThan(at(`promote ${p} 1.4.0`));
    expect(at('production: applied 0002_drop_legacy_text (contract)')).toBeGreaterThan(at(`promote ${p} 1.4.0`));
    for (const environment of ['staging', 'production']) {
      expect(engine.database(environment).schema()).toEqual({ greetings: ['id', 'text', 'locale'] });
    }
  }, 60_000);

  it('a contract migration failing in production is not undone in staging automatically: an SRE is asked, and a refusal leaves the release as it is', async () => {
    const engine = await engines.start({ environments: withDatabases });
    await seedGreetings(engine, ['staging', 'production']);
    engine.database('production').failWhen('DROP COLUMN legacy_text', { message: 'lock timeout on greetings' });
    await engine.publish('1.4.0', { migrations: { ...EXPAND, ...CONTRACT } });
    const { releaseId } = await engine.start('1.4.0');

    const first = await engine.waitForGate(releaseId, 'intervention-1');
    expect(first.gates.find((g) => g.id === 'intervention-1')?.description).toBe(
      'undo contract migrations 0002_drop_legacy_text in production cannot be undone automatically; approve once it has been handled by hand, reject to leave it undone',
    );
    await engine.approve(releaseId, 'intervention-1', 'sid', 'nothing was applied in production');

    const second = await engine.waitForGate(releaseId, 'intervention-2');
    expect(second.gates.find((g) => g.id === 'intervention-2')?.description).toMatch(
      /^undo contract migrations 0002_drop_legacy_text in staging cannot be undone automatically/,
    );
    // Staging's contract migration already ran and is still there: nothing undid it while the SRE was asked.
    expect(engine.database('staging').schema()).toEqual({ greetings: ['id', 'text', 'locale'] });
    await engine.reject(releaseId, 'intervention-2', 'sam', 'legacy_text is gone; restoring it from backup by hand');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('failed');
    expect(done.outcome?.reason).toBe(
      `migration 0002_drop_legacy_text (contract) of ${engine.service} failed and it was rolled back: lock timeout on greetings; some compensations did not run (see compensations)`,
    );
    const [s, p] = [engine.region('s'), engine.region('p')];
    const stopped = 'not run: the rollback stopped at "undo contract migrations 0002_drop_legacy_text in staging"';
    expect(done.compensations.map((c) => [c.name, c.status, c.error])).toEqual([
      ['undo contract migrations 0002_drop_legacy_text in production', 'done', 'cannot be undone automatically'],
      ['undo contract migrations 0002_drop_legacy_text in staging', 'skipped', 'cannot be undone automatically'],
      [`revert ${p} to 1.0.0`, 'skipped', stopped],
      ['revert expand migrations 0001_greeting_locale in production', 'skipped', stopped],
      [`revert ${s} to 1.0.0`, 'skipped', stopped],
      ['revert expand migrations 0001_greeting_locale in staging', 'skipped', stopped],
      [`demote artifact ${engine.service}@1.4.0`, 'skipped', stopped],
    ]);
    // Old code on a contracted schema would break: the regions stay on the new version.
    expect([engine.runs('s'), engine.runs('p')]).toEqual(['1.4.0', '1.4.0']);
    expect(engine.database('production').schema()).toEqual({ greetings: ['id', 'text', 'legacy_text', 'locale'] });
    expect(done.migrations?.map((m) => [m.environment, m.phase, m.state])).toEqual([
      ['staging', 'expand', 'applied'],
      ['staging', 'contract', 'applied'],
      ['production', 'expand', 'applied'],
      ['production', 'contract', 'failed'],
    ]);
  }, 60_000);

  it('a reversible expand migration is reverted with its down file when a later wave fails', async () => {
    const engine = await engines.start({
      environments: [{ name: 'production', database: true, waves: [['a'], ['b']] }],
    });
    await seedGreetings(engine, ['production']);
    await engine.publish('1.4.0', { migrations: EXPAND });
    engine.metrics.program('1.4.0', 'fail', { region: engine.region('b') });
    const { releaseId } = await engine.start('1.4.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.compensations.map((c) => [c.name, c.status])).toEqual([
      [`revert ${engine.region('b')} to 1.0.0`, 'done'],
      [`revert ${engine.region('a')} to 1.0.0`, 'done'],
      ['revert expand migrations 0001_greeting_locale in production', 'done'],
      [`demote artifact ${engine.service}@1.4.0`, 'done'],
    ]);
    expect(done.timeline.map((e) => e.message)).toContain(
      'expand migrations reverted in production: 0001_greeting_locale',
    );
    expect(done.migrations?.map((m) => m.state)).toEqual(['reverted']);
    expect(engine.database('production').schema()).toEqual({ greetings: ['id', 'text', 'legacy_text'] });
    expect(engine.database('production').applied(engine.service)).toEqual([]);
  }, 60_000);

  it('an expand migration whose dry run fails stops the release before anything changes, with the database message', async () => {
    const engine = await engines.start({ environments: [{ name: 'production', database: true, waves: [['a']] }] });
    await engine.publish('1.4.0', { migrations: EXPAND });
    const { releaseId } = await engine.start('1.4.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome).toMatchObject({
      result: 'failed',
      reason: `migration 0001_greeting_locale (expand) of ${engine.service} failed and the dry run was rolled back: relation "greetings" does not exist`,
    });
    expect(done.compensations).toEqual([]);
    expect(engine.fleet.callsFor(releaseId)).toEqual([]);
    expect(engine.database('production').schema()).toEqual({});
    expect((await engine.artifacts.promotion(engine.service, '1.4.0')).status).toBe('candidate');
  }, 60_000);

  it('a version that carries migrations for a service without a database is refused, naming them', async () => {
    const engine = await engines.start();
    await engine.publish('1.4.0', { migrations: EXPAND });
    const { releaseId } = await engine.start('1.4.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome).toMatchObject({
      result: 'failed',
      reason: `${engine.service}@1.4.0 carries schema migrations (0001_greeting_locale (expand)), but no environment of ${engine.service} has a database (database: true in the catalog)`,
    });
    expect(engine.fleet.callsFor(releaseId)).toEqual([]);
  }, 60_000);
});
