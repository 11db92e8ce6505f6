// Emergency rollbacks, for SREs: put a service back on its last known-good versions, after a release or while one
// is in flight (which is aborted first and rolls itself back before the rollback touches anything).
import { describe, expect, it } from 'vitest';
import { useWorkflowEngines } from '../support/workflow-engine';

const stagingThenProduction = [
  { name: 'staging', waves: [['s']] },
  { name: 'production', waves: [['p']] },
];

describe('an emergency rollback', () => {
  const engines = useWorkflowEngines();

  it('after a release, puts every region back on the version before it and records who and why', async () => {
    const engine = await engines.start({ environments: stagingThenProduction });
    const { releaseId } = await engine.start('1.1.0');
    expect((await engine.waitForOutcome(releaseId)).outcome?.result).toBe('succeeded');

    await expect(engine.rollback('sam', '   ')).rejects.toMatchObject({
      code: 'ROLLBACK_REFUSED',
      message: 'an emergency rollback needs a reason',
    });
    // Named like the release it undoes (a pipeline reusing its id): a rollback id is not a release id, so it runs.
    const { rollbackId, aborted, alreadyStarted } = await engine.rollback('sam', 'latency spike after 1.1.0', {
      rollbackId: releaseId,
    });
    expect([aborted, alreadyStarted]).toEqual([[], false]);
    const done = await engine.waitForRollback(rollbackId);

    expect(done.stage).toBe('succeeded');
    expect(done.regions.map((r) => [r.region, r.status, r.from, r.to])).toEqual([
      [engine.region('s'), 'reverted', '1.1.0', '1.0.0'],
      [engine.region('p'), 'reverted', '1.1.0', '1.0.0'],
    ]);
    expect([engine.runs('s'), engine.runs('p')]).toEqual(['1.0.0', '1.0.0']);
    expect(await engine.ledger.current(engine.service, engine.region('p'))).toMatchObject({
      version: '1.0.0',
      releaseId: rollbackId,
      rolledBackFrom: '1.1.0',
      reason: 'emergency rollback by sam: latency spike after 1.1.0',
    });

    // Asked again, it finds every region already on its known-good version and changes nothing.
    const again = await engine.waitForRollback((await engine.rollback('sid', 'double-check')).rollbackId);
    expect(again.regions.map((r) => r.status)).toEqual(['already-good', 'already-good']);
    expect(engine.fleet.callsFor(again.rollbackId)).toEqual([]);
  }, 60_000);

  it('while a release waits at its gate, aborts it first; the release rolls itself back before the rollback starts', async () => {
    const engine = await engines.start({ environments: stagingThenProduction });
    const first = await engine.start('1.1.0');
    expect((await engine.waitForOutcome(first.releaseId)).outcome?.result).toBe('succeeded');
    const { releaseId } = await engine.start('1.3.0', { changeClass: 'normal' });
    await engine.waitForGate(releaseId, 'production-approval');
    expect(engine.runs('s')).toBe('1.3.0');

    const { rollbackId, aborted } = await engine.rollback('sam', 'checkout errors');
    expect(aborted).toEqual([releaseId]);
    const rollback = await engine.waitForRollback(rollbackId);
    const release = await engine.waitForOutcome(releaseId);

    expect(release.outcome).toMatchObject({
      result: 'rolled-back',
      reason: `aborted by sam: emergency rollback ${rollbackId}: checkout errors`,
    });
    expect((await engine.artifacts.promotion(engine.service, '1.3.0')).status).toBe('demoted');
    expect(rollback.stage).toBe('succeeded');
    expect(rollback.timeline.map((e) => e.message)).toContain(
      'waiting for the release in progress to finish rolling itself back',
    );
    // The rollback changed nothing before the release had finished its own compensation.
    const releaseDone = engine.journal.entries.find(
      (e) => e.what === `demoted ${engine.service}@1.3.0 by ${releaseId}`,
    );
    for (const call of engine.fleet.callsFor(rollbackId)) {
      expect(Date.parse(call.at)).toBeGreaterThanOrEqual(Date.parse(releaseDone?.at ?? ''));
    }
    expect([engine.runs('s'), engine.runs('p')]).not.toContain('1.3.0');
    expect(rollback.regions.every((r) => r.status === 'reverted' || r.status === 'already-good')).toBe(true);
  }, 60_000);

  it('of some regions: no release may start meanwhile, a region whose revert fails is reported for a human, the rest go back', async () => {
    const engine = await engines.start({ environments: [{ name: 'production', waves: [['a', 'b', 'c']] }] });
    const [a, b] = [engine.region('a'), engine.region('b')];
    const { releaseId } = await engine.start('1.1.0');
    expect((await engine.waitForOutcome(releaseId)).outcome?.result).toBe('succeeded');
    const slowRevert = engine.fleet.hold({ operation: 'revert', region: a });
    engine.fleet.fail({ operation: 'revert', region: b, message: 'instance drain timed out' });

    const { rollbackId } = await engine.rollback('sam', 'bad config in a and b', { regions: ['a', 'b'] });
    await expect(engine.start('1.2.0')).rejects.toMatchObject({
      code: 'RELEASE_IN_PROGRESS',
      message: `an emergency rollback of ${engine.service} (${rollbackId}, by sam) is in progress; start the release after it`,
    });
    slowRevert.open();
    const done = await engine.waitForRollback(rollbackId);

    expect(done.stage).toBe('failed');
    expect(done.regions.map((r) => [r.region, r.status, r.to, r.error])).toEqual([
      [a, 'reverted', '1.0.0', undefined],
      [b, 'failed', '1.0.0', 'instance drain timed out'],
    ]);
    expect(done.timeline.at(-1)?.message).toBe(`emergency rollback failed in ${b}: those regions need a human`);
    expect(['a', 'b', 'c'].map(engine.runs)).toEqual(['1.0.0', '1.1.0', '1.1.0']);
    // The ledger records only what really happened.
    expect(await engine.ledger.current(engine.service, b)).toMatchObject({ version: '1.1.0', releaseId });
  }, 60_000);

  it('with nothing released yet, leaves every region as it is and says there is no known-good version', async () => {
    const engine = await engines.start();
    const done = await engine.waitForRollback((await engine.rollback('sam', 'just in case')).rollbackId);
    expect(done.stage).toBe('succeeded');
    expect(done.regions.map((r) => r.status)).toEqual(['no-known-good']);
    expect(done.timeline.map((e) => e.message)).toContain(
      `${engine.region('a')}: no known-good version before 1.0.0 in the ledger; left as it is: an SRE must decide where it goes`,
    );
    expect(engine.fleet.calls).toEqual([]);
  }, 60_000);

  // Before patched('rollback-safe-targets'), the rollback took production from 1.3.0 onto 1.1.0, the version the
  // aborted release's own compensation had just demoted, because the ledger still listed 1.1.0 as the known-good
  // version before 1.3.0.
  it('aborting a waiting downgrade never lands production on the version that release just demoted, and says per region why', async () => {
    const engine = await engines.start({ environments: stagingThenProduction });
    for (const version of ['1.1.0', '1.3.0']) {
      const { releaseId } = await engine.start(version);
      expect((await engine.waitForOutcome(releaseId)).outcome?.result).toBe('succeeded');
    }
    // A downgrade to 1.1.0, waiting at the production approval after staging moved.
    const downgrade = await engine.start('1.1.0', { changeClass: 'normal' });
    await engine.waitForGate(downgrade.releaseId, 'production-approval');
    expect([engine.runs('s'), engine.runs('p')]).toEqual(['1.1.0', '1.3.0']);

    const { rollbackId, aborted } = await engine.rollback('sam', 'checkout errors');
    expect(aborted).toEqual([downgrade.releaseId]);
    const rollback = await engine.waitForRollback(rollbackId);
    const release = await engine.waitForOutcome(downgrade.releaseId);
    expect(release.outcome?.result).toBe('rolled-back');
    expect((await engine.artifacts.promotion(engine.service, '1.1.0')).status).toBe('demoted');

    const p = engine.region('p');
    const production = rollback.regions.find((r) => r.region === p);
    const landed = engine.runs('p');
    expect(landed).not.toBe('1.1.0');
    expect(production?.to).not.toBe('1.1.0');
    if (landed !== '1.3.0') {
      // Moved: onto a version that is not demoted (and so not the target of an aborted or failed release).
      expect((await engine.artifacts.promotion(engine.service, landed ?? '')).status).not.toBe('demoted');
    } else {
      // Left: the timeline says there was no safe target and an SRE must decide.
      expect(rollback.timeline.filter((e) => e.region === p).map((e) => e.message)).toContainEqual(
        expect.stringMatching(/no safe|SRE/i),
      );
    }
    // Every region's entry says why its target was chosen.
    for (const region of rollback.regions) {
      const said = rollback.timeline.filter((e) => e.region === region.region).map((e) => e.message);
      expect(said).toContainEqual(expect.stringMatching(/known-good|demoted|no safe|because|aborted|failed/i));
    }
  }, 60_000);
});
