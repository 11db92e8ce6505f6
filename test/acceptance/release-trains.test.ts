// Release trains (issue 15) over the real parts: three services of one fleet (web calls greeter, which calls hello),
// released together in dependency order through their own coordinators, approved once, and undone together.
import { describe, expect, it } from 'vitest';
import type { TrainStatus } from '../../domain/train';
import { submitRelease } from '../../workflows/lifecycle';
import type { TrainInput } from '../../workflows/messages';
import { type TestEngine, useEngines, waitUntil } from '../support/engine';

const HEALTHY = { greeting: 'hi', failureRate: 0, latencyMs: 5 };

/** An engine whose fleet runs hello (the engine's service), greeter (needs hello) and web (needs greeter). */
function startThree(engines: ReturnType<typeof useEngines>, options: Parameters<typeof engines.start>[0] = {}) {
  const production = [{ name: 'production', waves: [['a']] }];
  return engines.start({
    waves: [['a']],
    otherServices: [
      { name: 'greeter', environments: production, fleet: true, dependsOn: ['hello'] },
      { name: 'web', environments: production, fleet: true, dependsOn: ['greeter'] },
    ],
    ...options,
  });
}

/** Publishes hello@1.5.0, greeter@2.0.0 (needs hello >=1.5.0) and web@2.0.0 (needs greeter >=2.0.0). */
async function publishThree(engine: TestEngine, greeter: Partial<typeof HEALTHY> = {}) {
  await engine.publish('1.5.0', HEALTHY);
  await engine.publishFor('greeter', '2.0.0', {
    ...HEALTHY,
    ...greeter,
    requires: { [engine.service]: '>=1.5.0' },
  });
  await engine.publishFor('web', '2.0.0', { ...HEALTHY, requires: { [engine.serviceName('greeter')]: '>=2.0.0' } });
  return [
    { service: engine.serviceName('web'), version: '2.0.0' },
    { service: engine.serviceName('greeter'), version: '2.0.0' },
    { service: engine.service, version: '1.5.0' },
  ];
}

async function trainOutcome(engine: TestEngine, trainId: string, timeoutMs = 150_000): Promise<TrainStatus> {
  let last: TrainStatus | undefined;
  try {
    await waitUntil(async () => {
      last = await engine.trpc('viewer').train.get.query({ trainId });
      return last.outcome !== undefined;
    }, timeoutMs);
  } catch (err) {
    const story = last?.timeline.map((e) => `  ${e.message}`).join('\n') ?? '  (no status)';
    throw new Error(`${(err as Error).message}; train ${trainId} was at ${last?.stage}:\n${story}`);
  }
  return last as TrainStatus;
}

/** The second member (greeter) went back by itself, the first (hello) was undone, the third (web) never deployed. */
async function expectFirstUndoneThirdUntouched(engine: TestEngine, done: TrainStatus) {
  const [hello, greeter, web] = [engine.service, engine.serviceName('greeter'), engine.serviceName('web')];
  expect(done.steps.map((s) => [s.service, s.state])).toEqual([
    [hello, 'succeeded'],
    [greeter, 'rolled-back'],
    [web, 'pending'],
  ]);
  expect(done.undo.map((u) => [u.service, u.state])).toEqual([[hello, 'done']]);
  expect(await engine.stableVersions()).toEqual(['1.0.0']);
  expect(await engine.stableVersions('greeter')).toEqual(['1.0.0']);
  expect((await engine.fleetEventsOf('web')).filter((e) => e.event === 'deploy')).toEqual([]);
}

