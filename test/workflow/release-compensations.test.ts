// A rollback that cannot finish on its own: a compensation that fails, and a step that cannot be undone. The engine
// stops and asks an SRE instead of guessing, and the release says what was left.
import { describe, expect, it } from 'vitest';
import { useWorkflowEngines } from '../support/workflow-engine';

const twoWaves = [{ name: 'production', waves: [['a'], ['b']] }];

describe('a compensation that fails', () => {
  const engines = useWorkflowEngines();

  it('asks an SRE: approve tries it again, reject leaves it undone; the release ends failed and names what was left', async () => {
    const engine = await engines.start({ environments: twoWaves });
    const [a, b] = [engine.region('a'), engine.region('b')];
    engine.metrics.program('2.0.0', 'fail', { region: b });
    engine.fleet.fail({ operation: 'revert', region: a, times: 2, message: 'instance drain timed out' });
    const { releaseId } = await engine.start('2.0.0');

    const asking = await engine.waitForGate(releaseId, 'intervention-1');
    expect(asking.stage).toBe('needs-attention');
    expect(asking.gates.find((g) => g.id === 'intervention-1')).toMatchObject({
      kind: 'intervention',
      roles: ['sre'],
      description: `revert ${a} to 1.0.0 failed: instance drain timed out; approve to try again, reject to leave it undone (fix it by hand)`,
    });
    expect(asking.compensations.find((c) => c.name === `revert ${a} to 1.0.0`)?.status).toBe('needs-human');
    await expect(engine.approve(releaseId, 'intervention-1', 'alice')).rejects.toMatchObject({
      code: 'DECISION_FORBIDDEN',
      message: 'alice cannot approve gate intervention-1: it needs the sre role',
    });
    await engine.approve(releaseId, 'intervention-1', 'sid', 'drain finished, try again');

    // The retry fails too: asked again.
    await engine.waitForGate(releaseId, 'intervention-2');
    await engine.reject(releaseId, 'intervention-2', 'sam', 'draining by hand');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('failed');
    expect(done.outcome?.reason).toMatch(
      new RegExp(
        `^canary of 2\\.0\\.0 failed in ${b} at 50%: .*; some compensations did not run \\(see compensations\\)$`,
      ),
    );
    expect(done.compensations.map((c) => [c.name, c.status, c.error])).toEqual([
      [`revert ${b} to 1.0.0`, 'done', undefined],
      [`revert ${a} to 1.0.0`, 'skipped', 'instance drain timed out'],
      // Leaving one compensation undone does not stop the others.
      [`demote artifact ${engine.service}@2.0.0`, 'done', undefined],
    ]);
    expect(done.timeline.map((e) => e.message)).toContain(
      `compensation left undone: revert ${a} to 1.0.0 (instance drain timed out)`,
    );
    expect([engine.runs('a'), engine.runs('b')]).toEqual(['2.0.0', '1.0.0']);
    expect(
      engine.fleet
        .callsFor(releaseId)
        .filter((c) => c.operation === 'revert' && c.region === a)
        .map((c) => c.result),
    ).toEqual(['failed', 'failed']);
    // The ledger keeps telling the truth: a still runs 2.0.0.
    expect(await engine.ledger.current(engine.service, a)).toMatchObject({ version: '2.0.0' });
    expect(engine.audit.records.find((r) => r.action === 'compensation.left-undone')).toMatchObject({
      reason: `revert ${a} to 1.0.0: instance drain timed out`,
    });
    expect(engine.notifier.kinds(releaseId).at(-1)).toBe('release.failed');
    // It opens a post-incident record with the SREs' decisions on the way, owned by its requester.
    const opened = engine.audit.records.find((r) => r.releaseId === releaseId && r.action === 'incident.opened');
    expect(opened?.details).toMatchObject({
      kind: 'release-failed',
      owner: done.requestedBy,
      decisions: [
        'intervention-1: approved by sid: drain finished, try again',
        'intervention-2: rejected by sam: draining by hand',
      ],
    });
    expect(opened?.reason).toBe(done.outcome?.reason);
  }, 60_000);

  it('approved, a retry that works completes the rollback', async () => {
    const engine = await engines.start({ environments: twoWaves });
    const [a, b] = [engine.region('a'), engine.region('b')];
    engine.metrics.program('2.0.0', 'fail', { region: b });
    engine.fleet.fail({ operation: 'revert', region: a, times: 1, message: 'instance drain timed out' });
    const { releaseId } = await engine.start('2.0.0');
    await engine.waitForGate(releaseId, 'intervention-1');
    await engine.approve(releaseId, 'intervention-1', 'sid');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.compensations.map((c) => [c.name, c.status])).toEqual([
      [`revert ${b} to 1.0.0`, 'done'],
      [`revert ${a} to 1.0.0`, 'done'],
      [`demote artifact ${engine.service}@2.0.0`, 'done'],
    ]);
    expect([engine.runs('a'), engine.runs('b')]).toEqual(['1.0.0', '1.0.0']);
  }, 60_000);
});

