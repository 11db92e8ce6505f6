// Canary verdicts on the real local fleet (issue 11), as a pipeline and an on-call engineer see them: a broken
// canary fails at its first step without waiting for anyone, a healthy one is compared with a baseline of the same
// age and passes, and a version that degrades after promotion is rolled back by the watch window, every region, the
// last one first.
import { describe, expect, it } from 'vitest';
import { useEngines } from '../support/engine';

describe('canary verdicts on the local fleet', () => {
  const engines = useEngines();

  it('fails a broken canary at its first step without a human gate; passes a healthy one against a same-age baseline', async () => {
    const engine = await engines.start({ record: 'sequential-canary', waves: [['a']], bakeSeconds: 5 });
    const { service } = engine;
    await engine.trpc('ci').release.start.mutate({ service, version: '1.2.0', releaseId: 'broken' });
    const broken = await engine.waitForOutcome('broken');
    expect(broken.outcome?.result).toBe('rolled-back');
    expect(broken.gates.filter((g) => g.id.startsWith('analysis-'))).toEqual([]);
    const [fail] = broken.regions[0]?.verdicts ?? [];
    expect(fail).toMatchObject({ verdict: 'fail', judge: 'sequential', baselineKind: 'same-age', step: 0 });
    expect(fail?.reasons.join('\n')).toMatch(/mSPRT likelihood ratio .* → fail/);
    expect(fail?.reasons.join('\n')).toContain('compared with a baseline of the same age');

    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'healthy' });
    const healthy = await engine.waitForOutcome('healthy');
    expect(healthy.outcome?.result).toBe('succeeded');
    const [pass] = healthy.regions[0]?.verdicts ?? [];
    expect(pass).toMatchObject({ verdict: 'pass', judge: 'sequential', baselineKind: 'same-age' });
    expect(pass?.baseline.requests).toBeGreaterThan(0);
    // Promotion retired the baseline: only the new version runs.
    const state = await engine.fleet.state({ service, region: engine.regions[0] ?? '' });
    expect([...new Set(state.instances.map((i) => i.version))]).toEqual(['1.1.0']);
  }, 120_000);

  it('rolls back, every region and the last first, a version that starts failing after promotion', async () => {
    // Traffic for the whole watch window (the test engine otherwise stops it 20 s after a region's last change).
    const engine = await engines.start({
      record: 'watch-breach',
      waves: [['a'], ['b']],
      bakeSeconds: 2,
      loadIdleSeconds: 180,
    });
    const { service } = engine;
    const [a, b] = engine.regions as [string, string];
    // Healthy through its canaries, then failing 60% of requests 25 s after it starts (as hello@1.4.0 does at 60 s).
    await engine.publish('1.5.0', {
      greeting: 'hi',
      failureRate: 0,
      latencyMs: 5,
      degradeAfterSeconds: 25,
      degradedFailureRate: 0.6,
    });
    await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.5.0', releaseId: 'degrades', watchSeconds: 120 });
    const done = await engine.waitForOutcome('degrades', 150_000);

    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toMatch(/breached while watched: .* lower bound .* > ceiling/);
    expect(done.regions.every((r) => r.verdicts.every((v) => v.verdict === 'pass'))).toBe(true);
    const story = done.timeline.map((e) => e.message).join('\n');
    expect(story).toContain('for 120s (watch window after the last wave)');
    const reverts = (await engine.fleetEvents('degrades')).filter((e) => e.event === 'revert');
    expect(reverts.map((e) => e.region)).toEqual([b, a]);
    const audit = await engine.trpc('viewer').audit.list.query({ service, releaseId: 'degrades' });
    expect(audit.map((r) => r.action)).toContain('release.rolled-back');
  }, 200_000);
  it('the fixed-window judge with no bake has nothing to judge: it asks a human at once instead of guessing', async () => {
    const engine = await engines.start({ record: 'fixed-window-no-bake', waves: [['a'], ['b']] });
    const { service } = engine;
    const [a, b] = engine.regions as [string, string];
    const ref = { service, releaseId: 'no-bake' };
    await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.1.0', judge: 'fixed-window', bakeSeconds: 0 });
    const waiting = await engine.waitForStatus('no-bake', (s) => s.stage === 'needs-decision');
    const gate = waiting.gates.find((g) => g.kind === 'analysis');
    expect(gate?.id).toBe(`analysis-${a}-step-1`);
    expect(gate?.description).toMatch(/inconclusive \(.*fewer than/);
    expect(waiting.regions[0]?.verdicts[0]).toMatchObject({ verdict: 'inconclusive' });

    await engine.trpc('sam').release.approve.mutate({ ...ref, gate: gate!.id, comment: 'smoke-only change' });
    const second = await engine.waitForStatus('no-bake', (s) => s.gates.some((g) => g.id === `analysis-${b}-step-1`));
    await engine.trpc('sam').release.approve.mutate({ ...ref, gate: `analysis-${b}-step-1`, comment: 'same' });
    expect(second.regions[0]?.status).toBe('succeeded');
    const done = await engine.waitForOutcome('no-bake');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.regions.map((r) => r.trafficPercent)).toEqual([100, 100]);
  }, 90_000);
});
