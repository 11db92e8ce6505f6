// People steering a release in flight: pause and resume (also while a decision is pending), abort, one release per
// service at a time with a queue, and a region whose agent is not running.
import { describe, expect, it } from 'vitest';
import { doraFacts } from '../../api/visibility';
import { computeDora } from '../../domain/dora';
import { regionRolloutWorkflowId } from '../../domain/names';
import type { ReleaseStatus } from '../../domain/release-status';
import { regionPauseSignal } from '../../workflows/messages';
import { useWorkflowEngines, type WorkflowEngine } from '../support/workflow-engine';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Checks, for `ms`, that the release stays paused and that `region` is not promoted meanwhile. */
async function staysPaused(engine: WorkflowEngine, releaseId: string, region: string, ms: number) {
  const deadline = Date.now() + ms;
  let last: ReleaseStatus | undefined;
  while (Date.now() < deadline) {
    last = await engine.status(releaseId);
    expect([last.stage, last.paused]).toEqual(['paused', true]);
    await sleep(200);
  }
  expect(engine.fleet.callsFor(releaseId).filter((c) => c.operation === 'promote' && c.region === region)).toEqual([]);
  return last;
}

describe('pause and resume', () => {
  const engines = useWorkflowEngines();

  it('a resume sent straight to a region (not through the API) does not move it on while the release is paused', async () => {
    const engine = await engines.start({ environments: [{ name: 'production', waves: [['a'], ['b']] }] });
    const a = engine.region('a');
    const { releaseId } = await engine.start('1.1.0', { bakeSeconds: 3 });
    await engine.waitFor(releaseId, (s) => (s.regions[0]?.trafficPercent ?? 0) > 0, `${a} on its first step`);
    await engine.pause(releaseId, 'sam', 'checking dashboards');
    await engine.waitFor(releaseId, (s) => s.stage === 'paused', 'the pause');

    // What someone with write access to the namespace could send: the region's own "go on" message.
    const region = engine.client.workflow.getHandle(regionRolloutWorkflowId(engine.service, releaseId, a));
    await region.signal(regionPauseSignal, { paused: false });
    await engine.waitFor(releaseId, (s) => (s.regions[0]?.verdicts.length ?? 0) > 0, `the analysis of ${a}`);
    await staysPaused(engine, releaseId, a, 2000);

    await engine.resume(releaseId, 'sam');
    expect((await engine.waitForOutcome(releaseId)).outcome?.result).toBe('succeeded');
  }, 60_000);

  it('a pause during an inconclusive analysis keeps the release paused after the decision, until resumed', async () => {
    const engine = await engines.start();
    const a = engine.region('a');
    engine.metrics.program('1.1.0', 'inconclusive');
    const { releaseId } = await engine.start('1.1.0');
    const gate = `analysis-${a}-step-1`;
    await engine.waitForGate(releaseId, gate);

    await engine.pause(releaseId, 'sam', 'incident on the payment provider');
    await engine.waitFor(releaseId, (s) => s.stage === 'paused', 'the pause');
    await engine.approve(releaseId, gate, 'alice');
    const held = await staysPaused(engine, releaseId, a, 2000);
    expect(held?.gates.find((g) => g.id === gate)?.status).toBe('approved');

    await engine.resume(releaseId, 'sam');
    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.runs('a')).toBe('1.1.0');
  }, 60_000);

  it('a pause during a config-drift decision keeps the release paused after the decision, until resumed', async () => {
    const engine = await engines.start({
      environments: [
        { name: 'staging', waves: [['s']] },
        { name: 'production', waves: [['p']] },
      ],
    });
    await engine.setConfig('staging', 'cache/ttl');
    const { releaseId } = await engine.start('1.1.0');
    await engine.waitForGate(releaseId, 'config-parity-production');

    await engine.pause(releaseId, 'sam');
    await engine.waitFor(releaseId, (s) => s.stage === 'paused', 'the pause');
    await engine.approve(releaseId, 'config-parity-production', 'alice');
    await staysPaused(engine, releaseId, engine.region('p'), 2000);
    expect(engine.fleet.callsFor(releaseId).filter((c) => c.region === engine.region('p'))).toEqual([]);

    await engine.resume(releaseId, 'sam');
    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.runs('p')).toBe('1.1.0');
  }, 60_000);
});

