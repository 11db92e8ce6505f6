// Human gates of a release: the approval before production (quorum, separation of duties, rejection, timeout) and
// the config-drift decision when moving from one environment to the next.
import { describe, expect, it } from 'vitest';
import { releaseWorkflowId } from '../../domain/names';
import { useWorkflowEngines } from '../support/workflow-engine';

const stagingThenProduction = [
  { name: 'staging', waves: [['s']] },
  { name: 'production', waves: [['p']] },
];

describe('the approval gate before production', () => {
  const engines = useWorkflowEngines();

  it('needs its quorum of different approvers; the requester, a person without the role, a repeat, an unknown gate and an early decision are refused to the caller and never enter history', async () => {
    const engine = await engines.start({
      environments: stagingThenProduction,
      service: { approvals: { timeoutSeconds: 120, normalQuorum: 2 } },
    });
    const { releaseId } = await engine.start('1.1.0', { changeClass: 'normal', by: 'dana' });

    // Staging is still rolling out: the gate is not open yet.
    await expect(engine.approve(releaseId, 'production-approval', 'alice')).rejects.toMatchObject({
      code: 'GATE_NOT_WAITING',
      message: expect.stringContaining('gate production-approval is not waiting for decisions yet') as string,
    });

    const waiting = await engine.waitForGate(releaseId, 'production-approval');
    expect(waiting.stage).toBe('awaiting-approval');
    expect(waiting.regions.map((r) => r.status)).toEqual(['succeeded', 'pending']);
    expect(engine.runs('p')).toBe('1.0.0');

    await expect(engine.approve(releaseId, 'production-approval', 'dana')).rejects.toMatchObject({
      code: 'DECISION_FORBIDDEN',
      message: 'you cannot approve your own release (dana requested it); another person must decide',
    });
    await expect(engine.approve(releaseId, 'production-approval', 'olga')).rejects.toMatchObject({
      code: 'DECISION_FORBIDDEN',
      message: 'olga cannot approve gate production-approval: it needs the approver role',
    });
    await expect(engine.approve(releaseId, 'prod', 'alice')).rejects.toMatchObject({
      code: 'GATE_NOT_FOUND',
      message: 'there is no gate "prod" in this release (its gates: production-approval)',
    });

    const first = await engine.approve(releaseId, 'production-approval', 'alice', 'CHG-1');
    expect([first.status, first.decisions.length, first.quorum]).toEqual(['waiting', 1, 2]);
    // The Temporal UI's "current details" say where the release is and what it waits for, in words.
    const details = async () =>
      (
        await engine.client.workflow
          .getHandle(releaseWorkflowId(engine.service, releaseId))
          .query<{ currentDetails?: string }>('__temporal_workflow_metadata')
      ).currentDetails ?? '';
    expect(await details()).toContain('**Stage:** awaiting-approval');
    expect(await details()).toContain(
      '**Next:** gate production-approval waits for 1 more approval(s) from approver: 2 approvals before the first production wave (normal change)',
    );
    await expect(engine.approve(releaseId, 'production-approval', 'alice')).rejects.toMatchObject({
      code: 'DUPLICATE_DECISION',
      message: 'alice has already decided on gate production-approval',
    });
    expect((await engine.status(releaseId)).stage).toBe('awaiting-approval');
    const second = await engine.approve(releaseId, 'production-approval', 'bob');
    expect(second.status).toBe('approved');
    await expect(engine.approve(releaseId, 'production-approval', 'carol')).rejects.toMatchObject({
      code: 'GATE_NOT_WAITING',
      message: 'gate production-approval is not waiting for decisions: it is already approved',
    });

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.runs('p')).toBe('1.1.0');
    expect(done.timeline.map((e) => e.message)).toContain('gate production-approval approved by alice, bob');
    expect(engine.audit.actions(releaseId).filter((a) => a.startsWith('gate.'))).toEqual([
      'gate.opened',
      'gate.approved',
      'gate.approved',
    ]);
    expect(await engine.acceptedDecisions(releaseId)).toEqual(['approve:alice', 'approve:bob']);
    expect(await details()).toContain('**Next:** nothing: the release has ended (succeeded)');
  }, 60_000);
});

describe('config drift between environments', () => {
  const engines = useWorkflowEngines();

  it('asks an approver before promoting to production; approved, the release carries on', async () => {
    const engine = await engines.start({ environments: stagingThenProduction });
    await engine.setConfig('staging', 'db/pool-size');
    const { releaseId } = await engine.start('1.1.0', { by: 'dana' });

    const waiting = await engine.waitForGate(releaseId, 'config-parity-production');
    expect(waiting.stage).toBe('needs-decision');
    expect(waiting.gates.find((g) => g.id === 'config-parity-production')).toMatchObject({
      kind: 'analysis',
      roles: ['approver', 'sre'],
      description:
        'config drift: production lacks 1 key staging has: db/pool-size; approve to promote to production anyway, reject to roll back',
    });
    expect(engine.fleet.callsFor(releaseId).filter((c) => c.region === engine.region('p'))).toEqual([]);
    // Separation of duties holds for this gate too.
    await expect(engine.approve(releaseId, 'config-parity-production', 'dana')).rejects.toMatchObject({
      code: 'DECISION_FORBIDDEN',
    });
    await engine.approve(releaseId, 'config-parity-production', 'alice', 'key is unused in production');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.runs('p')).toBe('1.1.0');
    expect(engine.audit.records.find((r) => r.action === 'config.parity-checked')).toMatchObject({
      reason: 'production lacks 1 key staging has: db/pool-size',
    });
  }, 60_000);

  it('rejected, the release rolls back staging and never touches production', async () => {
    const engine = await engines.start({ environments: stagingThenProduction });
    await engine.setConfig('production', 'feature/new-checkout');
    const { releaseId } = await engine.start('1.1.0');
    await engine.waitForGate(releaseId, 'config-parity-production');
    await engine.reject(releaseId, 'config-parity-production', 'bob', 'add the key to staging first');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome).toMatchObject({
      result: 'rolled-back',
      reason:
        'config drift between staging and production (staging lacks 1 key production has: feature/new-checkout); rejected by bob: add the key to staging first',
    });
    expect([engine.runs('s'), engine.runs('p')]).toEqual(['1.0.0', '1.0.0']);
    expect(engine.fleet.callsFor(releaseId).filter((c) => c.region === engine.region('p'))).toEqual([]);
  }, 60_000);

  it('with the same keys on both sides, promotion needs nobody', async () => {
    const engine = await engines.start({ environments: stagingThenProduction });
    await engine.setConfig('staging', 'db/pool-size');
    await engine.setConfig('production', 'db/pool-size');
    const { releaseId } = await engine.start('1.1.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.gates).toEqual([]);
    expect(done.timeline.map((e) => e.message)).toContain(
      'config parity: staging and production have the same config keys',
    );
  }, 60_000);

  it('nobody deciding on the drift within the decision timeout rolls the release back', async () => {
    const engine = await engines.start({
      environments: stagingThenProduction,
      service: { approvals: { timeoutSeconds: 2 } },
    });
    await engine.setConfig('staging', 'db/pool-size');
    const { releaseId } = await engine.start('1.1.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome).toMatchObject({
      result: 'rolled-back',
      reason:
        'config drift between staging and production (production lacks 1 key staging has: db/pool-size); nobody decided within 2s',
    });
    expect([engine.runs('s'), engine.runs('p')]).toEqual(['1.0.0', '1.0.0']);
  }, 60_000);
});
