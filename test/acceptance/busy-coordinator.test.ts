// A service's coordinator that continues-as-new while releases are in its line (busy), through the API: the line
// carries on (approved, terminated on Temporal, aborted by an emergency rollback). Recorded as history set v10.
import { describe, expect, it } from 'vitest';
import { serviceStateQuery } from '../../workflows/messages';
import { type TestEngine, useEngines, waitUntil } from '../support/engine';

describe('a busy coordinator continues-as-new, taking its line along', () => {
  const engines = useEngines();

  /**
   * Creates the service's coordinator with a history limit of 15 events (the default is 2,000), so that it continues-
   * as-new after every request or two; then a release waits at its gate and one is queued behind it, both carried.
   */
  async function carriedLine(engine: TestEngine) {
    const { service } = engine;
    await engine.client.workflow.start('serviceWorkflow', {
      workflowId: `service/${service}`,
      taskQueue: engine.releaseTaskQueue,
      args: [{ service, historyLimit: 15 }],
    });
    await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.1.0', releaseId: 'first', changeClass: 'normal' });
    await engine.waitForStatus('first', (s) => s.stage === 'awaiting-approval');
    const queued = await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.1.0', releaseId: 'second', queue: true, bakeSeconds: 1 });
    expect(queued).toMatchObject({ alreadyStarted: false, queuedBehind: ['first'] });
    const coordinator = engine.client.workflow.getHandle(`service/${service}`);
    await waitUntil(async () => (await coordinator.describe()).runId !== (await coordinatorFirstRun(engine)), 20_000);
    expect(await coordinator.query(serviceStateQuery)).toMatchObject({
      active: { id: 'first' },
      queued: [{ kind: 'release', id: 'second' }],
    });
  }

  async function coordinatorFirstRun(engine: TestEngine): Promise<string> {
    let first: { runId: string; startTime: Date } | undefined;
    for await (const run of engine.client.workflow.list({ query: `WorkflowId = "service/${engine.service}"` })) {
      if (!first || run.startTime < first.startTime) first = run;
    }
    return first?.runId ?? '';
  }

  it('the approved release finishes, the queued one is admitted after it and runs', async () => {
    const engine = await engines.start({ record: 'busy-continue-as-new', waves: [['a']] });
    const { service } = engine;
    await carriedLine(engine);

    await engine.trpc('alice').release.approve.mutate({ service, releaseId: 'first', gate: 'production-approval' });
    const first = await engine.waitForOutcome('first');
    const second = await engine.waitForOutcome('second');
    expect([first.outcome?.result, second.outcome?.result]).toEqual(['succeeded', 'succeeded']);
    expect(Date.parse(second.timeline.find((e) => e.message.startsWith('admitted'))?.at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(first.outcome?.finishedAt ?? ''),
    );
    // The line empties: the coordinator heard of the second release's end too.
    const coordinator = engine.client.workflow.getHandle(`service/${service}`);
    await waitUntil(async () => (await coordinator.query(serviceStateQuery)).active === undefined, 20_000);
  });

  it("a carried release terminated on Temporal (it reports nothing) frees the line at the coordinator's next look", async () => {
    const engine = await engines.start({ record: 'busy-continue-terminated', waves: [['a']] });
    await carriedLine(engine);
    // Once the current run holds both and has asked both to report their end (so the release goes unheard, instead
    // of a failed request giving it away):
    const coordinator = engine.client.workflow.getHandle(`service/${engine.service}`);
    await waitUntil(async () => {
      const { events } = await coordinator.fetchHistory();
      const asked = (events ?? []).filter((e) => e.externalWorkflowExecutionSignaledEventAttributes).length;
      return asked === 2 && (await coordinator.query(serviceStateQuery)).queued.length === 1;
    }, 20_000);
    await engine.client.workflow
      .getHandle(`release/${engine.service}/first`)
      .terminate('an operator terminated it in the Temporal UI');
    // The coordinator looks 10s after it was handed the line, then less and less often (up to every 30 minutes).
    const second = await engine.waitForOutcome('second', 60_000);
    expect(second.outcome?.result).toBe('succeeded');
  });

  it('an emergency rollback aborts the carried releases and runs once the one in progress has undone itself', async () => {
    const engine = await engines.start({ record: 'busy-continue-rollback', waves: [['a']] });
    const { service } = engine;
    await carriedLine(engine);

    const started = await engine
      .trpc('sam')
      .rollback.emergency.mutate({ service, reason: 'pager storm', rollbackId: 'rb-busy' });
    expect(started).toMatchObject({ aborted: ['first', 'second'] });
    const first = await engine.waitForOutcome('first');
    expect(first.outcome).toMatchObject({ result: 'rolled-back' });
    let rollback = await engine.trpc('viewer').rollback.get.query({ service, rollbackId: 'rb-busy' });
    await waitUntil(async () => {
      rollback = await engine.trpc('viewer').rollback.get.query({ service, rollbackId: 'rb-busy' });
      return rollback.stage === 'succeeded';
    }, 60_000);
    // It touched the region only after the aborted release had undone itself.
    const regionStep = rollback.timeline.find((e) => e.region !== undefined)?.at ?? '';
    expect(Date.parse(regionStep)).toBeGreaterThanOrEqual(Date.parse(first.outcome?.finishedAt ?? ''));
    expect((await engine.waitForOutcome('second')).outcome?.result).toBe('aborted');
    expect(await engine.fleetEvents('second')).toEqual([]);
    const coordinator = engine.client.workflow.getHandle(`service/${service}`);
    await waitUntil(async () => (await coordinator.query(serviceStateQuery)).active === undefined, 20_000);
  });
});
