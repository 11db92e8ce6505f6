// Emergency rollbacks, for SREs: put a service back on its last known-good versions, after a release or while one
// is in flight (which is aborted first and rolls itself back before the rollback touches anything).
import { describe, expect, it } from 'vitest';
import { waitUntil } from '../support/wait';
import { useWorkflowEngines } from '../support/workflow-engine';

const stagingThenProduction = [
  { name: 'staging', waves: [['s']] },
  { name: 'production', waves: [['p']] },
];

describe('an emergency rollback', () => {
  const engines = useWorkflowEngines();

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
    // So does the audit trail, ending with the post-incident record the rollback opens, which names the failed region
    // (written as the rollback's last act, just after its status says it failed).
    await waitUntil(() => Promise.resolve(engine.audit.actions(rollbackId).includes('incident.opened')), 10_000);
    expect(engine.audit.actions(rollbackId)).toEqual([
      'rollback.requested',
      'region.reverted',
      'region.rollback-failed',
      'rollback.failed',
      'incident.opened',
    ]);
    expect(engine.audit.records.find((r) => r.releaseId === rollbackId && r.region === b)?.reason).toBe(
      'instance drain timed out',
    );
    expect(engine.audit.records.at(-1)).toMatchObject({
      action: 'incident.opened',
      reason: `emergency rollback by sam: bad config in a and b; it failed in ${b}`,
      details: { kind: 'emergency-rollback', owner: 'sam' },
    });
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