describe('abort', () => {
  const engines = useWorkflowEngines();

  it('while paused ends the pause and rolls back', async () => {
    const engine = await engines.start();
    const { releaseId } = await engine.start('1.1.0', { bakeSeconds: 10 });
    await engine.waitFor(releaseId, (s) => s.regions[0]?.trafficPercent === 50, 'the canary at 50%');
    await engine.pause(releaseId, 'sam');
    await engine.waitFor(releaseId, (s) => s.stage === 'paused', 'the pause');

    await engine.abort(releaseId, 'sid', 'giving up on this version');
    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.paused).toBe(false);
    expect(done.timeline.map((e) => e.message)).toContain('no longer paused: rolling back');
    expect(engine.runs('a')).toBe('1.0.0');
  }, 60_000);

  // Before patched('aborted-outcome'), a release aborted before it changed anything ended `failed` (nothing was
  // compensated, so it was not "rolled-back"), and DORA counted it as a failed change.
  it('during validation (a slow artifact verification) ends aborted: nothing deployed, nothing compensated, not a failed change', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const engine = await engines.start();
    const slow = engine.providers.verifier.hold();
    const { releaseId } = await engine.start('1.1.0');
    await engine.waitFor(releaseId, () => slow.waiting > 0, 'the artifact verification to start');
    expect((await engine.status(releaseId)).stage).toBe('validating');

    await engine.abort(releaseId, 'sid', 'wrong version picked');
    const done = await engine.waitForOutcome(releaseId);
    expect(engine.fleet.callsFor(releaseId)).toEqual([]);
    expect(done.compensations).toEqual([]);
    expect((await engine.artifacts.promotion(engine.service, '1.1.0')).status).toBe('candidate');
    expect(done.outcome?.result).toBe('aborted');
    expect(done.outcome?.reason).toBe('aborted by sid before it changed anything: wrong version picked');
    expect(done.stage).toBe('aborted');
    // Nothing changed, so nothing to review: no post-incident record.
    expect(engine.audit.actions(releaseId)).not.toContain('incident.opened');
    expect(engine.audit.actions(releaseId).at(-1)).toBe('release.aborted');

    // DORA: an aborted release delivered nothing and broke nothing, so it is not a change failure.
    const period = { from: since, to: new Date(Date.now() + 60_000).toISOString() };
    let facts = await doraFacts(engine.client, engine.service, period, () => Promise.resolve(undefined));
    for (let attempt = 0; attempt < 20 && facts.releases.length === 0; attempt++) {
      await sleep(200); // visibility catches up with the closed release
      facts = await doraFacts(engine.client, engine.service, period, () => Promise.resolve(undefined));
    }
    const dora = computeDora(engine.service, period, facts.releases, facts.rollbacks);
    expect(dora.releases.failed).toBe(0);
    expect(dora.changeFailureRate.failures).toBe(0);
  }, 60_000);
});

describe('a region that goes quiet while it rolls out', () => {
  const engines = useWorkflowEngines();

  it('is flagged while its siblings finish, and cleared when it answers again', async () => {
    const engine = await engines.start({
      environments: [{ name: 'production', waves: [['a', 'b']] }],
      service: { stallAlertSeconds: 1 },
    });
    const [a, b] = [engine.region('a'), engine.region('b')];
    // b's deploy does not answer (its fleet is stuck), so b reports nothing.
    const stuck = engine.fleet.hold({ operation: 'deploy', region: b });
    const { releaseId } = await engine.start('1.1.0');

    const stalled = await engine.waitFor(
      releaseId,
      (s) => s.regions.find((r) => r.region === b)?.stalledSince !== undefined,
      `${b} to be flagged`,
    );
    expect(stalled.stage).toBe('needs-attention');
    expect(stalled.regions.find((r) => r.region === a)?.stalledSince).toBeUndefined();
    expect(stalled.timeline.map((e) => e.message)).toContainEqual(
      expect.stringMatching(new RegExp(`^${b}: no progress for`)),
    );

    stuck.open();
    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.regions.every((r) => r.stalledSince === undefined)).toBe(true);
    expect(done.timeline.map((e) => e.message)).toContain(`${b}: progress again`);
    expect([engine.runs('a'), engine.runs('b')]).toEqual(['1.1.0', '1.1.0']);
  }, 60_000);
});
