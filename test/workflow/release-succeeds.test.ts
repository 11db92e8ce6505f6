// Releases that reach every region: what a pipeline, an operator and the audit trail see when all goes well.
import { describe, expect, it } from 'vitest';
import { useWorkflowEngines } from '../support/workflow-engine';

/** True when every text appears in `messages`, in this order. */
function inOrder(messages: string[], texts: string[]): boolean {
  const positions = texts.map((text) => messages.findIndex((m) => m.includes(text)));
  return positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] ?? -1)));
}

describe('a release that goes well', () => {
  const engines = useWorkflowEngines();

  it('reaches every region of staging then production, wave by wave, and says so in the timeline and audit trail', async () => {
    const engine = await engines.start({
      environments: [
        { name: 'staging', waves: [['s']] },
        { name: 'production', waves: [['a'], ['b', 'c']] },
      ],
      service: { waveBakeSeconds: 1 },
    });
    const { releaseId } = await engine.start('1.1.0');
    const done = await engine.waitForOutcome(releaseId);

    expect(done.outcome?.result).toBe('succeeded');
    expect(
      done.regions.map((r) => [r.region, r.environment, r.wave, r.status, r.trafficPercent, r.previousVersion]),
    ).toEqual([
      [engine.region('s'), 'staging', 0, 'succeeded', 100, '1.0.0'],
      [engine.region('a'), 'production', 1, 'succeeded', 100, '1.0.0'],
      [engine.region('b'), 'production', 2, 'succeeded', 100, '1.0.0'],
      [engine.region('c'), 'production', 2, 'succeeded', 100, '1.0.0'],
    ]);
    expect(done.compensations).toEqual([]);
    expect(['s', 'a', 'b', 'c'].map(engine.runs)).toEqual(['1.1.0', '1.1.0', '1.1.0', '1.1.0']);
    expect((await engine.artifacts.promotion(engine.service, '1.1.0')).status).toBe('released');
    for (const short of ['s', 'a', 'b', 'c']) {
      expect(await engine.ledger.current(engine.service, engine.region(short))).toMatchObject({
        version: '1.1.0',
        releaseId,
      });
    }

    const story = done.timeline.map((e) => e.message);
    expect(
      inOrder(story, [
        `release of ${engine.service}@1.1.0 (standard) requested by ci`,
        'wave 1 of 3 (staging)',
        `${engine.region('s')}: smoke test passed`,
        'gate promote-to-production passed',
        'for 1s (bake before wave 2)',
        'wave 2 of 3 (production)',
        `${engine.region('a')}: done`,
        'for 1s (bake before wave 3)',
        'wave 3 of 3 (production)',
        'succeeded in 4 regions',
      ]),
    ).toBe(true);
    // Wave 3 starts only when wave 2 is done: region a was promoted before b or c got their canary.
    const promotedA = engine.journal.indexOf(`promote ${engine.region('a')} 1.1.0`);
    expect(promotedA).toBeGreaterThan(engine.journal.indexOf(`promote ${engine.region('s')} 1.1.0`));
    expect(engine.journal.indexOf(`deploy ${engine.region('b')} 1.1.0`)).toBeGreaterThan(promotedA);
    expect(engine.journal.indexOf(`deploy ${engine.region('c')} 1.1.0`)).toBeGreaterThan(promotedA);

    const actions = engine.audit.actions(releaseId);
    expect(actions[0]).toBe('release.requested');
    expect(actions.at(-1)).toBe('release.succeeded');
    expect(actions.filter((a) => a === 'region.promoted')).toHaveLength(4);
    expect(await engine.audit.verify()).toMatchObject({ ok: true });
    expect(engine.notifier.kinds(releaseId)).toEqual(['release.started', 'release.succeeded']);
  }, 60_000);

  it('a region that already runs the version is left alone but still smoke-tested; the others get it', async () => {
    const engine = await engines.start({ environments: [{ name: 'production', waves: [['a'], ['b']] }] });
    // Region a was brought to 1.1.0 earlier (say, by a release that was later stopped); b still runs 1.0.0.
    await engine.fleet.revert({
      service: engine.service,
      region: engine.region('a'),
      version: '1.1.0',
      requestId: 'setup',
    });

    const { releaseId } = await engine.start('1.1.0');
    const done = await engine.waitForOutcome(releaseId);

    expect(done.outcome?.result).toBe('succeeded');
    expect(done.timeline.map((e) => e.message)).toContain(`${engine.region('a')}: already runs 1.1.0; nothing to do`);
    expect(done.regions.map((r) => [r.region, r.status, r.smokeTest?.passed])).toEqual([
      [engine.region('a'), 'succeeded', true],
      [engine.region('b'), 'succeeded', true],
    ]);
    // Nothing was deployed to a, so there is nothing to undo there either.
    expect(engine.fleet.callsFor(releaseId).map((c) => `${c.operation} ${c.region}`)).toEqual([
      `deploy ${engine.region('b')}`,
      `setTraffic ${engine.region('b')}`,
      `promote ${engine.region('b')}`,
    ]);
    expect(['a', 'b'].map(engine.runs)).toEqual(['1.1.0', '1.1.0']);
  }, 60_000);

  it('releasing the version every region already runs changes nothing and still succeeds', async () => {
    const engine = await engines.start();
    const { releaseId } = await engine.start('1.0.0');
    const done = await engine.waitForOutcome(releaseId);

    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.fleet.callsFor(releaseId)).toEqual([]);
    expect(done.regions[0]).toMatchObject({ status: 'succeeded', trafficPercent: 100, smokeTest: { passed: true } });
  }, 60_000);

  it('a deploy that the fleet refuses once with a retryable error is tried again, and the release succeeds', async () => {
    const engine = await engines.start();
    engine.fleet.fail({
      operation: 'deploy',
      region: engine.region('a'),
      version: '1.1.0',
      times: 1,
      retryable: true,
      message: 'fleet control plane unavailable (503)',
    });
    const { releaseId } = await engine.start('1.1.0');
    const done = await engine.waitForOutcome(releaseId);

    expect(done.outcome?.result).toBe('succeeded');
    expect(
      engine.fleet
        .callsFor(releaseId)
        .filter((c) => c.operation === 'deploy')
        .map((c) => c.result),
    ).toEqual(['failed', 'done']);
    expect(engine.runs('a')).toBe('1.1.0');
  }, 60_000);

  it('a notification channel that is down never fails a release', async () => {
    const engine = await engines.start();
    engine.notifier.setDown('chat webhook answered 502');
    const { releaseId } = await engine.start('1.1.0');
    const done = await engine.waitForOutcome(releaseId);

    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.runs('a')).toBe('1.1.0');
    expect(engine.notifier.delivered).toEqual([]);
    // Each event was tried a few times (the notify profile), then given up on.
    expect(engine.notifier.attempts.filter((e) => e.kind === 'release.started').length).toBeGreaterThan(1);
  }, 60_000);
});
