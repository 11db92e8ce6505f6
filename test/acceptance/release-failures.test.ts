// When a release goes wrong: failing canaries, a failure in a later wave, an abort mid-bake, and an analysis that
// cannot decide. Each must end with every region on its previous version and the story told.
import { describe, expect, it } from 'vitest';
import { failureMessage, hitRouter, type TestEngine, useEngines } from '../support/engine';

describe('release failures and compensation', () => {
  const engines = useEngines();

  async function everyRegionOn(engine: TestEngine, version: string) {
    const states = await Promise.all(
      engine.regions.map((region) => engine.fleet.state({ service: engine.service, region })),
    );
    return states.map((s) => s.stableVersion).every((v) => v === version);
  }

  it('the failing version: its canary fails in the first region, which goes back; later regions are never touched', async () => {
    const engine = await engines.start({ record: 'failing-canary', waves: [['a'], ['b', 'c']] });
    const { service } = engine;
    const [a, b, c] = engine.regions as [string, string, string];
    await engine.trpc('ci').release.start.mutate({ service, version: '1.2.0', releaseId: 'bad-canary' });

    const done = await engine.waitForOutcome('bad-canary');
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toMatch(
      new RegExp(`canary of 1\\.2\\.0 failed in ${a} at 50%: error rate [\\d.]+% \\(\\d+/\\d+\\) .* mSPRT .* → fail`),
    );
    const regionA = done.regions.find((r) => r.region === a);
    expect(regionA?.verdicts.map((v) => v.verdict)).toEqual(['fail']);
    expect(regionA?.verdicts[0]?.canary.errorRate).toBeGreaterThan(0.1);
    expect(regionA?.status).toBe('reverted');

    expect(await everyRegionOn(engine, '1.0.0')).toBe(true);
    expect(await hitRouter(engine.routers[0]!.url)).toContain(`${service}@1.0.0`);
    const events = await engine.fleetEvents('bad-canary');
    expect(events.filter((e) => e.region === b || e.region === c)).toEqual([]);
    const inA = events.filter((e) => e.region === a).map((e) => e.event);
    expect(inA.filter((e) => !e.startsWith('baseline-'))).toEqual(['deploy', 'traffic', 'revert', 'revert-noop']);
    // The same-age baseline started with the canary and went with it.
    expect(inA.filter((e) => e.startsWith('baseline-'))).toEqual(['baseline-start', 'baseline-stop']);
    expect((await engine.artifacts.promotion(service, '1.2.0')).status).toBe('demoted');
    // 1.2.0 carries two expand migrations; they ran before the first wave and are reverted after its region.
    expect(done.compensations.map((c) => [c.name, c.status])).toEqual([
      [`revert ${a} to 1.0.0`, 'done'],
      ['revert expand migrations 0001_greetings, 0002_greeting_locale in production', 'done'],
      [`demote artifact ${service}@1.2.0`, 'done'],
    ]);
    // The Temporal UI heads the release with its outcome in words; the reason (a canary's numbers here, a person's
    // words elsewhere) stays sealed with the status.
    expect(await failureMessage(engine, 'bad-canary')).toBe(
      `${service}@1.2.0 (release bad-canary) rolled back as designed (CanaryFailed): 3 compensations ran in reverse order; the reason is in the release status (relctl release status, or the console)`,
    );
  });

  it('a failure in the second wave: both waves go back, the second before the first', async () => {
    const engine = await engines.start({ record: 'second-wave-failure', waves: [['a'], ['b', 'c']] });
    const { service } = engine;
    const [a, b, c] = engine.regions as [string, string, string];
    // A version that is fine everywhere but in region b (a region-specific dependency is broken there).
    const regional = { greeting: 'hi', failureRate: 0, failureRateIn: { [b]: 0.6 }, latencyMs: 5 };
    await engine.publish('1.5.0', regional);
    await engine.trpc('ci').release.start.mutate({ service, version: '1.5.0', releaseId: 'second-wave' });

    const done = await engine.waitForOutcome('second-wave');
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toContain(`canary of 1.5.0 failed in ${b}`);
    expect(done.regions.find((r) => r.region === a)?.smokeTest?.passed).toBe(true);
    expect(await everyRegionOn(engine, '1.0.0')).toBe(true);

    // Compensations: wave 2 (b and c, in parallel) first, then wave 1 (a), then the artifact.
    const names = done.compensations.map((comp) => comp.name);
    expect(names.slice(0, 2).sort()).toEqual([`revert ${b} to 1.0.0`, `revert ${c} to 1.0.0`].sort());
    expect(names.slice(2)).toEqual([`revert ${a} to 1.0.0`, `demote artifact ${service}@1.5.0`]);
    expect(done.compensations.every((comp) => comp.status === 'done')).toBe(true);
    // The fleet saw it in that order too: a went back last.
    const reverts = (await engine.fleetEvents('second-wave')).filter((e) => e.event === 'revert');
    expect(reverts.at(-1)?.region).toBe(a);
    expect(reverts.map((e) => e.region).sort()).toEqual([a, b, c].sort());
    // The ledger says so: a had recorded 1.5.0, and now records the way back.
    expect(await engine.ledger.current(service, a)).toMatchObject({ version: '1.0.0', rolledBackFrom: '1.5.0' });
  });

  it('an abort during a bake rolls back what was done, and only an SRE may abort', async () => {
    const engine = await engines.start({ record: 'abort-during-bake', waves: [['a'], ['b']], bakeSeconds: 30 });
    const { service } = engine;
    const ref = { service, releaseId: 'abort-1' };
    await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.1.0' });
    await engine.waitForStatus('abort-1', (s) => s.regions[0]?.trafficPercent === 50);

    const byApprover = await engine.rawCall('release.abort', { ...ref, reason: 'no' }, engine.tokens.alice);
    expect(byApprover.status).toBe(403);
    expect(byApprover.body.error?.message).toMatch(/needs the sre role/);
    const started = Date.now();
    await engine.trpc('sam').release.abort.mutate({ ...ref, reason: 'latency alarm in eu' });

    const done = await engine.waitForOutcome('abort-1');
    // It did not wait for the 30s bake to end.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toBe('aborted by sam: latency alarm in eu');
    expect(await everyRegionOn(engine, '1.0.0')).toBe(true);
    expect((await engine.fleetEvents('abort-1')).filter((e) => e.region === engine.regions[1])).toEqual([]);
    const again = await engine.rawCall('release.abort', { ...ref, reason: 'again' }, engine.tokens.sam);
    expect(again.status).toBe(409);
    expect(again.body.error?.message).toBe(`release abort-1 of ${service} has already finished (rolled-back)`);
  });

  describe('an analysis that cannot decide asks a human', () => {
    it('approve: the rollout continues', async () => {
      // No traffic at all: the analysis has no numbers to judge.
      const engine = await engines.start({ record: 'inconclusive-approved', waves: [['a']], loadRps: 0 });
      const { service } = engine;
      const [a] = engine.regions as [string];
      const ref = { service, releaseId: 'inconclusive-1' };
      await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.1.0' });
      const waiting = await engine.waitForStatus('inconclusive-1', (s) => s.stage === 'needs-decision');
      const gate = waiting.gates.find((g) => g.kind === 'analysis');
      expect(gate?.id).toBe(`analysis-${a}-step-1`);
      expect(gate?.description).toMatch(
        /inconclusive \(.*error-rate increase: canary served 0 requests, fewer than the 10 a pass needs/,
      );
      expect(waiting.regions[0]?.status).toBe('needs-decision');
      // The requester may not wave it through either.
      await expect(engine.trpc('ci').release.approve.mutate({ ...ref, gate: gate!.id })).rejects.toThrow(/role/);

      await engine
        .trpc('sam')
        .release.approve.mutate({ ...ref, gate: gate!.id, comment: 'quiet hour, numbers ok in logs' });
      const done = await engine.waitForOutcome('inconclusive-1');
      expect(done.outcome?.result).toBe('succeeded');
      expect((await engine.fleet.state({ service, region: a })).stableVersion).toBe('1.1.0');
    }, 60_000);

    it('reject: the region goes back and the release rolls back', async () => {
      const engine = await engines.start({ record: 'inconclusive-rejected', waves: [['a']], loadRps: 0 });
      const { service } = engine;
      const ref = { service, releaseId: 'inconclusive-2' };
      await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.1.0' });
      const waiting = await engine.waitForStatus('inconclusive-2', (s) => s.stage === 'needs-decision');
      const gate = waiting.gates.find((g) => g.kind === 'analysis')!;
      await engine.trpc('bob').release.reject.mutate({ ...ref, gate: gate.id, comment: 'cannot tell, try at peak' });

      const done = await engine.waitForOutcome('inconclusive-2');
      expect(done.outcome?.result).toBe('rolled-back');
      expect(done.outcome?.reason).toMatch(/was inconclusive .* and bob chose to roll back/);
      expect(await everyRegionOn(engine, '1.0.0')).toBe(true);
    }, 60_000);
  });
});
