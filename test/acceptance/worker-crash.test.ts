// A release survives its worker dying: the worker (the real workers/orchestrator.ts, in its own process) is
// SIGKILLed mid-release and started again; the release completes and the fleet's own log shows one deploy per region.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useEngines, waitUntil } from '../support/engine';

function deploysPerRegion(events: { event: string; region: string; requestId?: string }[], releaseId: string) {
  const counts: Record<string, number> = {};
  for (const e of events)
    if (e.requestId === releaseId && e.event === 'deploy') counts[e.region] = (counts[e.region] ?? 0) + 1;
  return counts;
}

describe('worker crash', () => {
  // Each test starts the worker process twice, and on a loaded two-core machine one start can take half a minute:
  // 240 s leaves room for that without ever cutting short a release that is still making progress.
  const engines = useEngines();

  it('a worker killed while a region bakes: the release completes, each region deployed once', async () => {
    const engine = await engines.start({
      record: 'worker-crash-during-bake',
      waves: [['a'], ['b', 'c']],
      bakeSeconds: 4,
      worker: 'process',
    });
    await engine
      .trpc('ci')
      .release.start.mutate({ service: engine.service, version: '1.1.0', releaseId: 'crash-bake' });
    // Kill it while region a bakes its canary at 50%.
    await engine.waitForStatus('crash-bake', (s) => s.regions[0]?.trafficPercent === 50);

    await engine.killWorkerProcess();
    await new Promise((done) => setTimeout(done, 1000));
    await engine.startWorkerProcess();

    // A task the server handed to the killed process's last poll is lost until its timeout (30 s for an audit write),
    // so the release can finish well after the new worker polls.
    const status = await engine.waitForOutcome('crash-bake', 150_000);
    // The whole outcome, so a failure shows its reason.
    expect([status.outcome?.result, status.outcome?.reason]).toEqual(['succeeded', undefined]);
    expect(status.regions.every((r) => r.status === 'succeeded')).toBe(true);
    const events = await engine.fleetEvents();
    expect(deploysPerRegion(events, 'crash-bake')).toEqual(Object.fromEntries(engine.regions.map((r) => [r, 1])));
  }, 240_000);

  it('a worker killed in the middle of a deploy: the retried step deploys nothing twice', async () => {
    const engine = await engines.start({ record: 'worker-crash-during-deploy', waves: [['a']], worker: 'process' });
    const { service } = engine;
    const region = engine.regions[0] as string;
    // A version that takes 8s to start, so the kill lands while fleetd is still starting its instances even when a
    // busy machine makes the polling below slow.
    const slow = { greeting: 'slow hello', failureRate: 0, latencyMs: 5, startupDelayMs: 8000 };
    await engine.publish('1.1.1-slow', slow);
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.1-slow', releaseId: 'crash-deploy' });
    // The deploy runs in the region's rollout child; wait until its deployCanary activity is running.
    const child = engine.client.workflow.getHandle(`region-rollout/${service}/crash-deploy/${region}`);
    await waitUntil(async () => {
      const description = await child.describe().catch(() => undefined);
      return (description?.raw.pendingActivities ?? []).some(
        (a) => a.activityType?.name === 'deployCanary' && a.lastStartedTime,
      );
    }, 60_000);
    // ... and until fleetd has the request (its instances are starting): a kill before that would leave the retry
    // as the only deploy, which proves nothing about a retried step.
    const token = (await readFile(engine.fleetTokenFile, 'utf8')).trim();
    await waitUntil(async () => {
      const res = await fetch(`${engine.fleetUrl}/v1/services/${service}/regions/${region}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const state = (await res.json()) as { instances?: { version: string }[] };
      return (state.instances ?? []).some((i) => i.version === '1.1.1-slow');
    }, 60_000);

    await engine.killWorkerProcess();
    await engine.startWorkerProcess();

    const status = await engine.waitForOutcome('crash-deploy', 150_000);
    expect(status.outcome?.result).toBe('succeeded');
    const events = await engine.fleetEvents('crash-deploy');
    expect(deploysPerRegion(events, 'crash-deploy')).toEqual({ [region]: 1 });
    // The retry reached the fleet and was recognised as already done.
    expect(events.map((e) => e.event)).toContain('deploy-noop');
    // The workflow itself completes (after its last audit records and notification), not just its status.
    const handle = engine.client.workflow.getHandle(`release/${service}/crash-deploy`);
    await handle.result();
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  }, 240_000);
});
