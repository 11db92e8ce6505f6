// The web console in a real browser, as approvers, operators, SREs and viewers use it: sign in with an API token, find
// what waits for you (it appears without a reload), decide in one click, watch a release move live; pause and resume;
// roll a service back; refusals in the API's words; a viewer sees nothing that changes anything; the session cookie
// is httpOnly and SameSite, a change without the CSRF token is refused, and signing out ends the session. Every page
// is checked with axe-core (no serious or critical violation) and photographed at 1280x800 (docs/screenshots).
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ReleaseService, ReleaseVersion } from '../../workflows/search-attributes';
import { checkPage, useBrowser } from '../support/browser';
import { type TestEngine, useEngines, waitUntil } from '../support/engine';

async function signIn(page: Page, engine: TestEngine, who: string) {
  await page.goto(engine.apiUrl);
  await page.getByLabel('API token').fill(engine.tokens[who] ?? '');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`${who} (`).waitFor();
}

/** The first event after `connected` on a stream (release.watch, else `procedure`), as a script would read it. */
async function firstStreamEvent(
  engine: TestEngine,
  releaseId: string,
  token: string | undefined,
  procedure = 'release.watch',
  onConnected?: () => void,
) {
  const input = encodeURIComponent(JSON.stringify({ service: engine.service, releaseId }));
  const abort = new AbortController();
  const query = procedure === 'release.watch' ? `?input=${input}` : '';
  const res = await fetch(`${engine.apiUrl}/trpc/${procedure}${query}`, {
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: abort.signal,
  });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      if (text.includes('event: connected')) onConnected?.();
      const events = text.split('\n\n').filter((e) => e.trim() && !e.includes('event: connected'));
      const [first] = events;
      if (first && text.endsWith('\n\n')) {
        const event = /^event: (.*)$/m.exec(first)?.[1] ?? 'message';
        const data = JSON.parse(/^data: (.*)$/m.exec(first)?.[1] ?? 'null') as unknown;
        return { status: res.status, event, data };
      }
    }
  } finally {
    abort.abort();
  }
  throw new Error(`the stream ended without an event: ${text}`);
}