describe('release trains', () => {
  const engines = useEngines();

  it('releases three services in dependency order, in lockstep, approved once before production and not by its requester', async () => {
    const environments = [
      { name: 'staging', waves: [['s']] },
      { name: 'production', waves: [['p']] },
    ];
    const engine = await engines.start({
      record: 'train-lockstep',
      environments,
      otherServices: [
        { name: 'greeter', environments, fleet: true, dependsOn: ['hello'] },
        { name: 'web', environments, fleet: true, dependsOn: ['greeter'] },
      ],
    });
    const members = await publishThree(engine);
    const [web, greeter, hello] = members.map((m) => m.service) as [string, string, string];
    const started = await engine.trpc('dana').train.start.mutate({
      trainId: 'train-ok',
      members,
      lockstep: true,
      changeClass: 'normal',
      reason: 'greeting v2',
    });
    expect(started.plan.stages.map((s) => `${s.environment}: ${s.members.map((m) => m.service).join(', ')}`)).toEqual([
      `staging: ${hello}`,
      `staging: ${greeter}`,
      `staging: ${web}`,
      `production: ${hello}`,
      `production: ${greeter}`,
      `production: ${web}`,
    ]);

    // One approval for the whole train, once every member is through staging, by someone other than its requester.
    await waitUntil(
      async () => (await engine.trpc('viewer').train.get.query({ trainId: 'train-ok' })).gate?.status === 'waiting',
      90_000,
    );
    const waiting = await engine.trpc('viewer').train.get.query({ trainId: 'train-ok' });
    expect(waiting.steps.map((s) => `${s.environment} ${s.state}`)).toEqual([
      'staging succeeded',
      'staging succeeded',
      'staging succeeded',
      'production pending',
      'production pending',
      'production pending',
    ]);
    const self = await engine.rawCall('train.approve', { trainId: 'train-ok' }, engine.tokens.dana);
    expect(self.status).toBe(403);
    expect(self.body.error?.message).toMatch(/cannot approve your own train \(dana requested it\)/);
    const byViewer = await engine.rawCall('train.approve', { trainId: 'train-ok' }, engine.tokens.viewer);
    expect(byViewer.status).toBe(403);
    await engine.trpc('alice').train.approve.mutate({ trainId: 'train-ok', comment: 'staging looked fine' });

    const done = await trainOutcome(engine, 'train-ok');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.steps.every((s) => s.state === 'succeeded')).toBe(true);
    expect(await engine.stableVersions()).toEqual(['1.5.0', '1.5.0']);
    expect(await engine.stableVersions('greeter')).toEqual(['2.0.0', '2.0.0']);
    expect(await engine.stableVersions('web')).toEqual(['2.0.0', '2.0.0']);

    // The fleet's own log: in each environment, each member was promoted before the next one was deployed.
    for (const region of engine.regions) {
      const at = async (name: string, event: string) =>
        Date.parse(
          (await engine.fleetEventsOf(name)).findLast((e) => e.event === event && e.region === region)?.at ?? '',
        );
      expect(await at('hello', 'promote')).toBeLessThan(await at('greeter', 'deploy'));
      expect(await at('greeter', 'promote')).toBeLessThan(await at('web', 'deploy'));
    }

    // Each member is a release of its own service per environment, with the train's id, that asked nobody again.
    const member = await engine
      .trpc('viewer')
      .release.get.query({ service: greeter, releaseId: 'train-ok.production' });
    expect(member.gates).toEqual([]);
    expect(member.timeline.map((e) => e.message)).toContain("member of train train-ok: its approval is the train's");
    await waitUntil(async () => {
      const tagged = [];
      for await (const e of engine.client.workflow.list({ query: `ReleaseTrain = "train-ok"` })) tagged.push(e);
      return tagged.length === 7;
    }, 30_000);
    const listed = await engine.trpc('viewer').train.list.query({ limit: 500 });
    expect(listed.find((t) => t.trainId === 'train-ok')).toMatchObject({ stage: 'succeeded' });

    // Every step on the audit trail of the service it concerns.
    const trail = await engine.auditTrail.list({ service: greeter });
    const actions = trail.filter((r) => r.releaseId === 'train-ok').map((r) => r.action);
    expect(actions).toEqual(
      expect.arrayContaining(['train.requested', 'train.approved', 'train.member-started', 'train.member-released']),
    );
    expect(trail.find((r) => r.action === 'train.approved')?.actor).toBe('alice');
  }, 240_000);

  it('when its second member fails its canary, puts the first back and never touches the third', async () => {
    const engine = await startThree(engines, { record: 'train-undo' });
    const members = await publishThree(engine, { failureRate: 0.6 });
    const [web, greeter, hello] = members.map((m) => m.service) as [string, string, string];
    await engine.trpc('ci').train.start.mutate({ trainId: 'train-undo', members });

    const done = await trainOutcome(engine, 'train-undo');
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toMatch(new RegExp(`${greeter}@2.0.0 was rolled back`));
    await expectFirstUndoneThirdUntouched(engine, done);
    const deploys = async (name: string) => (await engine.fleetEventsOf(name)).filter((e) => e.event === 'deploy');
    const story = done.timeline.map((e) => e.message);
    expect(story).toContain(`${hello} is back on its previous version`);

    // The third member's request, signed ahead for the train, read from the train's history and replayed on
    // Temporal: the coordinator takes the signature, but the release asks its train, which did not send it.
    const [started] = await engine.history('train/train-undo');
    const payload = started?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    const input = JSON.parse(Buffer.from(payload as Uint8Array).toString('utf8')) as TrainInput;
    const webRequest = input.steps.find((s) => s.service === web)?.release;
    expect(webRequest).toBeDefined();
    await submitRelease(engine.client, webRequest as NonNullable<typeof webRequest>, {
      taskQueue: engine.releaseTaskQueue,
    });
    const replayed = await engine
      .trpc('viewer')
      .release.get.query({ service: web, releaseId: 'train-undo' })
      .catch(() => undefined);
    await waitUntil(async () => {
      const status = await engine.trpc('viewer').release.get.query({ service: web, releaseId: 'train-undo' });
      return status.outcome !== undefined;
    }, 60_000);
    const refused = await engine.trpc('viewer').release.get.query({ service: web, releaseId: 'train-undo' });
    expect(replayed === undefined || replayed.version === '2.0.0').toBe(true);
    expect(refused.outcome?.result).toBe('failed');
    expect(refused.outcome?.reason).toMatch(/belongs to train train-undo, which did not ask for it now/);
    expect(await deploys('web')).toEqual([]);
  }, 240_000);

  it('completes when its worker is killed mid-train, and deploys no region twice', async () => {
    const engine = await startThree(engines, { worker: 'process' });
    const members = await publishThree(engine);
    const [web, greeter, hello] = members.map((m) => m.service) as [string, string, string];
    await engine.trpc('ci').train.start.mutate({ trainId: 'train-crash', members });
    // Killed while the second member is in its canary.
    await waitUntil(async () => {
      const train = await engine.trpc('viewer').train.get.query({ trainId: 'train-crash' });
      if (train.steps[1]?.state !== 'running') return false;
      const member = await engine.trpc('viewer').release.get.query({ service: greeter, releaseId: 'train-crash' });
      return member.regions.some((r) => r.status === 'canary');
    }, 90_000);
    await engine.killWorkerProcess();
    await engine.startWorkerProcess();

    const done = await trainOutcome(engine, 'train-crash');
    expect(done.outcome?.result).toBe('succeeded');
    for (const [name, full] of [
      ['hello', hello],
      ['greeter', greeter],
      ['web', web],
    ] as const) {
      const deploys = (await engine.fleetEventsOf(name)).filter(
        (e) => e.event === 'deploy' && e.requestId === 'train-crash',
      );
      expect(deploys.map((e) => `${full} ${e.region}`)).toEqual([`${full} ${engine.regions[0]}`]);
    }
  }, 240_000);

  it('waiting for its approval, an SRE may abort it (nobody else) and a rejection ends it; nothing started either time', async () => {
    const engine = await startThree(engines);
    const members = await publishThree(engine);
    for (const trainId of ['train-abort', 'train-reject']) {
      await engine.trpc('ci').train.start.mutate({ trainId, members, changeClass: 'normal' });
      await waitUntil(
        async () => (await engine.trpc('viewer').train.get.query({ trainId })).gate?.status === 'waiting',
        30_000,
      );
    }
    const byOperator = await engine.rawCall('train.abort', { trainId: 'train-abort', reason: 'x' }, engine.tokens.olga);
    expect(byOperator.status).toBe(403);
    await engine.trpc('sam').train.abort.mutate({ trainId: 'train-abort', reason: 'wrong week for this' });
    await engine.trpc('alice').train.reject.mutate({ trainId: 'train-reject', comment: 'web 2.0.0 is not ready' });

    const aborted = await trainOutcome(engine, 'train-abort');
    expect(aborted.outcome).toMatchObject({ result: 'aborted', reason: 'aborted by sam: wrong week for this' });
    const rejected = await trainOutcome(engine, 'train-reject');
    expect(rejected.outcome).toMatchObject({
      result: 'failed',
      reason: 'alice rejected the train: web 2.0.0 is not ready',
    });
    for (const train of [aborted, rejected]) expect(train.steps.every((s) => s.state === 'pending')).toBe(true);
    for (const name of ['hello', 'greeter', 'web']) {
      expect((await engine.fleetEventsOf(name)).filter((e) => e.event === 'deploy')).toEqual([]);
    }
    const late = await engine.rawCall('train.abort', { trainId: 'train-abort', reason: 'again' }, engine.tokens.sam);
    expect(late.status).toBe(409);
    expect(late.body.error?.message).toMatch(/train train-abort has already ended \(aborted\)/);
  }, 120_000);

  it('aborted by an SRE while its second member is in its canary: that member goes back, and so does the first', async () => {
    const engine = await startThree(engines, { record: 'train-sre-abort', bakeSeconds: 20 });
    const members = await publishThree(engine);
    const greeter = engine.serviceName('greeter');
    await engine.trpc('ci').train.start.mutate({ trainId: 'train-sre-abort', members });
    await waitUntil(async () => {
      const member = await engine
        .trpc('viewer')
        .release.get.query({ service: greeter, releaseId: 'train-sre-abort' })
        .catch(() => undefined);
      return member?.regions.some((r) => r.status === 'canary') === true;
    }, 90_000);
    const aborted = await engine
      .trpc('sam')
      .train.abort.mutate({ trainId: 'train-sre-abort', reason: 'greeter pages' });
    expect(aborted.abortedReleases).toEqual([`${greeter}/train-sre-abort`]);

    const done = await trainOutcome(engine, 'train-sre-abort');
    expect(done.outcome).toMatchObject({ result: 'aborted', reason: 'aborted by sam: greeter pages' });
    await expectFirstUndoneThirdUntouched(engine, done);
  }, 180_000);

  it('cannot start while a member service has a release in progress (409), unless queued', async () => {
    const engine = await startThree(engines);
    const members = await publishThree(engine);
    await engine.trpc('ci').release.start.mutate({
      service: engine.service,
      version: '1.1.0',
      releaseId: 'in-the-way',
      changeClass: 'normal',
    });
    await engine.waitForStatus('in-the-way', (s) => s.stage === 'awaiting-approval');
    const refused = await engine.rawCall('train.start', { trainId: 'train-busy', members }, engine.tokens.ci);
    expect(refused.status).toBe(409);
    expect(refused.body.error?.message).toContain(
      `a train cannot start while one of its services has a release in progress: ${engine.service} (release in-the-way)`,
    );
    expect(refused.body.error?.message).toContain('nothing was started');
    await expect(engine.trpc('viewer').train.get.query({ trainId: 'train-busy' })).rejects.toThrow(
      /there is no train train-busy/,
    );
    const queued = await engine.trpc('ci').train.start.mutate({ trainId: 'train-busy', members, queue: true });
    expect(queued.alreadyStarted).toBe(false);
    await waitUntil(async () => {
      const train = await engine.trpc('viewer').train.get.query({ trainId: 'train-busy' });
      return train.steps[0]?.state === 'running';
    }, 30_000);
    const first = await engine.trpc('viewer').release.get.query({ service: engine.service, releaseId: 'train-busy' });
    expect(first.stage).toBe('queued');
  }, 120_000);
});
