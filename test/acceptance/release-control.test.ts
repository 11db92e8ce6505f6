// Steering releases: pause and resume, one release per service at a time (or queued), and freeze windows.
import { describe, expect, it } from 'vitest';
import { useEngines, waitUntil } from '../support/engine';

describe('release control', () => {
  const engines = useEngines();

  it('pause holds the next step (the bake keeps counting); resume carries on', async () => {
    const engine = await engines.start({ record: 'pause-resume', waves: [['a'], ['b']], bakeSeconds: 3 });
    const { service } = engine;
    const [a] = engine.regions as [string];
    const ref = { service, releaseId: 'pause-1' };
    await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.1.0' });
    await engine.waitForStatus('pause-1', (s) => s.regions[0]?.trafficPercent === 50);

    const byViewer = await engine.rawCall('release.pause', ref, engine.tokens.viewer);
    expect(byViewer.status).toBe(403);
    await engine.trpc('sam').release.pause.mutate({ ...ref, reason: 'checking dashboards' });
    const paused = await engine.waitForStatus('pause-1', (s) => s.stage === 'paused');
    expect(paused.paused).toBe(true);

    // The 3s bake ends and is analysed while paused, but nothing new starts.
    const analysed = await engine.waitForStatus('pause-1', (s) => (s.regions[0]?.verdicts.length ?? 0) > 0);
    expect(analysed.regions[0]?.verdicts[0]?.verdict).toBe('pass');
    await new Promise((done) => setTimeout(done, 3000));
    const held = await engine.trpc('viewer').release.get.query(ref);
    expect([held.stage, held.regions[0]?.status, held.regions[0]?.trafficPercent]).toEqual(['paused', 'canary', 50]);
    expect((await engine.fleetEvents('pause-1')).map((e) => e.event)).not.toContain('promote');

    await engine.trpc('sam').release.resume.mutate(ref);
    const done = await engine.waitForOutcome('pause-1');
    expect(done.outcome?.result).toBe('succeeded');
    const story = done.timeline.map((e) => e.message);
    expect(story.some((m) => m.startsWith('paused by sam: checking dashboards'))).toBe(true);
    expect(story).toContain('resumed by sam');
    const promoted = (await engine.fleetEvents('pause-1')).find((e) => e.event === 'promote' && e.region === a);
    const resumedAt = done.timeline.find((e) => e.message === 'resumed by sam')?.at ?? '';
    expect(Date.parse(promoted?.at ?? '')).toBeGreaterThanOrEqual(Date.parse(resumedAt));
  });

  it('one release per service at a time: a second is refused naming the first, a queued one runs after it', async () => {
    const engine = await engines.start({ record: 'one-at-a-time-and-queue', waves: [['a']] });
    const { service } = engine;
    await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.1.0', releaseId: 'first', changeClass: 'normal' });
    await engine.waitForStatus('first', (s) => s.stage === 'awaiting-approval');

    const second = await engine.rawCall(
      'release.start',
      { service, version: '1.2.0', releaseId: 'second' },
      engine.tokens.ci,
    );
    expect(second.status).toBe(409);
    expect(second.body.error?.message).toBe(
      `release first of ${service} is in progress (requested by ci); wait for it to finish, or start with queue: true`,
    );
    const queued = await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.1.0', releaseId: 'third', queue: true, bakeSeconds: 1 });
    expect(queued).toMatchObject({ alreadyStarted: false, queuedBehind: ['first'] });
    expect((await engine.trpc('viewer').release.get.query({ service, releaseId: 'third' })).stage).toBe('queued');
    await new Promise((done) => setTimeout(done, 1500));
    expect(await engine.fleetEvents('third')).toEqual([]);

    await engine.trpc('alice').release.approve.mutate({ service, releaseId: 'first', gate: 'production-approval' });
    const first = await engine.waitForOutcome('first');
    const third = await engine.waitForOutcome('third');
    expect([first.outcome?.result, third.outcome?.result]).toEqual(['succeeded', 'succeeded']);
    // The queued release started only after the first had finished.
    expect(Date.parse(third.timeline.find((e) => e.message.startsWith('admitted'))?.at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(first.outcome?.finishedAt ?? ''),
    );
    // The refused one never existed.
    await expect(engine.client.workflow.getHandle(`release/${service}/second`).describe()).rejects.toThrow(
      /not found/i,
    );
    // The queued release found 1.1.0 already running (the first release put it there): nothing to do.
    expect(third.timeline.map((e) => e.message)).toContain(`${engine.regions[0]}: already runs 1.1.0; nothing to do`);
    expect(await engine.fleetEvents('third')).toEqual([]);
  });

  describe('freeze windows', () => {
    it('a release that meets a freeze waits durably and starts when it ends', async () => {
      const engine = await engines.start({ record: 'freeze-wait', waves: [['a']] });
      const { service } = engine;
      const end = new Date(Date.now() + 5000);
      await engine.trpc('sam').calendar.create.mutate({
        id: 'launch-event',
        kind: 'one-off',
        start: new Date(Date.now() - 1000).toISOString(),
        end: end.toISOString(),
        reason: 'launch event',
        services: [service],
      });
      const listed = await engine.trpc('viewer').calendar.list.query();
      expect(listed.map((w) => w.description)).toEqual([expect.stringContaining('launch event')]);
      await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'frozen-1' });

      const waiting = await engine.waitForStatus('frozen-1', (s) => s.stage === 'waiting-for-freeze');
      expect(waiting.timeline.at(-1)?.message).toBe(
        `production is frozen by launch-event (launch event); waiting until ${end.toISOString()}`,
      );
      const done = await engine.waitForOutcome('frozen-1');
      expect(done.outcome?.result).toBe('succeeded');
      const firstDeploy = (await engine.fleetEvents('frozen-1'))[0];
      expect(Date.parse(firstDeploy?.at ?? '')).toBeGreaterThanOrEqual(end.getTime());
    }, 60_000);

    it('deleting the window releases a waiting release at once; bad windows are refused naming the field', async () => {
      const engine = await engines.start({ record: 'freeze-window-deleted', waves: [['a']] });
      const { service } = engine;
      const window = {
        id: 'quarter-end',
        kind: 'one-off' as const,
        start: new Date(Date.now() - 1000).toISOString(),
        end: new Date(Date.now() + 3_600_000).toISOString(),
        reason: 'quarter-end close',
      };
      await engine.trpc('sam').calendar.create.mutate(window);
      const duplicate = await engine.rawCall('calendar.create', window, engine.tokens.sam);
      expect(duplicate.status).toBe(409);
      const badZone = await engine.rawCall(
        'calendar.create',
        { id: 'x', kind: 'daily', timeZone: 'Mars/Olympus', startTime: '22:00', endTime: '06:00', reason: 'r' },
        engine.tokens.sam,
      );
      expect(badZone.status).toBe(400);
      expect(badZone.body.error?.message).toMatch(/timeZone/);

      const plan = await engine.trpc('ci').release.plan.query({ service, version: '1.1.0' });
      expect(plan.freeze?.windows.map((w) => w.id)).toEqual(['quarter-end']);
      await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'frozen-2' });
      await engine.waitForStatus('frozen-2', (s) => s.stage === 'waiting-for-freeze');
      const deleted = await engine.trpc('sam').calendar.delete.mutate({ id: 'quarter-end' });
      expect(deleted.releasesRechecked).toBeGreaterThanOrEqual(1);
      const done = await engine.waitForOutcome('frozen-2', 30_000);
      expect(done.outcome?.result).toBe('succeeded');
    }, 60_000);

    it('an emergency release overrides the freeze, with two approvals and its reason on record', async () => {
      const engine = await engines.start({ record: 'freeze-emergency-override', waves: [['a']] });
      const { service } = engine;
      await engine.trpc('sam').calendar.create.mutate({
        id: 'holidays',
        kind: 'one-off',
        start: new Date(Date.now() - 1000).toISOString(),
        end: new Date(Date.now() + 3_600_000).toISOString(),
        reason: 'holiday freeze',
      });
      const ref = { service, releaseId: 'override-1' };
      await engine
        .trpc('ci')
        .release.start.mutate({ ...ref, version: '1.1.0', changeClass: 'emergency', reason: 'CVE-2026-1234 fix' });
      await engine.waitForStatus('override-1', (s) => s.stage === 'awaiting-approval');
      await engine.trpc('alice').release.approve.mutate({ ...ref, gate: 'production-approval' });
      await engine.trpc('bob').release.approve.mutate({ ...ref, gate: 'production-approval' });
      const done = await engine.waitForOutcome('override-1');
      expect(done.outcome?.result).toBe('succeeded');
      expect(done.timeline.map((e) => e.message)).toContain(
        'freeze holidays (holiday freeze) overridden: emergency release, reason: CVE-2026-1234 fix',
      );
    }, 60_000);

    it('a service that fails releases in a freeze fails fast, naming the window', async () => {
      const engine = await engines.start({ record: 'freeze-fail', waves: [['a']], service: { onFreeze: 'fail' } });
      const { service } = engine;
      const end = new Date(Date.now() + 3_600_000);
      await engine.calendar.put({
        id: 'maintenance',
        kind: 'one-off',
        start: new Date(Date.now() - 1000).toISOString(),
        end: end.toISOString(),
        reason: 'datacenter maintenance',
      });
      await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'frozen-fail' });
      const done = await engine.waitForOutcome('frozen-fail');
      expect(done.outcome?.result).toBe('failed');
      expect(done.outcome?.reason).toBe(
        `production is frozen by maintenance (datacenter maintenance) until ${end.toISOString()}, and this service fails releases in a freeze`,
      );
      expect(await engine.fleetEvents('frozen-fail')).toEqual([]);
    }, 60_000);
  });

  it('releasing the version a region already runs changes nothing there', async () => {
    const engine = await engines.start({ record: 'same-version-noop', waves: [['a'], ['b']] });
    const { service } = engine;
    await engine.trpc('ci').release.start.mutate({ service, version: '1.0.0', releaseId: 'same-1' });
    const done = await engine.waitForOutcome('same-1');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.regions.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(await engine.fleetEvents('same-1')).toEqual([]);
    expect(done.timeline.map((e) => e.message)).toContain(`${engine.regions[0]}: already runs 1.0.0; nothing to do`);
    // Nothing deployed, but every region was smoke-tested on the version it runs.
    expect(done.regions.map((r) => r.smokeTest?.passed)).toEqual([true, true]);
  });

  it('re-releasing a version staging still runs after production was rolled back reaches production again', async () => {
    const engine = await engines.start({
      environments: [
        { name: 'staging', waves: [['s']] },
        { name: 'production', waves: [['p']] },
      ],
    });
    const { service } = engine;
    const [staging, production] = engine.regions as [string, string];
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'first' });
    expect((await engine.waitForOutcome('first')).outcome?.result).toBe('succeeded');
    // An SRE takes production (only) back to 1.0.0; staging stays on 1.1.0.
    const { rollbackId } = await engine.trpc('sam').rollback.emergency.mutate({
      service,
      regions: [production],
      reason: 'checkout errors in production',
    });
    await waitUntil(
      async () => (await engine.trpc('sam').rollback.get.query({ service, rollbackId })).stage === 'succeeded',
      30_000,
    );

    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'again' });
    const again = await engine.waitForOutcome('again');
    expect(again.outcome?.result).toBe('succeeded');
    expect(again.regions.map((r) => [r.region, r.status, r.smokeTest?.passed])).toEqual([
      [staging, 'succeeded', true],
      [production, 'succeeded', true],
    ]);
    const events = (await engine.fleetEvents('again')).map((e) => `${e.event} ${e.region === staging ? 's' : 'p'}`);
    // Production only (with the same-age baseline its canary started beside it); staging is not touched.
    expect(events).toEqual(['deploy p', 'baseline-start p', 'traffic p', 'baseline-stop p', 'promote p']);
  });
});

