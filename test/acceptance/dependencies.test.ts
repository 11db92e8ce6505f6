// Requirements between services: an artifact whose manifest requires a version of a service it depends on is refused
// at plan and at start, in words naming the service, the environment and the version found there, and nothing
// starts; once the dependency runs a version in range, the same release may start.
import { TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import type { AppRouter } from '../../api/routers';
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
});
