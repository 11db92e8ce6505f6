// Emergency rollback, for SREs: any time, including after a release finished, back to the last known-good version.
import { describe, expect, it } from 'vitest';
import { serviceStateQuery } from '../../workflows/messages';
import { hitRouter, type TestEngine, useEngines, waitUntil } from '../support/engine';

describe('emergency rollback', () => {
  const engines = useEngines();

  async function rollbackOutcome(engine: TestEngine, rollbackId: string) {
    const api = engine.trpc('viewer');
    let status = await api.rollback.get.query({ service: engine.service, rollbackId });
    try {
      await waitUntil(async () => {
        status = await api.rollback.get.query({ service: engine.service, rollbackId });
        return status.stage === 'succeeded' || status.stage === 'failed';
      }, 60_000);
    } catch (err) {
      const service = await engine.client.workflow.getHandle(`service/${engine.service}`).query(serviceStateQuery);
      throw new Error(
        `${(err as Error).message}: rollback ${JSON.stringify(status)}; coordinator ${JSON.stringify(service)}`,
      );
    }
    return status;
  }

  it('after a completed release, restores the previous version everywhere and records why', async () => {
    const engine = await engines.start({ record: 'rollback-after-release', waves: [['a'], ['b', 'c']] });
    const { service } = engine;
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'shipped' });
    expect((await engine.waitForOutcome('shipped')).outcome?.result).toBe('succeeded');
    // "Completed" means the workflow has closed. Its status shows the outcome a moment earlier (its last audit write
    // and notification are still running); a rollback in that moment lists it as aborted although the finished
    // release ignores the abort: the abort is a signal, which cannot answer whether it took effect.
    await engine.client.workflow.getHandle(`release/${service}/shipped`).result();

    const denied = await engine.rawCall('rollback.emergency', { service, reason: 'errors' }, engine.tokens.alice);
    expect(denied.status).toBe(403);
    const unknownRegion = await engine.rawCall(
      'rollback.emergency',
      { service, reason: 'errors', regions: ['mars-1'] },
      engine.tokens.sam,
    );
    expect(unknownRegion.status).toBe(400);
    expect(unknownRegion.body.error?.message).toMatch(/regions: .* does not run in mars-1/);

    const started = await engine
      .trpc('sam')
      .rollback.emergency.mutate({ service, reason: 'checkout errors after 1.1.0', rollbackId: 'rb-1' });
    expect(started).toMatchObject({ rollbackId: 'rb-1', workflowId: `rollback/${service}/rb-1`, aborted: [] });
    const status = await rollbackOutcome(engine, 'rb-1');
    expect(status.stage).toBe('succeeded');
    expect(status.regions.map((r) => [r.region, r.status, r.from, r.to])).toEqual(
      engine.regions.map((region) => [region, 'reverted', '1.1.0', '1.0.0']),
    );
    for (const router of engine.routers) expect(await hitRouter(router.url)).toContain(`${service}@1.0.0`);
    for (const region of engine.regions) {
      expect(await engine.ledger.current(service, region)).toMatchObject({
        version: '1.0.0',
        releaseId: 'rb-1',
        rolledBackFrom: '1.1.0',
        reason: 'emergency rollback by sam: checkout errors after 1.1.0',
      });
    }
    // A second rollback finds every region already on its known-good version and changes nothing.
    await engine.trpc('sam').rollback.emergency.mutate({ service, reason: 'again', rollbackId: 'rb-2' });
    const second = await rollbackOutcome(engine, 'rb-2');
    expect(second.stage).toBe('succeeded');
    expect(second.regions.map((r) => r.status)).toEqual(engine.regions.map(() => 'already-good'));
    expect(await engine.fleetEvents('rb-2')).toEqual([]);
  });

  it('while a release is running, aborts it first, then rolls back', async () => {
    const engine = await engines.start({ record: 'rollback-during-release', waves: [['a'], ['b']], bakeSeconds: 30 });
    const { service } = engine;
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'in-flight' });
    await engine.waitForStatus('in-flight', (s) => s.regions[0]?.trafficPercent === 50);

    const started = await engine
      .trpc('sam')
      .rollback.emergency.mutate({ service, reason: 'pager storm', rollbackId: 'rb-3', regions: [engine.regions[0]!] });
    expect(started.aborted).toEqual(['in-flight']);

    const release = await engine.waitForOutcome('in-flight');
    expect(release.outcome?.result).toBe('rolled-back');
    expect(release.outcome?.reason).toBe('aborted by sam: emergency rollback rb-3: pager storm');
    const rollback = await rollbackOutcome(engine, 'rb-3');
    expect(rollback.stage).toBe('succeeded');
    // It waited for the release to finish its own rollback before starting.
    expect(rollback.timeline.map((e) => e.message)).toContain(
      'waiting for the release in progress to finish rolling itself back',
    );
    // The release's own compensation had already put region a back on 1.0.0: nothing left to do there.
    expect(rollback.regions.map((r) => [r.status, r.to])).toEqual([['already-good', '1.0.0']]);
    const checkedAt = Date.parse(rollback.timeline.find((e) => e.message.includes('already on'))?.at ?? '');
    expect(checkedAt).toBeGreaterThanOrEqual(Date.parse(release.outcome?.finishedAt ?? ''));
    expect((await engine.fleet.state({ service, region: engine.regions[0]! })).stableVersion).toBe('1.0.0');
    // While it ran, no new release could start; now one can.
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'after', bakeSeconds: 1 });
    expect((await engine.waitForOutcome('after')).outcome?.result).toBe('succeeded');
  });
});
