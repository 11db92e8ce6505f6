// Post-incident records (issue 16) over the real parts: a release that rolls back and an emergency rollback each open
// one, with the timeline from the audit trail, what led there and an owner; an action item added with relctl is
// tracked until it is closed with a resolution, and the record closes only then; DORA's figures still add up and link
// their failures and restores to the records; a change started directly on Temporal records nothing; the console
// lists the records and takes an action item.
import { WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { incidentNoteWorkflowId } from '../../domain/workflow-ids';
import { checkPage, useBrowser } from '../support/browser';
import { useEngines, waitUntil } from '../support/engine';
import { runRelctl } from '../support/relctl';

const relctl = runRelctl;

describe('post-incident records', () => {
  const engines = useEngines();
  const browser = useBrowser();

  it('a rolled-back release and an emergency rollback open records; an action item is tracked to its close; DORA links them', async () => {
    const engine = await engines.start({ record: 'incident-records', waves: [['a']] });
    const { service } = engine;
    const [a] = engine.regions as [string];
    const viewer = engine.trpc('viewer');

    // 1. A release that succeeds, then an SRE's emergency rollback of it: a record owned by the SRE.
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'shipped' });
    expect((await engine.waitForOutcome('shipped')).outcome?.result).toBe('succeeded');
    await engine.client.workflow.getHandle(`release/${service}/shipped`).result();
    await engine.trpc('sam').rollback.emergency.mutate({ service, reason: 'checkout errors', rollbackId: 'rb-1' });
    await engine.client.workflow.getHandle(`rollback/${service}/rb-1`).result();

    // 2. A release whose canary fails: it rolls back, and opens a record owned by its requester.
    await engine.trpc('ci').release.start.mutate({ service, version: '1.2.0', releaseId: 'bad' });
    expect((await engine.waitForOutcome('bad')).outcome?.result).toBe('rolled-back');
    await engine.client.workflow
      .getHandle(`release/${service}/bad`)
      .result()
      .catch(() => undefined);

    const listed = await viewer.incident.list.query({ service });
    expect(listed.map((i) => [i.id, i.kind, i.status, i.owner])).toEqual([
      ['bad', 'release-rolled-back', 'open', 'ci'],
      ['rb-1', 'emergency-rollback', 'open', 'sam'],
    ]);
    const bad = await viewer.incident.get.query({ service, id: 'bad' });
    expect(bad).toMatchObject({ releaseId: 'bad', version: '1.2.0', actionItems: [] });
    expect(bad.summary).toMatch(new RegExp(`^canary of 1\\.2\\.0 failed in ${a} at 50%`));
    expect(bad.verdicts).toEqual([expect.stringMatching(new RegExp(`^${a} at 50%: fail \\(error rate`))]);
    // The timeline is the release's audit trail, in order, ending with the record's opening.
    const story = bad.timeline.map((e) => e.action);
    expect(story.slice(0, 2)).toEqual(['release.requested', 'artifact.verified']);
    expect(story.slice(-2)).toEqual(['release.rolled-back', 'incident.opened']);
    expect(story.indexOf('canary.analysed')).toBeLessThan(story.indexOf('region.reverted'));
    expect(bad.timeline.find((e) => e.action === 'region.reverted')).toMatchObject({ actor: 'engine', region: a });

    const rollback = await viewer.incident.get.query({ service, id: 'rb-1' });
    expect(rollback).toMatchObject({
      rollbackId: 'rb-1',
      version: '1.1.0',
      summary: 'emergency rollback by sam: checkout errors; every region is on its last known-good version',
      decisions: ['emergency rollback requested by sam: checkout errors'],
    });
    expect(rollback.timeline.map((e) => [e.action, e.actor, e.region ?? ''])).toEqual([
      ['rollback.requested', 'sam', ''],
      ['region.reverted', 'engine', a],
      ['rollback.succeeded', 'engine', ''],
      ['incident.opened', 'engine', ''],
    ]);

    // 3. An action item, added with relctl, is listed open; the record cannot close while it is.
    const added = await relctl(engine, 'sam', [
      'incident',
      'action',
      'add',
      service,
      'bad',
      'page on canary error rate',
      '--owner',
      'olga',
    ]);
    expect(added.stderr).toBe('');
    const actionId = /action item (\S+) added/.exec(added.stdout)?.[1] ?? '';
    expect(actionId).toMatch(/^a-[0-9a-f]{6}$/);
    // Sent again (a retry after a lost answer), the same item is recorded once.
    const again = await engine
      .trpc('sam')
      .incident.addAction.mutate({ service, id: 'bad', actionId, text: 'page on canary error rate', owner: 'olga' });
    expect(again.incident.actionItems.map((i) => i.id)).toEqual([actionId]);
    expect(again.incident.timeline.filter((e) => e.action === 'incident.action-added')).toHaveLength(1);
    const open = await relctl(engine, 'viewer', ['incident', 'list', '--service', service, '--open']);
    expect(open.stdout).toMatch(
      new RegExp(`open +${service} bad +release-rolled-back +owner ci, 1 of 1 action items open`),
    );
    const early = await engine.rawCall(
      'incident.close',
      { service, id: 'bad', summary: 'all done' },
      engine.tokens.sam,
    );
    expect([early.status, early.body.error?.message]).toEqual([
      409,
      `incident bad of ${service} has 1 open action item: ${actionId} "page on canary error rate" (olga); close it with a resolution first`,
    ]);
    const unknown = await engine.rawCall(
      'incident.closeAction',
      { service, id: 'bad', actionId: 'a-000000', resolution: 'done' },
      engine.tokens.olga,
    );
    expect([unknown.status, unknown.body.error?.message]).toEqual([
      404,
      `actionId: incident bad of ${service} has no action item a-000000 (its items: ${actionId})`,
    ]);
    const ghost = await engine.rawCall('incident.get', { service, id: 'nope' }, engine.tokens.viewer, 'GET');
    expect(ghost.status).toBe(404);
    expect(ghost.body.error?.message).toMatch(/^id: there is no incident nope of /);

    // 4. Its owner closes it with a resolution; then the record closes, and leaves the open list.
    const afterItem = await engine.trpc('olga').incident.closeAction.mutate({
      service,
      id: 'bad',
      actionId,
      resolution: 'alert rule added to the canary dashboard',
    });
    expect(afterItem.actionItems).toEqual([
      expect.objectContaining({
        id: actionId,
        status: 'closed',
        owner: 'olga',
        addedBy: 'sam',
        closedBy: 'olga',
        resolution: 'alert rule added to the canary dashboard',
      }),
    ]);
    const closed = await engine
      .trpc('sam')
      .incident.close.mutate({ service, id: 'bad', summary: 'the canary caught it; alerting improved' });
    expect(closed).toMatchObject({ status: 'closed', closedBy: 'sam' });
    expect(closed.timeline.map((e) => e.action).slice(-3)).toEqual([
      'incident.action-added',
      'incident.action-closed',
      'incident.closed',
    ]);
    expect((await viewer.incident.list.query({ service, status: 'open' })).map((i) => i.id)).toEqual(['rb-1']);
    const shown = await relctl(engine, 'viewer', ['incident', 'show', service, 'bad']);
    expect(shown.stdout).toContain(`incident bad of ${service}@1.2.0: closed (release-rolled-back), owner ci`);
    expect(shown.stdout).toContain('closed by olga: alert rule added to the canary dashboard');

    // 5. DORA: the figures add up as before, and each failure and restore names its record.
    let dora = await viewer.metrics.dora.query({ service, days: 1 });
    await waitUntil(async () => {
      dora = await viewer.metrics.dora.query({ service, days: 1 });
      return dora.releases.finished === 2 && dora.timeToRestoreSeconds.samples === 2;
    }, 15_000);
    expect(dora.releases).toMatchObject({ finished: 2, succeeded: 1, rolledBack: 1 });
    expect(dora.changeFailureRate).toEqual({ rate: 1, failures: 2, finished: 2 });
    expect(dora.changeFailures.map((f) => [f.releaseId, f.incident]).sort()).toEqual([
      ['bad', 'bad'],
      ['shipped', 'rb-1'],
    ]);
    expect(dora.restores.map((r) => [r.kind, r.incident]).sort()).toEqual([
      ['emergency-rollback', 'rb-1'],
      ['release', 'bad'],
    ]);
    expect(dora.changeFailures).toHaveLength(dora.changeFailureRate.failures);
    expect(dora.restores).toHaveLength(dora.timeToRestoreSeconds.samples);
    const doraText = (await relctl(engine, 'viewer', ['metrics', 'dora', service, '--days', '1'])).stdout;
    expect(doraText).toContain('change failure rate: 100.0% (2 of 2 releases)');
    expect(doraText).toMatch(
      new RegExp(`post-incident records: (bad, rb-1|rb-1, bad) \\(relctl incident show ${service} <id>\\)`),
    );

    // 6. A change started directly on Temporal, without the API's signature, records nothing.
    const workflowId = incidentNoteWorkflowId(service, 'rb-1', 'closed-1');
    const forged = await engine.client.workflow
      .execute('incidentNoteWorkflow', {
        workflowId,
        taskQueue: engine.releaseTaskQueue,
        args: [{ service, incidentId: 'rb-1', by: 'mallory', note: { kind: 'closed', summary: 'nothing to see' } }],
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(forged).toBeInstanceOf(WorkflowFailedError);
    expect((forged as WorkflowFailedError).cause?.message).toMatch(
      /^refused to record the change to the incident: .*not signed.*; nothing was recorded$/,
    );
    const trail = await engine.auditTrail.list({ service, releaseId: 'rb-1' });
    expect(trail.filter((r) => r.actor === 'mallory' || r.id.startsWith(workflowId))).toEqual([]);
    // The store's own filter finds every incident record of both, in order.
    const notes = await engine.auditTrail.list({ service, actions: ['incident.opened', 'incident.closed'] });
    expect(notes.map((r) => [r.action, r.releaseId])).toEqual([
      ['incident.opened', 'rb-1'],
      ['incident.opened', 'bad'],
      ['incident.closed', 'bad'],
    ]);

    // 7. The console lists the records, open first, and takes an action item on one.
    const page = await (await (await browser()).newContext()).newPage();
    await page.goto(engine.apiUrl);
    await page.getByLabel('API token').fill(engine.tokens.sam ?? '');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Incidents' }).click();
    await page.locator('tr[data-incident="bad"]').waitFor();
    // Open first: the rollback's record, then the release's, which was closed above.
    const rows = await page.locator('tr[data-incident]').all();
    expect(await Promise.all(rows.map((row) => row.getAttribute('data-incident')))).toEqual(['rb-1', 'bad']);
    await checkPage(page, 'incidents');
    await page.getByRole('link', { name: `${service} / rb-1` }).click();
    await page.getByText('emergency rollback requested by sam: checkout errors').waitFor();
    await page.getByLabel('new action item').fill('rehearse the rollback runbook');
    await page.getByRole('button', { name: 'Add action item' }).click();
    await page.locator('tr[data-action]').filter({ hasText: 'rehearse the rollback runbook' }).waitFor();
    expect(await page.getByTestId('status').textContent()).toBe('open');
    await checkPage(page, 'incident');
  }, 150_000);
});
