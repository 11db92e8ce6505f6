// Config parity as a release gate: before a release enters the next environment, the config keys of the two
// environments are compared. Drift stops the release and asks a human; approve promotes anyway, reject rolls back.
import { describe, expect, it } from 'vitest';
import { configPrefix } from '../../providers/config-store/parity';
import { type TestEngine, useEngines } from '../support/engine';

const environments = [
  { name: 'staging', waves: [['s']] },
  { name: 'production', waves: [['p']] },
];

/** staging has a key production lacks: a release that worked in staging may not in production. */
async function drift(engine: TestEngine) {
  await engine.configStore.put(`${configPrefix(engine.service, 'staging')}/db/pool-size`, '10');
  await engine.configStore.put(`${configPrefix(engine.service, 'staging')}/feature/greeting-locale`, 'on');
  await engine.configStore.put(`${configPrefix(engine.service, 'production')}/db/pool-size`, '50');
}

describe('config parity gate', () => {
  const engines = useEngines();

  it('drift between staging and production waits for a human; an approval promotes anyway', async () => {
    const engine = await engines.start({ record: 'config-drift-approved', environments });
    await drift(engine);
    const ref = { service: engine.service, releaseId: 'drift-ok' };
    await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.1.0' });

    const waiting = await engine.waitForStatus('drift-ok', (s) => s.stage === 'needs-decision');
    const gate = waiting.gates.find((g) => g.id === 'config-parity-production');
    expect(gate?.status).toBe('waiting');
    expect(gate?.description).toBe(
      'config drift: production lacks 1 key staging has: feature/greeting-locale; approve to promote to production anyway, reject to roll back',
    );
    // Production was not touched while the question is open.
    expect(waiting.regions.map((r) => [r.environment, r.status])).toEqual([
      ['staging', 'succeeded'],
      ['production', 'pending'],
    ]);

    await engine.trpc('alice').release.approve.mutate({
      ...ref,
      gate: 'config-parity-production',
      comment: 'the flag defaults to off in production',
    });
    const done = await engine.waitForOutcome('drift-ok');
    expect(done.outcome?.result).toBe('succeeded');
    expect((await engine.fleet.state({ service: engine.service, region: engine.regions[1]! })).stableVersion).toBe(
      '1.1.0',
    );
    const trail = await engine.auditTrail.list({ releaseId: 'drift-ok' });
    expect(trail.find((r) => r.action === 'config.parity-checked')?.details).toMatchObject({
      onlyInBase: ['feature/greeting-locale'],
      onlyInOther: [],
    });
    expect(trail.find((r) => r.action === 'gate.approved')).toMatchObject({
      actor: 'alice',
      gate: 'config-parity-production',
    });
  });

  it('a rejection of the drift rolls staging back; without drift the gate passes on its own', async () => {
    const engine = await engines.start({ environments });
    await drift(engine);
    const ref = { service: engine.service, releaseId: 'drift-no' };
    await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.1.0' });
    await engine.waitForStatus('drift-no', (s) => s.stage === 'needs-decision');
    await engine.trpc('bob').release.reject.mutate({ ...ref, gate: 'config-parity-production', comment: 'fix config' });
    const done = await engine.waitForOutcome('drift-no');
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toBe(
      'config drift between staging and production (production lacks 1 key staging has: feature/greeting-locale); rejected by bob: fix config',
    );
    expect((await engine.fleet.state({ service: engine.service, region: engine.regions[0]! })).stableVersion).toBe(
      '1.0.0',
    );

    // The missing key is added: the next release passes the gate without asking anyone.
    await engine.configStore.put(`${configPrefix(engine.service, 'production')}/feature/greeting-locale`, 'off');
    await engine.trpc('ci').release.start.mutate({ ...ref, releaseId: 'drift-fixed', version: '1.1.0' });
    const fixed = await engine.waitForOutcome('drift-fixed');
    expect(fixed.outcome?.result).toBe('succeeded');
    expect(fixed.gates.map((g) => g.id)).not.toContain('config-parity-production');
    expect(fixed.timeline.map((e) => e.message)).toContain(
      'config parity: staging and production have the same config keys',
    );
  }, 120_000);
});
