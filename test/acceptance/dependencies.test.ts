// Requirements between services: an artifact whose manifest requires a version of a service it depends on is refused
// at plan and at start, in words naming the service, the environment and the version found there, and nothing
// starts; once the dependency runs a version in range, the same release may start.
import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import type { AppRouter } from '../../api/routers';
import { publishDemoVersion } from '../../demo/seed';
import { useEngines } from '../support/engine';

async function refusal(promise: Promise<unknown>) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  return err as TRPCClientError<AppRouter>;
}

describe('release requirements', () => {
  const engines = useEngines();

  it('a release whose required version of a dependency is not where it goes is refused at plan and start', async () => {
    const engine = await engines.start({
      worker: 'none',
      waves: [['a']],
      service: { dependsOn: ['payments'] },
      otherServices: [{ name: 'payments', environments: [{ name: 'production', waves: [['p1'], ['p2']] }] }],
    });
    const [p1, p2] = [`p1-${engine.suffix}`, `p2-${engine.suffix}`];
    const recordedAt = new Date().toISOString();
    await engine.ledger.record('payments', p1, { version: '1.3.2', releaseId: 'seed', recordedAt });
    await engine.ledger.record('payments', p2, { version: '1.3.2', releaseId: 'seed', recordedAt });
    await engine.publish('2.0.0', {
      greeting: 'hello',
      failureRate: 0,
      latencyMs: 5,
      requires: { payments: '>=1.4.0' },
    });
    const request = { service: engine.service, version: '2.0.0', releaseId: 'needs-payments' };
    const message = `${engine.service}@2.0.0 needs payments >=1.4.0 in production, which runs 1.3.2; nothing was started`;

    const planned = await refusal(engine.trpc('ci').release.plan.query(request));
    expect([planned.data?.httpStatus, planned.message]).toEqual([412, message]);
    const started = await refusal(engine.trpc('ci').release.start.mutate(request));
    expect([started.data?.httpStatus, started.message]).toEqual([412, message]);
    expect(await engine.trpc('ci').release.list.query({ service: engine.service })).toEqual([]);

    // One region of the dependency upgraded: the refusal names the one still behind.
    await engine.ledger.record('payments', p1, { version: '1.4.0', releaseId: 'r-pay', recordedAt });
    expect((await refusal(engine.trpc('ci').release.plan.query(request))).message).toBe(
      `${engine.service}@2.0.0 needs payments >=1.4.0 in production, where ${p2} runs 1.3.2; nothing was started`,
    );
    await engine.ledger.record('payments', p2, { version: '1.4.1', releaseId: 'r-pay', recordedAt });
    const plan = await engine.trpc('ci').release.plan.query(request);
    expect(plan.plan.version).toBe('2.0.0');
  });

  it("a train's plan orders its members by dependency, and checks what one requires of another against the train", async () => {
    const engine = await engines.start({
      worker: 'none',
      waves: [['a']],
      service: { dependsOn: ['payments'] },
      otherServices: [{ name: 'payments', environments: [{ name: 'production', waves: [['p1']] }] }],
    });
    const behaviour = { greeting: 'hello', failureRate: 0, latencyMs: 5 };
    await engine.publish('2.0.0', { ...behaviour, requires: { payments: '>=1.4.0' } });
    for (const version of ['1.3.9', '1.4.0']) {
      await publishDemoVersion(engine.artifacts, version, behaviour, { service: 'payments' });
    }
    const members = (payments: string) => [
      { service: engine.service, version: '2.0.0' },
      { service: 'payments', version: payments },
    ];
    const plan = await engine.trpc('ci').train.plan.query({ trainId: 'train-1', members: members('1.4.0') });
    expect(plan.stages.map((s) => s.members.map((m) => `${m.service}@${m.version}`))).toEqual([
      ['payments@1.4.0'],
      [`${engine.service}@2.0.0`],
    ]);
    expect(plan.rollbackOrder).toEqual([engine.service, 'payments']);

    const refused = await refusal(engine.trpc('ci').train.plan.query({ members: members('1.3.9') }));
    expect([refused.data?.httpStatus, refused.message]).toEqual([
      412,
      `${engine.service}@2.0.0 needs payments >=1.4.0, but the train brings payments@1.3.9; nothing was started`,
    ]);
    const missing = await refusal(engine.trpc('ci').train.plan.query({ members: members('9.9.9') }));
    expect([missing.data?.httpStatus, missing.message]).toEqual([
      400,
      'members[1].version: there is no artifact payments@9.9.9 in the artifact store; publish it first',
    ]);
  });
});
