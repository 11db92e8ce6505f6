// "Only the API decides": fleetd's control port refuses anyone without its token, and a change that reached the
// fleet by another path shows as drift in service.get and stops the next release until an SRE acknowledges it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, type TestEngine } from '../support/engine';

async function servedVersion(url: string): Promise<string | null> {
  const res = await fetch(`${url}/`);
  await res.text();
  return res.headers.get('x-version');
}

describe('fleet drift', () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await startTestEngine({ waves: [['a']], bakeSeconds: 1 });
  }, 180_000);
  afterAll(() => engine?.close());

  it('refuses tokenless and wrong-token calls, shows a hand-made change as drift, and starts a release once acknowledged', async () => {
    const { service } = engine;
    const region = engine.regions[0]!;
    const ref = { service, region };
    const url = engine.routers.find((r) => r.region === region)!.url;
    const sre = engine.trpc('sam');
    const ci = engine.trpc('ci');
    // What a release's first step does: the ledger records the version found running.
    await engine.ledger.observe(service, region, '1.0.0', new Date().toISOString());
    expect((await sre.service.get.query({ service })).regions[0]?.drift).toEqual({
      status: 'in-sync',
      version: '1.0.0',
    });

    // The incident's three curls, without a token and with a wrong one.
    const digest = (await engine.artifacts.resolve(service, '1.3.0'))!.digest;
    const calls: [string, object][] = [
      ['deploy', { version: '1.3.0', digest, requestId: 'curl' }],
      ['traffic', { version: '1.3.0', percent: 100, requestId: 'curl' }],
      ['promote', { version: '1.3.0', requestId: 'curl' }],
    ];
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer 0123456789abcdef0123456789abcdef0123456789a' },
    ];
    for (const auth of attempts) {
      for (const [op, body] of calls) {
        const res = await fetch(`${engine.fleetUrl}/v1/services/${service}/regions/${region}/${op}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify(body),
        });
        expect(res.status, `${op} with ${JSON.stringify(auth)}`).toBe(401);
        expect(((await res.json()) as { error: string }).error).toMatch(/control token/);
      }
    }
    expect(await servedVersion(url)).toBe('1.0.0');
    expect((await engine.fleet.state(ref)).instances.map((i) => i.version)).toEqual(['1.0.0']);
    expect((await sre.service.get.query({ service })).regions[0]?.drift.status).toBe('in-sync');

    // Someone with the token changes the region outside a release.
    await engine.fleet.deploy({ ...ref, version: '1.3.0', digest, requestId: 'by-hand' });
    await engine.fleet.setTraffic({ ...ref, version: '1.3.0', percent: 100, requestId: 'by-hand' });
    expect(await servedVersion(url)).toBe('1.3.0');
    const view = (await sre.service.get.query({ service })).regions[0]!;
    expect(view.version).toBe('1.0.0');
    expect(view.drift).toMatchObject({
      status: 'drifted',
      ledgerVersion: '1.0.0',
      runs: '1.3.0 on 100% of traffic (stable 1.0.0) plus 1.0.0 deployed without traffic',
      acknowledged: null,
    });
    expect(view.drift.status === 'drifted' && view.drift.since).toBeTruthy();

    const refused = ci.release.start.mutate({ service, version: '1.1.0' });
    await expect(refused).rejects.toThrow(`regions: ${region} of ${service}`);
    await expect(refused).rejects.toThrow(`relctl service ack-drift ${service} ${region}`);

    // Only an SRE acknowledges, and only what runs now: a later change blocks again.
    await expect(ci.service.acknowledgeDrift.mutate({ ...ref, reason: 'fine' })).rejects.toThrow(/needs the sre role/);
    await sre.service.acknowledgeDrift.mutate({ ...ref, reason: 'INC-7: hotfix put on by hand' });
    await engine.fleet.setTraffic({ ...ref, version: '1.3.0', percent: 50, requestId: 'by-hand-2' });
    await expect(ci.release.start.mutate({ service, version: '1.1.0' })).rejects.toThrow(`regions: ${region}`);
    const acked = await sre.service.acknowledgeDrift.mutate({ ...ref, reason: 'INC-7: half back, on purpose' });
    expect(acked.message).toContain(`${region}: the version ledger says 1.0.0`);
    expect((await engine.driftAcks.history(service, region)).map((a) => [a.by, a.reason])).toEqual([
      ['sam', 'INC-7: hotfix put on by hand'],
      ['sam', 'INC-7: half back, on purpose'],
    ]);
    expect((await sre.service.get.query({ service })).regions[0]?.drift).toMatchObject({
      status: 'drifted',
      acknowledged: { by: 'sam' },
    });

    const started = await ci.release.start.mutate({ service, version: '1.1.0', releaseId: 'after-ack' });
    expect(started.releaseId).toBe('after-ack');
    const done = await engine.waitForOutcome('after-ack');
    expect(done.outcome).toBeDefined();
  }, 180_000);
});
