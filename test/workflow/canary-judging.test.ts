// The sequential canary judge and the watch after promotion, as a pipeline and an on-call engineer see them: a clearly
// failing canary fails at once without asking anyone, a healthy one passes once its bake is over, one without enough
// evidence asks a human only after the extended bake; a promoted region that breaks, or an alert from monitoring
// inside the watch window, rolls the whole release back.
import { describe, expect, it } from 'vitest';
import { releaseWorkflowId } from '../../domain/names';
import { alertUpdate, type AlertInput } from '../../workflows/messages';
import { useWorkflowEngines } from '../support/workflow-engine';

const sequential = {
  judge: 'sequential',
  steps: [{ percent: 50 }],
  lookSeconds: 1,
  warmupSeconds: 0,
  maxBakeFactor: 2,
  sequential: { minRequests: 50 },
} as const;

describe('the sequential canary judge', () => {
  const engines = useWorkflowEngines();

  it('fails a clearly failing canary at its first look, long before the bake ends, without a human gate', async () => {
    const engine = await engines.start({ service: { canary: sequential } });
    engine.metrics.program('1.2.0', 'fail');
    const { releaseId } = await engine.start('1.2.0', { bakeSeconds: 60 });
    const done = await engine.waitForOutcome(releaseId);

    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.gates.filter((g) => g.id.startsWith('analysis-'))).toEqual([]);
    const [verdict] = done.regions[0]?.verdicts ?? [];
    expect(verdict).toMatchObject({ verdict: 'fail', judge: 'sequential', looks: 1, baselineKind: 'running' });
    expect(verdict?.decidedAfterSeconds).toBeLessThan(30);
    expect(verdict?.reasons.join('\n')).toMatch(/mSPRT likelihood ratio .* ≥ 1\/α = \d+ → fail/);
    expect(verdict?.reasons.join('\n')).toContain('compared with the running 1.0.0');
    expect(engine.runs('a')).toBe('1.0.0');
  }, 60_000);

  it('passes a healthy canary once the bake is over, saying which tests held and against what', async () => {
    const engine = await engines.start({ service: { canary: sequential } });
    const { releaseId } = await engine.start('1.1.0', { bakeSeconds: 2 });
    const done = await engine.waitForOutcome(releaseId);

    expect(done.outcome?.result).toBe('succeeded');
    const [verdict] = done.regions[0]?.verdicts ?? [];
    expect(verdict).toMatchObject({ verdict: 'pass', judge: 'sequential' });
    expect(verdict?.decidedAfterSeconds).toBeGreaterThanOrEqual(2);
    expect(verdict?.reasons.join('\n')).toMatch(/error-rate increase at most .* → within margin/);
    const audited = engine.audit.records.find((r) => r.releaseId === releaseId && r.action === 'canary.analysed');
    expect(audited?.reason).toContain('→ within margin');
  }, 60_000);

  it('asks a human only when the extended bake still cannot tell', async () => {
    const engine = await engines.start({ service: { canary: sequential } });
    engine.metrics.program('1.1.0', 'inconclusive');
    const { releaseId } = await engine.start('1.1.0', { bakeSeconds: 1 });
    const gateId = `analysis-${engine.region('a')}-step-1`;
    const gated = await engine.waitForGate(releaseId, gateId);
    expect(gated.gates.find((g) => g.id === gateId)?.description).toContain('inconclusive');
    // The region's verdict report and its request for a decision are two signals; on a busy machine the request can
    // be applied first.
    const status = await engine.waitFor(releaseId, (s) => (s.regions[0]?.verdicts.length ?? 0) > 0, 'the verdict');
    const [verdict] = status.regions[0]?.verdicts ?? [];
    expect(verdict).toMatchObject({ verdict: 'inconclusive', judge: 'sequential' });
    expect(verdict?.reasons.join('\n')).toContain('extended to 2s');
    await engine.reject(releaseId, gateId, 'alice', 'not enough traffic to tell');
    expect((await engine.waitForOutcome(releaseId)).outcome?.result).toBe('rolled-back');
  }, 60_000);
});

describe('watching promoted regions', () => {
  const engines = useWorkflowEngines();

  it('rolls every region back, in reverse order, when a promoted region breaks during the watch window', async () => {
    const engine = await engines.start({
      environments: [{ name: 'production', waves: [['a'], ['b']] }],
      service: { watch: { seconds: 20, lookSeconds: 1 } },
    });
    // One window per canary step (the fixed-window judge of these tests), then the watch: errors at 25%.
    engine.metrics.program('1.1.0', ['pass', 'pass', 'fail']);
    const { releaseId } = await engine.start('1.1.0');
    const done = await engine.waitForOutcome(releaseId, 60_000);

    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toMatch(/breached while watched/);
    const story = done.timeline.map((e) => e.message).join('\n');
    expect(story).toMatch(/watching .* for 20s \(watch window after the last wave\)/);
    expect(story).toMatch(/lower bound .* > ceiling/);
    expect(['a', 'b'].map(engine.runs)).toEqual(['1.0.0', '1.0.0']);
    const reverts = engine.journal.entries.filter((e) => /^revert [^(]/.test(e.what)).map((e) => e.what);
    expect(reverts).toEqual([`revert ${engine.region('b')} 1.0.0`, `revert ${engine.region('a')} 1.0.0`]);
  }, 90_000);

  it('rolls back on an alert signed by the API inside the window, and refuses alerts outside it or unsigned', async () => {
    const engine = await engines.start({ service: { watch: { seconds: 60, lookSeconds: 1 } } });
    const { releaseId } = await engine.start('1.1.0');
    const handle = engine.client.workflow.getHandle(releaseWorkflowId(engine.service, releaseId));
    const alert: Omit<AlertInput, 'authorization'> = {
      by: 'alertmanager',
      alertname: 'HighErrorRate',
      region: engine.region('a'),
      reason: 'error rate above 5% for 1m',
    };

    const refusal = (update: Promise<unknown>) =>
      update.then(
        () => 'accepted',
        (err: unknown) => (err as { cause?: Error }).cause?.message ?? String(err),
      );
    // Before the watch window: refused, nothing changes.
    expect(
      await refusal(
        handle.executeUpdate(alertUpdate, { args: [engine.signer.sign(handle.workflowId, 'alert', alert)] }),
      ),
    ).toMatch(/not in its watch window/);

    await engine.waitFor(releaseId, (s) => s.stage === 'watching', 'the watch window', 30_000);
    // Unsigned (sent straight to Temporal): refused.
    expect(await refusal(handle.executeUpdate(alertUpdate, { args: [alert] }))).toMatch(/^refused/);

    const outcome = await handle.executeUpdate(alertUpdate, {
      args: [engine.signer.sign(handle.workflowId, 'alert', alert)],
    });
    expect(outcome).toEqual({ action: 'rolling-back', releaseId });
    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.timeline.map((e) => e.message).join('\n')).toContain('alert HighErrorRate');
    expect(engine.runs('a')).toBe('1.0.0');
    expect(engine.audit.actions(releaseId)).toContain('alert.received');
  }, 90_000);
});
