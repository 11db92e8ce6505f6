// Freeze windows of the release calendar: a release waits them out, fails in them, or overrides them as an emergency.
import { describe, expect, it } from 'vitest';
import type { OneOffWindow } from '../../domain/calendar';
import { releaseWorkflowId } from '../../domain/names';
import { recheckFreezeSignal } from '../../workflows/messages';
import { useWorkflowEngines } from '../support/workflow-engine';

function freeze(id: string, endsInMs: number): OneOffWindow {
  return {
    id,
    kind: 'one-off',
    reason: 'quarter-end close',
    start: new Date(Date.now() - 60_000).toISOString(),
    end: new Date(Date.now() + endsInMs).toISOString(),
    environments: ['production'],
  };
}

describe('a freeze window', () => {
  const engines = useWorkflowEngines();

  it('holds a release before anything is promoted or deployed, and the release goes on by itself when it ends', async () => {
    const engine = await engines.start();
    const window = freeze('quarter-end', 3000);
    await engine.calendar.put(window);
    const { releaseId } = await engine.start('1.1.0');

    const waiting = await engine.waitFor(releaseId, (s) => s.stage === 'waiting-for-freeze', 'the freeze wait');
    expect(waiting.timeline.map((e) => e.message)).toContain(
      `production is frozen by quarter-end (quarter-end close); waiting until ${window.end}`,
    );
    expect((await engine.artifacts.promotion(engine.service, '1.1.0')).status).toBe('candidate');
    expect(engine.fleet.callsFor(releaseId)).toEqual([]);

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    const firstCall = engine.fleet.callsFor(releaseId)[0];
    expect(Date.parse(firstCall?.at ?? '')).toBeGreaterThanOrEqual(Date.parse(window.end));
    expect(engine.audit.actions(releaseId)).toContain('freeze.waiting');
  }, 60_000);

  it('lifted early (deleted from the calendar), lets the waiting release go as soon as the calendar tells it', async () => {
    const engine = await engines.start();
    await engine.calendar.put(freeze('incident-review', 3_600_000));
    const { releaseId } = await engine.start('1.1.0');
    await engine.waitFor(releaseId, (s) => s.stage === 'waiting-for-freeze', 'the freeze wait');

    await engine.calendar.delete('incident-review');
    // Until it is told the calendar changed, the release keeps the wait it computed (an hour).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await engine.status(releaseId)).stage).toBe('waiting-for-freeze');
    await engine.calendarChanged(releaseId);
    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.runs('a')).toBe('1.1.0');
  }, 60_000);

  it('fails the release at once, naming the window, for a service that does not wait; nothing is touched', async () => {
    const engine = await engines.start({ service: { onFreeze: 'fail' } });
    const window = freeze('quarter-end', 3_600_000);
    await engine.calendar.put(window);
    const { releaseId } = await engine.start('1.1.0');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome).toMatchObject({
      result: 'failed',
      reason: `production is frozen by quarter-end (quarter-end close) until ${window.end}, and this service fails releases in a freeze`,
    });
    expect(done.compensations).toEqual([]);
    expect(engine.fleet.callsFor(releaseId)).toEqual([]);
    expect((await engine.artifacts.promotion(engine.service, '1.1.0')).status).toBe('candidate');
  }, 60_000);

  it('is overridden by an emergency release, which then needs two different approvers and keeps its reason on record', async () => {
    const engine = await engines.start();
    await engine.calendar.put(freeze('quarter-end', 3_600_000));
    const { releaseId } = await engine.start('1.1.0', { changeClass: 'emergency', reason: 'payments outage hotfix' });

    await engine.waitForGate(releaseId, 'production-approval');
    const first = await engine.approve(releaseId, 'production-approval', 'alice');
    expect([first.status, first.quorum]).toEqual(['waiting', 2]);
    await engine.approve(releaseId, 'production-approval', 'bob');

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.reason).toBe('payments outage hotfix');
    expect(done.timeline.map((e) => e.message)).toContain(
      'freeze quarter-end (quarter-end close) overridden: emergency release, reason: payments outage hotfix',
    );
    expect(engine.audit.records.find((r) => r.action === 'freeze.overridden')).toMatchObject({
      actor: 'ci',
      reason: 'quarter-end (quarter-end close): payments outage hotfix',
    });
  }, 60_000);

  it('on production only, lets staging go and holds the release before its first production wave', async () => {
    const engine = await engines.start({
      environments: [
        { name: 'staging', waves: [['s']] },
        { name: 'production', waves: [['p']] },
      ],
    });
    await engine.calendar.put(freeze('release-train', 3_600_000));
    const { releaseId } = await engine.start('1.1.0');

    const waiting = await engine.waitFor(releaseId, (s) => s.stage === 'waiting-for-freeze', 'the freeze wait');
    expect(waiting.regions.map((r) => r.status)).toEqual(['succeeded', 'pending']);
    expect([engine.runs('s'), engine.runs('p')]).toEqual(['1.1.0', '1.0.0']);

    await engine.calendar.delete('release-train');
    await engine.calendarChanged(releaseId);
    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.runs('p')).toBe('1.1.0');
  }, 60_000);

  // Before patched('freeze-recheck-kept'), the release cleared its "calendar changed" flag only after writing the
  // freeze-wait audit record, so a change told during that write was lost and it waited for the old end of the window.
  it('a calendar change told while the release is still recording its freeze wait is not lost', async () => {
    const engine = await engines.start();
    await engine.calendar.put(freeze('quarter-end', 3_600_000));
    const slowAudit = engine.audit.holdWhen('freeze.waiting');
    const { releaseId } = await engine.start('1.1.0');
    await engine.waitFor(
      releaseId,
      (s) => s.stage === 'waiting-for-freeze' && slowAudit.waiting > 0,
      'the freeze wait',
    );

    await engine.calendar.delete('quarter-end');
    // What recheckFreezes (the calendar API) sends to each release it finds waiting.
    await engine.client.workflow.getHandle(releaseWorkflowId(engine.service, releaseId)).signal(recheckFreezeSignal);
    slowAudit.open();

    await engine.waitFor(releaseId, (s) => s.stage !== 'waiting-for-freeze', 'the release to notice', 8000);
    expect((await engine.waitForOutcome(releaseId)).outcome?.result).toBe('succeeded');
  }, 60_000);
});
