// The exec driver with a team's own script (test/fixtures/exec-fleet/fleetd-step.mjs, which drives the demo fleet
// through fleetd's control API): the same outcomes as the local driver. A release goes through every region, a
// failing canary rolls back, a worker killed mid-bake deploys each region once, and a script killed mid-step is
// retried with the same idempotency key without deploying twice.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useEngines } from '../support/engine';

function deploysPerRegion(events: { event: string; region: string; requestId?: string }[], releaseId: string) {
  const counts: Record<string, number> = {};
  for (const e of events)
    if (e.requestId === releaseId && e.event === 'deploy') counts[e.region] = (counts[e.region] ?? 0) + 1;
  return counts;
}

describe('exec fleet driver', () => {
  const engines = useEngines();

  it("a release through the team's script: every region deployed once, even after the script died mid-deploy", async () => {
    const hang = join(tmpdir(), `exec-hang-once-${randomUUID()}`);
    const engine = await engines.start({
      record: 'exec-release-output',
      fleet: 'exec',
      waves: [['a'], ['b']],
      exec: { timeoutSeconds: 5, hangOnceFile: hang },
    });
    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.1.0', releaseId: 'exec-1' });
    const status = await engine.waitForOutcome('exec-1', 120_000);
    expect([status.outcome?.result, status.outcome?.reason]).toEqual(['succeeded', undefined]);
    expect(await engine.stableVersions()).toEqual(['1.1.0', '1.1.0']);
    // The first deploy hung after fleetd had started the instances; the driver stopped it at its timeout and the
    // retry, with the same idempotency key, found them running.
    expect(readFileSync(hang, 'utf8')).toBe(`exec-1/${engine.service}/${engine.regions[0]}/deploy/1.1.0`);
    const events = await engine.fleetEvents('exec-1');
    expect(deploysPerRegion(events, 'exec-1')).toEqual(Object.fromEntries(engine.regions.map((r) => [r, 1])));
    expect(events.filter((e) => e.event === 'deploy-noop').map((e) => e.region)).toEqual([engine.regions[0]]);
    rmSync(hang, { force: true });
    // What the script printed is on the timeline and in the audit trail.
    const [a] = engine.regions as [string];
    // The script fetched the artifact by the signed URL the worker gave it, and checked its digest, before deploying.
    const output = new RegExp(
      `^deploy ${engine.service} ${a} \\(key exec-1/${engine.service}/${a}/deploy/1\\.1\\.0\\)\nartifact fetched: \\d+ bytes, digest checked$`,
    );
    const started = status.timeline.find((t) =>
      t.message.startsWith(`${a}: 1.1.0 started at 0% of traffic; the fleet said: `),
    );
    expect(started?.message.split('; the fleet said: ')[1]).toMatch(output);
    const records = await engine.auditTrail.list({ releaseId: 'exec-1' });
    const audited = records.find((r) => r.action === 'region.canary-started' && r.region === a);
    expect((audited?.details as { output?: string } | undefined)?.output).toMatch(output);
  });

  it('a failing canary rolls back through the script; production, on the local driver in the same stack, is never touched', async () => {
    // One catalog, two drivers: staging deploys through the script, production through fleetd's own driver.
    const engine = await engines.start({
      record: 'exec-failing-canary',
      fleet: 'exec',
      environments: [
        { name: 'staging', waves: [['a']] },
        { name: 'production', waves: [['b']], fleet: 'local' },
      ],
    });
    const [a, b] = engine.regions as [string, string];
    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.2.0', releaseId: 'exec-bad' });
    const done = await engine.waitForOutcome('exec-bad', 120_000);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toMatch(new RegExp(`canary of 1\\.2\\.0 failed in ${a} at 50%`));
    expect(await engine.stableVersions()).toEqual(['1.0.0', '1.0.0']);
    const events = await engine.fleetEvents('exec-bad');
    expect(events.filter((e) => e.region === b)).toEqual([]);
    expect(events.filter((e) => e.region === a && !e.event.startsWith('baseline-')).map((e) => e.event)).toEqual([
      'deploy',
      'traffic',
      'revert',
      'revert-noop',
    ]);
  });

  it('a worker killed while a region bakes: the release completes through the script, each region deployed once', async () => {
    const engine = await engines.start({
      record: 'exec-worker-crash',
      fleet: 'exec',
      waves: [['a']],
      bakeSeconds: 4,
      worker: 'process',
    });
    await engine
      .trpc('ci')
      .release.start.mutate({ service: engine.service, version: '1.1.0', releaseId: 'exec-crash' });
    await engine.waitForStatus('exec-crash', (s) => s.regions[0]?.trafficPercent === 50);
    await engine.killWorkerProcess();
    await new Promise((done) => setTimeout(done, 1000));
    await engine.startWorkerProcess();
    const status = await engine.waitForOutcome('exec-crash', 150_000);
    expect([status.outcome?.result, status.outcome?.reason]).toEqual(['succeeded', undefined]);
    const events = await engine.fleetEvents();
    expect(deploysPerRegion(events, 'exec-crash')).toEqual(Object.fromEntries(engine.regions.map((r) => [r, 1])));
    expect(existsSync(join(engine.dir, 'worker.log'))).toBe(true);
    expect(readFileSync(join(engine.dir, 'worker.log'), 'utf8')).toContain('fleet drivers the catalog uses: exec');
  }, 240_000);
});