describe('web console', () => {
  const engines = useEngines();
  const browser = useBrowser();

  it('an approver sees the gate arrive in the inbox, approves it, watches the release finish; an SRE rolls it back', async () => {
    const engine = await engines.start({ record: 'console-approve', waves: [['a']] });
    const { service } = engine;

    const context = await (await browser()).newContext();
    const page = await context.newPage();
    // A wrong token is refused in words, and nothing is signed in.
    await page.goto(engine.apiUrl);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe('token: this token belongs to no one; check it, or ask an admin for one');
    await checkPage(page, 'sign-in');

    await signIn(page, engine, 'alice');
    await page.getByText('Nothing waits for a decision from approver right now.').waitFor();
    await page.locator('.live').filter({ hasText: 'live' }).waitFor();
    // The release starts while the inbox is open: its gate appears without a reload.
    await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.1.0', releaseId: 'web-1', changeClass: 'normal' });
    const card = page.locator('article.gate[data-release="web-1"]');
    await card.waitFor({ timeout: 60_000 });
    await checkPage(page, 'inbox');
    expect(await card.textContent()).toContain(`${service}@1.1.0 · production-approval`);
    expect(await card.textContent()).toContain('requested by ci');
    expect(await card.textContent()).toContain('0 of 1 approval');
    // The session is a cookie the page's script cannot read, sent to this site only.
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'relengine_session', httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate('document.cookie')).toBe('');

    await card.getByPlaceholder('Comment (required to reject)').fill('dashboards look fine');
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.getByText('Approved.').waitFor();
    const decided = await engine.trpc('viewer').release.get.query({ service, releaseId: 'web-1' });
    expect(decided.gates[0]?.decisions).toMatchObject([
      { by: 'alice', decision: 'approve', comment: 'dashboards look fine' },
    ]);

    // The release page follows the release to its end without a reload.
    await card.getByRole('link', { name: `${service}@1.1.0` }).click();
    await page.getByTestId('stage').filter({ hasText: 'succeeded' }).waitFor({ timeout: 90_000 });
    expect(await page.locator(`.region[data-region="${engine.regions[0]}"]`).textContent()).toContain(
      '100% on the new version',
    );
    expect(await page.locator('.timeline').textContent()).toContain(
      'alice approved gate production-approval: dashboards look fine',
    );
    await checkPage(page, 'release');
    // In the Temporal UI, filtering by the service finds the region's rollout next to the release.
    const region = await engine.client.workflow
      .getHandle(`region-rollout/${service}/web-1/${engine.regions[0]}`)
      .describe();
    expect(region.typedSearchAttributes.get(ReleaseService)).toBe(service);
    expect(region.typedSearchAttributes.get(ReleaseVersion)).toBe('1.1.0');

    await page.getByRole('link', { name: 'Releases' }).click();
    await page.locator('tr[data-release="web-1"]').waitFor();
    await page.getByLabel('outcome').selectOption('rolled-back');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No release matches.').waitFor();
    expect(page.url()).toContain('#/releases?outcome=rolled-back');
    await page.getByLabel('outcome').selectOption('succeeded');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('tr[data-release="web-1"]').waitFor();
    await checkPage(page, 'releases');

    // The audit trail tells the story, and its hash chain verifies.
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('release id').fill('web-1');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('table.audit').textContent()).toContain('gate.approved');
    expect(await page.locator('table.audit').textContent()).toContain('alice');
    await page.getByLabel('who').fill('alice');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect
      .poll(async () => [...new Set(await page.locator('table.audit tbody td:nth-child(3)').allTextContents())])
      .toEqual(['alice']);
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await expect.poll(() => page.locator('.result.ok').textContent()).toMatch(/^The trail verifies: \d+ records/);
    await checkPage(page, 'audit');

    // DORA, week by week: this week's bar counts the release.
    await page.getByRole('link', { name: 'Metrics' }).click();
    await page.getByLabel('service').selectOption(service);
    const bars = page.locator('[data-metric="Successful releases per week"] .bar-label');
    await expect.poll(() => bars.last().textContent()).toBe('1');
    expect(await page.locator('ul.summary').textContent()).not.toBe('');
    await checkPage(page, 'metrics');
    await context.close();

    // An SRE rolls the service back from its page: reason required, confirmed, on record.
    const sre = await (await browser()).newContext();
    const srePage = await sre.newPage();
    const confirmations: string[] = [];
    srePage.on('dialog', (dialog) => {
      confirmations.push(dialog.message());
      void dialog.accept();
    });
    await signIn(srePage, engine, 'sam');
    await srePage.goto(`${engine.apiUrl}/#/service/${service}`);
    await srePage.locator(`tr[data-region="${engine.regions[0]}"]`).filter({ hasText: '1.1.0' }).waitFor();
    await checkPage(srePage, 'service');
    await srePage.getByLabel('rollback reason').fill('errors after 1.1.0');
    await srePage.getByRole('button', { name: 'Roll back' }).click();
    const started = srePage.locator('.danger .result.ok');
    await started.waitFor();
    expect(confirmations).toEqual([
      `Roll every region of ${service} back to its last known-good version? Anything in flight is aborted first.`,
    ]);
    const rollbackId = /Emergency rollback (\S+) started/.exec((await started.textContent()) ?? '')?.[1] ?? '';
    await waitUntil(async () => {
      const status = await engine.trpc('viewer').rollback.get.query({ service, rollbackId });
      return status.stage === 'succeeded';
    }, 60_000);
    await srePage.reload();
    await srePage
      .locator(`tr[data-region="${engine.regions[0]}"]`)
      .filter({ hasText: '1.0.0 (rolled back from 1.1.0)' })
      .waitFor();
    await sre.close();
  });

  it("refusals are shown in the API's words; a change without the CSRF token is refused; sign-out ends the session", async () => {
    const engine = await engines.start({ waves: [['a']] });
    const { service } = engine;
    // dana is a pipeline and an approver: she may not approve her own release.
    await engine
      .trpc('dana')
      .release.start.mutate({ service, version: '1.1.0', releaseId: 'web-2', changeClass: 'normal' });
    await engine.waitForStatus('web-2', (s) => s.stage === 'awaiting-approval');

    const context = await (await browser()).newContext();
    const page = await context.newPage();
    await signIn(page, engine, 'dana');
    const card = page.locator('article.gate[data-release="web-2"]');
    await card.waitFor();
    expect(await card.textContent()).toContain('You requested this release: someone else must decide.');
    await card.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => card.locator('.result.error').textContent()).toMatch(/dana .*(requested|own)/);
    // Rejecting needs a reason, and the API says so.
    await card.getByRole('button', { name: 'Reject' }).click();
    await expect.poll(() => card.locator('.result.error').textContent()).toMatch(/comment/);

    // A page on another site cannot use the cookie (SameSite); even this page cannot change anything without the
    // session's CSRF token.
    const forged = await page.evaluate(
      async (input) => {
        const res = await fetch('/trpc/release.pause', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(input),
        });
        return { status: res.status, body: (await res.json()) as { error?: { message?: string } } };
      },
      { service, releaseId: 'web-2' },
    );
    expect(forged.status).toBe(403);
    expect(forged.body.error?.message).toMatch(/without its CSRF token/);
    // A made-up token is no better than none.
    const madeUp = await page.evaluate(
      async (input) =>
        (
          await fetch('/trpc/release.pause', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': 'f'.repeat(43) },
            body: JSON.stringify(input),
          })
        ).status,
      { service, releaseId: 'web-2' },
    );
    expect(madeUp).toBe(403);
    expect((await engine.trpc('viewer').release.get.query({ service, releaseId: 'web-2' })).paused).toBe(false);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    const after = await page.evaluate(async () => (await fetch('/session')).status);
    expect(after).toBe(401);

    // An operator pauses the release from its page, and resumes it; each asks first.
    const asked: string[] = [];
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.accept(dialog.type() === 'prompt' ? 'checking the dashboards' : undefined);
    });
    await signIn(page, engine, 'olga');
    await page.goto(`${engine.apiUrl}/#/release/${service}/web-2`);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page
      .getByTestId('stage')
      .filter({ hasText: /^paused$/ })
      .waitFor();
    expect(await page.locator('.timeline').textContent()).toContain('paused by olga: checking the dashboards');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page
      .getByTestId('stage')
      .filter({ hasText: /^awaiting-approval$/ })
      .waitFor();
    expect(asked).toEqual([
      `Pause ${service}@1.1.0? Bakes in progress keep counting. Reason (optional):`,
      `Resume ${service}@1.1.0?`,
    ]);
    // An operator may not abort (an SRE's call), so there is no Abort button for her.
    expect(await page.getByRole('button', { name: 'Abort' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Sign out' }).click();

    // The viewer sees an empty inbox (nothing waits for a viewer), and no button that changes anything anywhere.
    await signIn(page, engine, 'viewer');
    await page.getByText('Nothing waits for a decision from viewer right now.').waitFor();
    const changes = /^(Approve|Reject|Pause|Resume|Abort|Roll back|Create|delete)$/;
    for (const [where, ready] of [
      [`#/release/${service}/web-2`, page.getByTestId('stage')],
      [`#/service/${service}`, page.locator(`tr[data-region="${engine.regions[0]}"]`)],
      ['#/calendar', page.getByRole('heading', { name: 'Freeze windows' })],
    ] as const) {
      await page.goto(`${engine.apiUrl}/${where}`);
      await ready.waitFor();
      expect(await page.getByRole('button', { name: changes }).count(), where).toBe(0);
    }
    await context.close();
  });

  it('the release stream (server-sent events) answers the read roles only, and says so', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const { service } = engine;
    await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.1.0', releaseId: 'web-3', changeClass: 'normal' });
    await engine.waitForStatus('web-3', (s) => s.stage === 'awaiting-approval');

    const viewer = await firstStreamEvent(engine, 'web-3', engine.tokens.viewer);
    expect(viewer.event).toBe('message');
    expect(viewer.data).toMatchObject({ releaseId: 'web-3', stage: 'awaiting-approval' });
    const alerter = await firstStreamEvent(engine, 'web-3', engine.tokens.alertmanager);
    expect(alerter.event).toBe('serialized-error');
    expect(JSON.stringify(alerter.data)).toMatch(/may not do this: it needs the .* role/);
    const nobody = await firstStreamEvent(engine, 'web-3', undefined);
    expect(JSON.stringify(nobody.data)).toMatch(/send a bearer token/);
    // The console's change stream: a start announces itself; read roles only, too.
    let connected = () => {};
    const listening = new Promise<void>((resolve) => (connected = resolve));
    const started = firstStreamEvent(engine, '', engine.tokens.viewer, 'release.changes', connected);
    await listening;
    await engine.trpc('ci').release.start.mutate({ service, version: '1.3.0', releaseId: 'web-4', queue: true });
    const { changes } = (await started).data as { changes: { service: string; releaseId: string }[] };
    expect(changes).toContainEqual(expect.objectContaining({ service, releaseId: 'web-4' }));
    const changesAlerter = await firstStreamEvent(engine, '', engine.tokens.alertmanager, 'release.changes');
    expect(JSON.stringify(changesAlerter.data)).toMatch(/may not do this: it needs the .* role/);
    const ghost = await firstStreamEvent(engine, 'no-such-release', engine.tokens.viewer);
    expect(JSON.stringify(ghost.data)).toContain(`there is no release no-such-release of ${service}`);
  });

  it('an SRE sees what each region runs and may roll back; operators keep the freeze calendar, bad windows named', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const { service } = engine;
    const context = await (await browser()).newContext();
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await signIn(page, engine, 'sam');

    await page.getByRole('link', { name: 'Services' }).click();
    await page.getByRole('link', { name: service }).waitFor();
    await checkPage(page, 'services');
    await page.getByRole('link', { name: service }).click();
    for (const region of engine.regions) await page.locator(`tr[data-region="${region}"]`).waitFor();
    expect(await page.getByText('Nothing in progress.').count()).toBe(1);
    await page.getByRole('heading', { name: 'Emergency rollback' }).waitFor();
    // The reason is required, and the API says so.
    await page.getByRole('button', { name: 'Roll back' }).click();
    await expect.poll(() => page.locator('.danger .result.error').textContent()).toMatch(/reason/);

    await page.getByRole('link', { name: 'Calendar' }).click();
    await page.getByText('No freeze window: releases may start any time.').waitFor();
    const local = (ms: number) => {
      const d = new Date(Date.now() + ms);
      d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
      return d.toISOString().slice(0, 16);
    };
    await page.getByLabel('window id').fill('web-freeze');
    await page.getByLabel('reason', { exact: true }).fill('load test');
    await page.getByLabel('start', { exact: true }).fill(local(3600_000));
    await page.getByLabel('end', { exact: true }).fill(local(60_000));
    await page.getByRole('button', { name: 'Create' }).click();
    await expect
      .poll(() => page.locator('form .result.error').textContent())
      .toMatch(/must be after start[\s\S]*at end/);
    await page.getByLabel('end', { exact: true }).fill(local(7200_000));
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('li[data-window="web-freeze"]').waitFor();
    expect(await page.locator('li[data-window="web-freeze"]').textContent()).toContain('load test');
    await checkPage(page, 'calendar');
    expect((await engine.trpc('viewer').calendar.list.query()).map((w) => w.id)).toEqual(['web-freeze']);
    await page.locator('li[data-window="web-freeze"]').getByRole('button', { name: 'delete' }).click();
    await page.getByText('No freeze window: releases may start any time.').waitFor();
    expect(await engine.trpc('viewer').calendar.list.query()).toEqual([]);
    // A weekly window: every weekend, in the time zone given.
    await page.getByLabel('window id').fill('weekends');
    await page.getByLabel('reason', { exact: true }).fill('nobody on call');
    await page.getByLabel('repeats').selectOption('weekly');
    await page.getByLabel('time zone').fill('Europe/Berlin');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('li[data-window="weekends"]').waitFor();
    expect(await engine.trpc('viewer').calendar.list.query()).toMatchObject([
      { id: 'weekends', kind: 'weekly', timeZone: 'Europe/Berlin', start: { day: 'fri', time: '16:00' } },
    ]);
    await context.close();
  });
});
