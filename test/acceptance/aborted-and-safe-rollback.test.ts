// Two outcomes people rely on: a release aborted before it changed anything ends `aborted` (not a change failure),
// and an emergency rollback never takes a region to a version that was taken back (demoted) or that a release it
// aborted was moving to, and says per region why it chose its target.
import { describe, expect, it } from 'vitest';
import { failureMessage, hitRouter, type TestEngine, useEngines, waitUntil } from '../support/engine';

describe('aborted releases and safe rollback targets', () => {
  const engines = useEngines();

  async function rollbackOutcome(engine: TestEngine, rollbackId: string) {
    const api = engine.trpc('viewer');
    let status = await api.rollback.get.query({ service: engine.service, rollbackId });
    await waitUntil(async () => {
      status = await api.rollback.get.query({ service: engine.service, rollbackId });
      return status.stage === 'succeeded' || status.stage === 'failed';
    }, 90_000);
    return status;
  }

  it('a queued release aborted before it started ends aborted: nothing undone, not a change failure in DORA', async () => {
    const engine = await engines.start({ record: 'abort-before-any-change', waves: [['a']] });
    const { service } = engine;
    const ci = engine.trpc('ci');
    await ci.release.start.mutate({ service, version: '1.1.0', releaseId: 'first', changeClass: 'normal' });
    await engine.waitForStatus('first', (s) => s.stage === 'awaiting-approval');
    const queued = await ci.release.start.mutate({ service, version: '1.3.0', releaseId: 'second', queue: true });
    expect(queued.queuedBehind).toEqual(['first']);

    await engine.trpc('sam').release.abort.mutate({ service, releaseId: 'second', reason: 'wrong version' });
    const aborted = await engine.waitForOutcome('second');
    expect(aborted.outcome).toMatchObject({
      result: 'aborted',
      reason: 'aborted by sam before it changed anything: wrong version',
    });
    expect(aborted.stage).toBe('aborted');
    expect(await failureMessage(engine, 'second')).toBe(
      `${service}@1.3.0 (release second) aborted before it changed anything; the reason is in the release status (relctl release status, or the console)`,
    );
    expect(aborted.compensations).toEqual([]);
    expect(await engine.fleetEvents('second')).toEqual([]);
    expect(await engine.artifacts.promotion(service, '1.3.0')).toMatchObject({ status: 'candidate' });
    // Listed as aborted, and the audit trail says who stopped it.
    let listed: string[] = [];
    await waitUntil(async () => {
      listed = (await engine.trpc('viewer').release.list.query({ service, outcome: 'aborted' })).map(
        (r) => r.releaseId,
      );
      return listed.length > 0;
    }, 10_000);
    expect(listed).toEqual(['second']);
    const records = await engine.auditTrail.list({ releaseId: 'second' });
    expect(records.map((r) => [r.action, r.actor])).toContainEqual(['release.aborted', 'sam']);

    // The first release goes on; rejected, it rolls back (a change that failed).
    await engine.trpc('alice').release.reject.mutate({
      service,
      releaseId: 'first',
      gate: 'production-approval',
      comment: 'not today',
    });
    expect((await engine.waitForOutcome('first')).outcome?.result).toBe('rolled-back');
    let dora = await engine.trpc('viewer').metrics.dora.query({ service, days: 1 });
    await waitUntil(async () => {
      dora = await engine.trpc('viewer').metrics.dora.query({ service, days: 1 });
      return dora.releases.finished === 2;
    }, 10_000);
    expect(dora.releases).toMatchObject({ finished: 2, rolledBack: 1, aborted: 1 });
    expect(dora.changeFailureRate).toMatchObject({ failures: 1, finished: 1 });
  }, 120_000);

  it('an emergency rollback does not take production onto a version a rolled-back release demoted', async () => {
    const engine = await engines.start({
      record: 'rollback-avoids-demoted',
      environments: [
        { name: 'staging', waves: [['a']] },
        { name: 'production', waves: [['b']] },
      ],
    });
    const { service } = engine;
    const [staging, production] = engine.regions as [string, string];
    const ci = engine.trpc('ci');
    for (const [releaseId, version] of [
      ['r-110', '1.1.0'],
      ['r-130', '1.3.0'],
    ] as const) {
      await ci.release.start.mutate({ service, version, releaseId });
      expect((await engine.waitForOutcome(releaseId, 90_000)).outcome?.result).toBe('succeeded');
    }
    // A downgrade to 1.1.0 reaches staging and waits for its production approval...
    await ci.release.start.mutate({ service, version: '1.1.0', releaseId: 'downgrade', changeClass: 'normal' });
    await engine.waitForStatus('downgrade', (s) => s.stage === 'awaiting-approval', 90_000);

    // ... when an SRE rolls the service back: the downgrade is aborted (and demotes 1.1.0), then the regions go back.
    const started = await engine
      .trpc('sam')
      .rollback.emergency.mutate({ service, reason: 'errors in production', rollbackId: 'rb-safe' });
    expect(started.aborted).toEqual(['downgrade']);
    expect((await engine.waitForOutcome('downgrade')).outcome?.result).toBe('rolled-back');
    expect(await engine.artifacts.promotion(service, '1.1.0')).toMatchObject({ status: 'demoted' });

    const rollback = await rollbackOutcome(engine, 'rb-safe');
    expect(rollback.stage).toBe('succeeded');
    const byRegion = Object.fromEntries(rollback.regions.map((r) => [r.region, r]));
    // Staging was put back on 1.3.0 by the downgrade's own rollback: already on its known-good version.
    expect(byRegion[staging]).toMatchObject({ status: 'already-good', to: '1.3.0' });
    // Production leaves 1.3.0 for 1.0.0, never for the demoted 1.1.0.
    expect(byRegion[production]).toMatchObject({ status: 'reverted', from: '1.3.0', to: '1.0.0' });
    expect(byRegion[production]?.why).toMatch(
      /not 1\.1\.0 \(release downgrade was moving to it when this rollback aborted it\)/,
    );
    const messages = rollback.timeline.map((e) => e.message);
    expect(messages).toContainEqual(expect.stringMatching(new RegExp(`^${production}: going back to 1\\.0\\.0: `)));
    expect(messages).toContainEqual(
      expect.stringMatching(
        new RegExp(`^${staging}: already on 1\\.3\\.0, its last known-good version \\(downgrade put it back`),
      ),
    );
    const router = engine.routers.find((r) => r.region === production);
    expect(await hitRouter(router?.url ?? '')).toContain(`${service}@1.0.0`);
  }, 240_000);
});
