// A service's coordinator that continues-as-new while releases are in its line (busy): the new run follows the
// releases it carried (their end reports, checked with Temporal, and its own looks) and the line carries on.
import { describe, expect, it } from 'vitest';
import { releaseWorkflowId, serviceWorkflowId } from '../../domain/names';
import { useWorkflowEngines, type WorkflowEngine } from '../support/workflow-engine';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a busy coordinator continues-as-new with its line', () => {
  const engines = useWorkflowEngines();

  /** How many runs the service's coordinator has had (each continue-as-new starts one). */
  async function coordinatorRuns(engine: WorkflowEngine): Promise<number> {
    let runs = 0;
    const query = `WorkflowId = "${serviceWorkflowId(engine.service)}"`;
    for await (const _ of engine.client.workflow.list({ query })) runs++;
    return runs;
  }

  /** A release at its approval gate and one queued behind it, in a coordinator that has continued-as-new since. */
  async function carriedLine(engine: WorkflowEngine) {
    // A history limit this low makes the coordinator continue-as-new after every request or two.
    const first = await engine.start('1.1.0', { changeClass: 'normal', historyLimit: 15 });
    await engine.waitForGate(first.releaseId, 'production-approval');
    const second = await engine.start('1.2.0', { queue: true });
    await engine.waitFor(second.releaseId, (s) => s.stage === 'queued', 'the queued stage');
    const deadline = Date.now() + 20_000;
    while ((await coordinatorRuns(engine)) < 2) {
      if (Date.now() > deadline) throw new Error('the coordinator did not continue-as-new');
      await sleep(200);
    }
    // The new run knows the line it was handed.
    expect(await engine.serviceState()).toMatchObject({
      active: { id: first.releaseId },
      queued: [{ kind: 'release', id: second.releaseId }],
    });
    return { first, second };
  }

  it('the release in progress ends, the carried queued one is admitted and runs', async () => {
    const engine = await engines.start();
    const { first, second } = await carriedLine(engine);
    await engine.approve(first.releaseId, 'production-approval', 'alice');
    expect((await engine.waitForOutcome(first.releaseId)).outcome?.result).toBe('succeeded');
    const done = await engine.waitForOutcome(second.releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.timeline.map((e) => e.message)).toContain('admitted: the release ahead of this one finished');
    expect(engine.runs('a')).toBe('1.2.0');
    // Nothing of the second release was deployed before the first had finished.
    const firstPromoted = engine.journal.indexOf(`promote ${engine.region('a')} 1.1.0`);
    expect(engine.journal.indexOf(`deploy ${engine.region('a')} 1.2.0`)).toBeGreaterThan(firstPromoted);
    // The coordinator learns of the end from the release's report (and checks it with Temporal): the line empties.
    const deadline = Date.now() + 20_000;
    while ((await engine.serviceState()).active) {
      if (Date.now() > deadline)
        throw new Error(`the line did not empty: ${JSON.stringify(await engine.serviceState())}`);
      await sleep(200);
    }
  }, 90_000);

  it('a carried release terminated on Temporal (it reports nothing) frees the line at the next look', async () => {
    const engine = await engines.start();
    const { first, second } = await carriedLine(engine);
    await engine.client.workflow
      .getHandle(releaseWorkflowId(engine.service, first.releaseId))
      .terminate('an operator terminated it in the Temporal UI');
    // The coordinator looks 10s after it was handed the line, then less and less often.
    const done = await engine.waitForOutcome(second.releaseId, 60_000);
    expect(done.outcome?.result).toBe('succeeded');
    expect(engine.runs('a')).toBe('1.2.0');
  }, 90_000);

  it('an emergency rollback aborts the carried releases (in progress and queued), then runs', async () => {
    const engine = await engines.start();
    const { first, second } = await carriedLine(engine);
    const { rollbackId, aborted } = await engine.rollback('sam', 'checkout errors');
    expect(aborted).toEqual([first.releaseId, second.releaseId]);
    const release = await engine.waitForOutcome(first.releaseId);
    expect(release.outcome).toMatchObject({
      result: 'rolled-back',
      reason: `aborted by sam: emergency rollback ${rollbackId}: checkout errors`,
    });
    const rollback = await engine.waitForRollback(rollbackId, 60_000);
    expect(rollback.stage).toBe('succeeded');
    // The rollback touched the regions only once the aborted release had finished undoing itself.
    const firstRegionStep = rollback.timeline.find((e) => e.region !== undefined)?.at ?? '';
    expect(Date.parse(firstRegionStep)).toBeGreaterThanOrEqual(Date.parse(release.outcome?.finishedAt ?? ''));
    const queued = await engine.waitForOutcome(second.releaseId, 60_000);
    expect(queued.outcome?.result).toBe('aborted');
    expect(engine.journal.indexOf('1.2.0')).toBe(-1);
    expect(engine.runs('a')).toBe('1.0.0');
  }, 120_000);
});
