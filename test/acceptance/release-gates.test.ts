// Approval gates: who may approve, quorum, timeouts and rejection, as approvers and pipelines meet them over HTTP.
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { type TestEngine, useEngines } from '../support/engine';

/** Who made each Update the release accepted into its history (refused ones must not appear). */
async function acceptedUpdates(engine: TestEngine, releaseId: string): Promise<string[]> {
  const events = await engine.history(`release/${engine.service}/${releaseId}`);
  return events
    .filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)
    .map((e) => {
      const [payload] = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads ?? [];
      const decision = payload
        ? defaultPayloadConverter.fromPayload<{ principal: { id: string } }>(payload)
        : undefined;
      return decision?.principal.id ?? '?';
    });
}

describe('approval gates', () => {
  const engines = useEngines();

  it('a normal change waits at the production gate; only a separate approver can open it', async () => {
    const engine = await engines.start({
      record: 'gate-normal-with-staging',
      environments: [
        { name: 'staging', waves: [['s']] },
        { name: 'production', waves: [['a'], ['b', 'c']] },
      ],
    });
    const { service } = engine;
    const ref = { service, releaseId: 'normal-1' };
    await engine.trpc('dana').release.start.mutate({ ...ref, version: '1.1.0', changeClass: 'normal' });

    // Before the gate opens (staging is still rolling out), an approval is refused as the wrong stage.
    const early = await engine.waitForStatus('normal-1', (s) => s.regions[0]?.status === 'canary');
    expect(early.gates.map((g) => [g.id, g.status])).toEqual([['production-approval', 'pending']]);
    await expect(engine.trpc('alice').release.approve.mutate({ ...ref, gate: 'production-approval' })).rejects.toThrow(
      /gate production-approval is not waiting for decisions yet/,
    );

    const waiting = await engine.waitForStatus('normal-1', (s) => s.stage === 'awaiting-approval');
    const [stagingRegion, ...production] = waiting.regions;
    expect(stagingRegion?.status).toBe('succeeded');
    expect(production.every((r) => r.status === 'pending')).toBe(true);
    expect(waiting.timeline.map((e) => e.message)).toContain(
      `gate promote-to-production passed: every region of staging passed its smoke test, and production has the config keys staging has, before production starts`,
    );

    // Self-approval, a missing role, an unknown gate: refused to the caller, with the reason and the right status.
    const self = await engine.rawCall('release.approve', { ...ref, gate: 'production-approval' }, engine.tokens.dana);
    expect(self.status).toBe(403);
    expect(self.body.error?.message).toBe(
      'you cannot approve your own release (dana requested it); another person must decide',
    );
    const noRole = await engine.rawCall('release.approve', { ...ref, gate: 'production-approval' }, engine.tokens.ci);
    expect(noRole.status).toBe(403);
    expect(noRole.body.error?.message).toMatch(/needs the approver or sre role/);
    const unknown = await engine.rawCall('release.approve', { ...ref, gate: 'prod' }, engine.tokens.alice);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.message).toMatch(
      /there is no gate "prod" in this release \(its gates: production-approval\)/,
    );

    const approved = await engine
      .trpc('alice')
      .release.approve.mutate({ ...ref, gate: 'production-approval', comment: 'change ticket CHG-1' });
    expect(approved.status).toBe('approved');
    // The gate is closed now: a late second approval is refused, not counted.
    await expect(engine.trpc('bob').release.approve.mutate({ ...ref, gate: 'production-approval' })).rejects.toThrow(
      /not waiting for decisions: it is already approved/,
    );

    const done = await engine.waitForOutcome('normal-1');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.regions.map((r) => [r.region, r.environment, r.status, r.trafficPercent])).toEqual(
      engine.regions.map((region, i) => [region, i === 0 ? 'staging' : 'production', 'succeeded', 100]),
    );
    expect(done.gates[0]?.decisions).toEqual([
      expect.objectContaining({ by: 'alice', decision: 'approve', comment: 'change ticket CHG-1' }),
    ]);
    // The timeline tells the story in order.
    const story = done.timeline.map((e) => e.message);
    const order = [
      'wave 1 of 3 (staging)',
      'gate production-approval is waiting',
      'alice approved gate production-approval: change ticket CHG-1',
      'wave 2 of 3 (production)',
      'wave 3 of 3 (production)',
      'succeeded in 4 regions',
    ].map((text) => story.findIndex((m) => m.includes(text)));
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);

    // Refused decisions never entered history: only alice's approval did.
    expect(await acceptedUpdates(engine, 'normal-1')).toEqual(['alice']);
  });

  it('an emergency change needs two different approvers; the same one twice does not count', async () => {
    const engine = await engines.start({ record: 'gate-emergency-quorum', waves: [['a']] });
    const { service } = engine;
    const ref = { service, releaseId: 'emergency-1' };
    await engine
      .trpc('ci')
      .release.start.mutate({ ...ref, version: '1.1.0', changeClass: 'emergency', reason: 'payments outage hotfix' });
    await engine.waitForStatus('emergency-1', (s) => s.stage === 'awaiting-approval');

    const first = await engine.trpc('alice').release.approve.mutate({ ...ref, gate: 'production-approval' });
    expect([first.status, first.decisions.length, first.quorum]).toEqual(['waiting', 1, 2]);
    const twice = await engine.rawCall('release.approve', { ...ref, gate: 'production-approval' }, engine.tokens.alice);
    expect(twice.status).toBe(409);
    expect(twice.body.error?.message).toBe('alice has already decided on gate production-approval');
    const second = await engine.trpc('bob').release.approve.mutate({ ...ref, gate: 'production-approval' });
    expect(second.status).toBe('approved');

    const done = await engine.waitForOutcome('emergency-1');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.reason).toBe('payments outage hotfix');
    expect(await acceptedUpdates(engine, 'emergency-1')).toEqual(['alice', 'bob']);
  });

  it('a gate nobody decides on times out and rolls the release back, saying why', async () => {
    const engine = await engines.start({
      record: 'gate-timeout',
      waves: [['a']],
      service: { approvals: { timeoutSeconds: 3 } },
    });
    const { service } = engine;
    await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.1.0', releaseId: 'timeout-1', changeClass: 'normal' });

    const done = await engine.waitForOutcome('timeout-1');
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toBe('gate production-approval timed out after 3s with 0 of 1 approvals');
    expect(done.gates[0]?.status).toBe('timed-out');
    // Nothing was deployed; the only thing to undo was the artifact's promotion.
    expect(done.compensations.map((c) => [c.name, c.status])).toEqual([[`demote artifact ${service}@1.1.0`, 'done']]);
    expect(await engine.fleetEvents('timeout-1')).toEqual([]);
    expect((await engine.artifacts.promotion(service, '1.1.0')).status).toBe('demoted');
  });

  it('a rejection ends the release and rolls back what it did, keeping who and why', async () => {
    const engine = await engines.start({
      record: 'gate-rejected',
      environments: [
        { name: 'staging', waves: [['s']] },
        { name: 'production', waves: [['a']] },
      ],
    });
    const { service } = engine;
    const ref = { service, releaseId: 'reject-1' };
    await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.1.0', changeClass: 'normal' });
    await engine.waitForStatus('reject-1', (s) => s.stage === 'awaiting-approval');

    const withoutReason = await engine.rawCall(
      'release.reject',
      { ...ref, gate: 'production-approval' },
      engine.tokens.bob,
    );
    expect(withoutReason.status).toBe(400);
    expect(withoutReason.body.error?.message).toMatch(/comment/);
    const rejected = await engine.trpc('bob').release.reject.mutate({
      ...ref,
      gate: 'production-approval',
      comment: 'conflicts with the DB migration window',
    });
    expect(rejected.status).toBe('rejected');

    const done = await engine.waitForOutcome('reject-1');
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toBe(
      'gate production-approval was rejected by bob: conflicts with the DB migration window',
    );
    const [staging, production] = engine.regions as [string, string];
    // Staging had the new version and its expand migration: both went back; production was never touched.
    expect(done.compensations.map((c) => [c.name, c.status])).toEqual([
      [`revert ${staging} to 1.0.0`, 'done'],
      ['revert expand migrations 0001_greetings in staging', 'done'],
      [`demote artifact ${service}@1.1.0`, 'done'],
    ]);
    expect(done.migrations?.map((m) => [m.environment, m.phase, m.state])).toEqual([
      ['staging', 'expand', 'reverted'],
      ['production', 'expand', 'pending'],
    ]);
    expect((await engine.fleet.state({ service, region: staging })).stableVersion).toBe('1.0.0');
    expect((await engine.fleetEvents('reject-1')).filter((e) => e.region === production)).toEqual([]);
    expect(await engine.ledger.current(service, staging)).toMatchObject({ version: '1.0.0', rolledBackFrom: '1.1.0' });
  });
});
