// Histories stay small: a release's own history grows by a bounded number of events per region (the region's work
// lives in its own child workflow), and a region's child grows by a bounded number per canary step.
import { afterAll, describe, expect, it } from 'vitest';
import { startTestEngine, TEST_CANARY, type TestEngine } from '../support/engine';

interface Measured {
  release: number;
  children: number[];
}

async function measure(engine: TestEngine, releaseId: string): Promise<Measured> {
  await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.1.0', releaseId });
  const done = await engine.waitForOutcome(releaseId, 90_000);
  expect(done.outcome).toMatchObject({ result: 'succeeded' });
  const release = (await engine.history(`release/${engine.service}/${releaseId}`)).length;
  const children = await Promise.all(
    engine.regions.map(
      async (region) => (await engine.history(`region-rollout/${engine.service}/${releaseId}/${region}`)).length,
    ),
  );
  return { release, children };
}

describe('history size', () => {
  const engines: TestEngine[] = [];
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
  });

  it('grows by a bounded number of events per region and per canary step', async () => {
    const analysis = { ...TEST_CANARY.analysis, minRequests: 3 };
    const oneStep = { canary: { ...TEST_CANARY, analysis } };
    const threeSteps = {
      canary: { ...TEST_CANARY, steps: [{ percent: 10 }, { percent: 30 }, { percent: 60 }], analysis },
    };
    const [one, four, stepped] = await Promise.all([
      startTestEngine({ waves: [['a']], service: oneStep }),
      startTestEngine({ waves: [['a', 'b', 'c', 'd']], service: oneStep }),
      // Longer bakes than the default 2s: enough canary traffic at 10% even on a busy machine (event counts do not
      // depend on how long a bake is).
      startTestEngine({ waves: [['a']], service: threeSteps, loadRps: 60, bakeSeconds: 5 }),
    ]);
    engines.push(one, four, stepped);
    const [m1, m4, m3] = await Promise.all([
      measure(one, 'size-1'),
      measure(four, 'size-4'),
      measure(stepped, 'size-steps'),
    ]);

    const perRegion = (m4.release - m1.release) / 3;
    const child = m1.children[0] ?? 0;
    const perStep = ((m3.children[0] ?? 0) - child) / 2;
    console.log(
      `history size: release over 1 region ${m1.release} events, over 4 regions ${m4.release} events ` +
        `(${perRegion.toFixed(1)} per region); region-rollout child ${child} events with 1 canary step, ` +
        `${m3.children[0]} with 3 steps (${perStep.toFixed(1)} per step)`,
    );
    // Bounded: a region costs the release a fixed handful of events, whatever the canary does in the child. The
    // count moves with timing (reports from a child that arrive together share one workflow task; apart, each costs
    // three events): about 20 since lean reports and lean wave bookkeeping (33 to 41 before).
    expect(perRegion).toBeGreaterThan(0);
    expect(perRegion).toBeLessThanOrEqual(50);
    expect(perStep).toBeLessThanOrEqual(30);
    // Every region's child has the same shape.
    expect(new Set(m4.children).size).toBeLessThanOrEqual(2);
    expect(Math.max(...m4.children) - Math.min(...m4.children)).toBeLessThanOrEqual(4);
  }, 150_000);
});
