// Releases that must not go on: a failing canary, a failing smoke test, an analysis that cannot decide, an artifact
// that cannot be trusted. What was done is undone in reverse order; what was never touched stays untouched.
import { describe, expect, it } from 'vitest';
import { useWorkflowEngines } from '../support/workflow-engine';

describe('a release that fails', () => {
  const engines = useWorkflowEngines();

  it('a canary failing in a later wave rolls back every wave, the latest first, and says which numbers failed', async () => {
    const engine = await engines.start({ environments: [{ name: 'production', waves: [['a'], ['b'], ['c']] }] });
    const [a, b, c] = ['a', 'b', 'c'].map(engine.region) as [string, string, string];
    engine.metrics.program('2.0.0', 'fail', { region: c });
    const { releaseId } = await engine.start('2.0.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome).toMatchObject({
      result: 'rolled-back',
      reason: expect.stringContaining(
        `canary of 2.0.0 failed in ${c} at 50%: error rate 25.0% (100 of 400) is above the 5.0% ceiling; `,
      ) as string,
    });
    expect(['a', 'b', 'c'].map(engine.runs)).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(done.regions.map((r) => r.status)).toEqual(['reverted', 'reverted', 'reverted']);
    expect(done.compensations.map((x) => [x.name, x.status])).toEqual([
      [`revert ${c} to 1.0.0`, 'done'],
      [`revert ${b} to 1.0.0`, 'done'],
      [`revert ${a} to 1.0.0`, 'done'],
      [`demote artifact ${engine.service}@2.0.0`, 'done'],
    ]);
    // c reverted itself when its canary failed; then b, then a went back, in that order.
    const reverts = engine.journal.entries.filter((e) => /^revert [^(]/.test(e.what)).map((e) => e.what);
    expect(reverts).toEqual([`revert ${c} 1.0.0`, `revert ${b} 1.0.0`, `revert ${a} 1.0.0`]);
    for (const region of [a, b]) {
      expect(await engine.ledger.current(engine.service, region)).toMatchObject({
        version: '1.0.0',
        rolledBackFrom: '2.0.0',
      });
    }
    expect(engine.notifier.delivered.find((e) => e.kind === 'canary.failed')).toMatchObject({ region: c });
    expect(engine.notifier.kinds(releaseId).at(-1)).toBe('release.rolled-back');
  }, 60_000);

  it('a smoke test failing after promotion sends that region back and rolls back the wave before it', async () => {
    const engine = await engines.start({ environments: [{ name: 'production', waves: [['a'], ['b']] }] });
    const b = engine.region('b');
    engine.fleet.breakSmokeTest('1.1.0', b);
    const { releaseId } = await engine.start('1.1.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome).toMatchObject({
      result: 'rolled-back',
      reason: `smoke test of 1.1.0 failed in ${b}: 3 of 3 requests failed`,
    });
    expect(done.regions[1]).toMatchObject({ status: 'reverted', smokeTest: { passed: false, failures: 3 } });
    expect(['a', 'b'].map(engine.runs)).toEqual(['1.0.0', '1.0.0']);
  }, 60_000);

  it('an artifact that cannot be trusted (unsigned, or its bytes changed) fails the release before anything changes', async () => {
    const engine = await engines.start();
    await engine.publish('3.0.0', { signed: false });
    const unsigned = await engine.start('3.0.0');
    const refused = await engine.waitForOutcome(unsigned.releaseId);
    expect(refused.outcome?.result).toBe('failed');
    expect(refused.outcome?.reason).toMatch(
      new RegExp(
        `^${engine.service}@3.0.0 \\(sha256:[0-9a-f]{64}\\) is not signed, and ${engine.service} only releases signed artifacts$`,
      ),
    );

    engine.artifacts.tamper(engine.service, '1.2.0');
    const { digest } = (await engine.artifacts.resolve(engine.service, '1.2.0')) ?? { digest: '?' };
    const tampered = await engine.start('1.2.0');
    const broken = await engine.waitForOutcome(tampered.releaseId);
    expect(broken.outcome?.result).toBe('failed');
    expect(broken.outcome?.reason).toContain(`${engine.service}@1.2.0: blob ${digest} does not match its digest`);

    for (const done of [refused, broken]) expect(done.compensations).toEqual([]);
    expect(engine.fleet.calls).toEqual([]);
    expect((await engine.artifacts.promotion(engine.service, '1.2.0')).status).toBe('candidate');
  }, 60_000);

  it('a failing region stops the other regions of its wave, which go back without being promoted', async () => {
    const engine = await engines.start({ environments: [{ name: 'production', waves: [['a', 'b']] }] });
    const [a, b] = [engine.region('a'), engine.region('b')];
    engine.metrics.program('2.0.0', 'fail', { region: a });
    // b is slow to start its canary, so it is still deploying when a fails.
    const slowDeploy = engine.fleet.hold({ operation: 'deploy', region: b });
    const { releaseId } = await engine.start('2.0.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toContain(`canary of 2.0.0 failed in ${a} at 50%`);
    expect(done.regions.map((r) => [r.region, r.status])).toEqual([
      [a, 'reverted'],
      [b, 'reverted'],
    ]);
    expect(slowDeploy.isOpen).toBe(false);
    expect(
      engine.fleet.callsFor(releaseId).filter((c) => c.region === b && ['setTraffic', 'promote'].includes(c.operation)),
    ).toEqual([]);
    expect(['a', 'b'].map(engine.runs)).toEqual(['1.0.0', '1.0.0']);
  }, 60_000);

  it('a region that already runs the version but fails its smoke test stops the release before the next wave', async () => {
    const engine = await engines.start({ environments: [{ name: 'production', waves: [['a'], ['b']] }] });
    const a = engine.region('a');
    await engine.fleet.revert({ service: engine.service, region: a, version: '1.1.0', requestId: 'setup' });
    engine.fleet.breakSmokeTest('1.1.0', a);
    const { releaseId } = await engine.start('1.1.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.reason).toBe(
      `smoke test of 1.1.0 failed in ${a}, which already ran it: 3 of 3 requests failed`,
    );
    expect(done.regions.map((r) => r.status)).toEqual(['failed', 'pending']);
    // The release changed nothing in a, so nothing there is reverted; b was never touched.
    expect(engine.fleet.callsFor(releaseId)).toEqual([]);
    expect(['a', 'b'].map(engine.runs)).toEqual(['1.1.0', '1.0.0']);
  }, 60_000);

  it('an artifact whose bytes changed while the release waited is refused at promotion, before any region', async () => {
    const engine = await engines.start();
    await engine.calendar.put({
      id: 'hold',
      kind: 'one-off',
      reason: 'change freeze',
      start: new Date(Date.now() - 60_000).toISOString(),
      end: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const { releaseId } = await engine.start('1.1.0');
    await engine.waitFor(releaseId, (s) => s.stage === 'waiting-for-freeze', 'the freeze wait');
    engine.artifacts.tamper(engine.service, '1.1.0');
    await engine.calendar.delete('hold');
    await engine.calendarChanged(releaseId);

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.reason).toContain(
      `${engine.service}@1.1.0: blob ${done.artifactDigest} does not match its digest`,
    );
    expect(engine.fleet.callsFor(releaseId)).toEqual([]);
    expect((await engine.artifacts.promotion(engine.service, '1.1.0')).status).not.toBe('released');
  }, 60_000);
});

describe('an analysis that cannot decide', () => {
  const engines = useWorkflowEngines();

  it('nobody deciding within the decision timeout rolls the region back', async () => {
    const engine = await engines.start({ service: { approvals: { timeoutSeconds: 2 } } });
    engine.metrics.program('1.1.0', 'inconclusive');
    const { releaseId } = await engine.start('1.1.0');
    const a = engine.region('a');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toMatch(/and nobody \(the gate timed out\) chose to roll back$/);
    expect(done.gates.find((g) => g.id === `analysis-${a}-step-1`)?.status).toBe('timed-out');
    expect(engine.runs('a')).toBe('1.0.0');
  }, 60_000);
});