describe('a region whose agent is not running', () => {
  const engines = useEngines();

  it('is flagged (needs attention, naming its task queue) and the release carries on when the agent starts', async () => {
    // Region b has no agent: its work waits on deploy.b. The stall alert fires after the longest the sequential
    // judge may take (warm-up 1s + the 2s bake extended to 3 x 2s) + 2s.
    const engine = await engines.start({
      record: 'stalled-region',
      waves: [['a'], ['b']],
      agents: ['a'],
      service: { stallAlertSeconds: 2 },
    });
    const { service } = engine;
    const [, b] = engine.regions as [string, string];
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'stalled-1' });

    const stalled = await engine.waitForStatus('stalled-1', (s) => s.stage === 'needs-attention');
    expect(stalled.regions.map((r) => [r.status, r.stalledSince !== undefined])).toEqual([
      ['succeeded', false],
      ['pending', true],
    ]);
    expect(stalled.timeline.at(-1)?.message).toBe(
      `${b}: no progress for 9s; is the region agent serving task queue deploy.${b} running? The release carries on when it is`,
    );

    await engine.startRegionAgent('b');
    const done = await engine.waitForOutcome('stalled-1');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.regions.every((r) => r.stalledSince === undefined)).toBe(true);
    expect(done.timeline.map((e) => e.message)).toContain(`${b}: progress again`);
  });
});
