// Freeze windows of the release calendar: a release waits them out, fails in them, or overrides them as an emergency.
import { describe, expect, it } from 'vitest';
import type { OneOffWindow } from '../../domain/calendar';
import { recheckFreezes } from '../../workflows/lifecycle';
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
    // What the calendar API does after a change. Visibility may take a moment to list the release as waiting;
    // waiting releases of other tests only check their calendar again.
    let told = 0;
    for (let attempt = 0; attempt < 25 && told === 0; attempt++) {
      told = await recheckFreezes(engine.client);
      if (told === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(told).toBeGreaterThan(0);
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
});