describe('an irreversible step reached by a rollback (an expand migration without a down file)', () => {
  const engines = useWorkflowEngines();
  const withoutDown = {
    '0001_audit_log.expand.up.sql': 'CREATE TABLE audit_log (id serial PRIMARY KEY, entry text NOT NULL);',
  };

  it('stops the rollback and asks an SRE; left undone, nothing that came before it is undone either', async () => {
    const engine = await engines.start({
      environments: [{ name: 'production', database: true, waves: [['a'], ['b']] }],
    });
    const [a, b] = [engine.region('a'), engine.region('b')];
    await engine.publish('2.1.0', { migrations: withoutDown });
    engine.metrics.program('2.1.0', 'fail', { region: b });
    const { releaseId } = await engine.start('2.1.0');

    const asking = await engine.waitForGate(releaseId, 'intervention-1');
    const step = 'revert expand migrations 0001_audit_log in production';
    expect(asking.gates.find((g) => g.id === 'intervention-1')?.description).toBe(
      `${step} cannot be undone automatically; approve once it has been handled by hand, reject to leave it undone`,
    );
    // What came after it in the release (the regions) was already undone before the engine stopped.
    expect([engine.runs('a'), engine.runs('b')]).toEqual(['1.0.0', '1.0.0']);
    await engine.reject(releaseId, 'intervention-1', 'sid', 'the table is harmless; keep it');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('failed');
    expect(done.compensations.map((c) => [c.name, c.status, c.error])).toEqual([
      [`revert ${b} to 1.0.0`, 'done', undefined],
      [`revert ${a} to 1.0.0`, 'done', undefined],
      [step, 'skipped', 'cannot be undone automatically'],
      [`demote artifact ${engine.service}@2.1.0`, 'skipped', `not run: the rollback stopped at "${step}"`],
    ]);
    expect(engine.database('production').schema()).toHaveProperty('audit_log');
    expect(engine.database('production').applied(engine.service)).toEqual([
      { id: '0001_audit_log', phase: 'expand', releaseId },
    ]);
    expect((await engine.artifacts.promotion(engine.service, '2.1.0')).status).toBe('released');
  }, 60_000);

  it('approved as handled by hand, the rollback carries on with what came before it', async () => {
    const engine = await engines.start({
      environments: [{ name: 'production', database: true, waves: [['a'], ['b']] }],
    });
    await engine.publish('2.1.0', { migrations: withoutDown });
    engine.metrics.program('2.1.0', 'fail', { region: engine.region('b') });
    const { releaseId } = await engine.start('2.1.0');
    await engine.waitForGate(releaseId, 'intervention-1');
    await engine.approve(releaseId, 'intervention-1', 'sid', 'dropped the table by hand');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.timeline.map((e) => e.message)).toContain(
      'compensation handled by a human: revert expand migrations 0001_audit_log in production (cannot be undone automatically)',
    );
    expect((await engine.artifacts.promotion(engine.service, '2.1.0')).status).toBe('demoted');
  }, 60_000);
});
