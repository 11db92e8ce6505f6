// What a release leaves behind, with the real providers: schema migrations in the environment's PostgreSQL database
// (and undone when the release rolls back), a hash-chained audit trail telling the story in order, and notifications
// that never hold a release up.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEngines, type TestEngine } from '../support/engine';

/** A webhook that records what it is sent; `failing` makes it answer 500. */
function webhook() {
  const received: { text: string }[] = [];
  let failing = false;
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as { text: string });
      res.writeHead(failing ? 500 : 200).end(failing ? 'internal error' : 'ok');
    });
  });
  return {
    received,
    fail: () => (failing = true),
    start: () =>
      new Promise<string>((done) =>
        server.listen(0, '127.0.0.1', () => done(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`)),
      ),
    stop: () => new Promise<void>((done) => server.close(() => done())),
  };
}

async function columnsOf(engine: TestEngine, table: string): Promise<string[]> {
  const db = await engine.database('production');
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.column_name);
}

describe('what a release leaves behind', () => {
  const engines = useEngines();
  const hook = webhook();
  let hookUrl: string;
  beforeAll(async () => {
    hookUrl = await hook.start();
  });
  afterAll(() => hook.stop());

  it('a failing canary undoes its expand migration, and the audit trail tells the whole story in order', async () => {
    const engine = await engines.start({ record: 'migration-rollback', waves: [['a']], webhookUrl: hookUrl });
    const { service } = engine;
    const [region] = engine.regions as [string];

    // 1.1.0 creates the greetings table; 1.2.0 adds a locale column and fails 30% of its requests.
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'first' });
    expect((await engine.waitForOutcome('first')).outcome?.result).toBe('succeeded');
    expect(await columnsOf(engine, 'greetings')).toEqual(['id', 'text', 'created_at']);

    await engine.trpc('ci').release.start.mutate({ service, version: '1.2.0', releaseId: 'second' });
    const done = await engine.waitForOutcome('second');
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.migrations).toEqual([
      expect.objectContaining({
        environment: 'production',
        phase: 'expand',
        ids: ['0002_greeting_locale'],
        state: 'reverted',
      }),
    ]);
    expect(done.migrations?.[0]?.changes).toEqual(['add column greetings.locale (text)']);
    // The column is gone again; the table from the release before is untouched.
    expect(await columnsOf(engine, 'greetings')).toEqual(['id', 'text', 'created_at']);

    // The audit trail, in order, for the failed release.
    const trail = await engine.auditTrail.list({ releaseId: 'second' });
    const story = trail.map((r) => (r.region ? `${r.action} ${r.region === region ? 'a' : r.region}` : r.action));
    expect(story).toEqual([
      'release.requested',
      'artifact.verified',
      'artifact.promoted',
      'migration.applied',
      'region.canary-started a',
      'region.traffic-shifted a',
      'canary.analysed a',
      'region.reverted a',
      'release.rolling-back',
      'compensation.done',
      'migration.reverted',
      'compensation.done',
      'compensation.done',
      'release.rolled-back',
      // Last, the post-incident record it opens (incidents.test.ts follows one to its close).
      'incident.opened',
    ]);
    expect(trail[0]).toMatchObject({ actor: 'ci', afterVersion: '1.2.0', service });
    expect(trail.find((r) => r.action === 'canary.analysed')).toMatchObject({
      details: { verdict: 'fail', percent: 50 },
    });
    expect(trail.find((r) => r.action === 'region.reverted')).toMatchObject({
      beforeVersion: '1.2.0',
      afterVersion: '1.1.0',
    });
    expect(trail.find((r) => r.action === 'migration.reverted')?.details).toEqual({
      environment: 'production',
      phase: 'expand',
      ids: ['0002_greeting_locale'],
    });
    expect(trail.at(-1)?.reason).toMatch(/canary of 1\.2\.0 failed/);
    expect(await engine.auditTrail.verify()).toMatchObject({ ok: true });

    // People were told: started, canary failed, rolled back (the last one as the workflow closes, just after its
    // status shows the outcome).
    await engine.client.workflow
      .getHandle(`release/${service}/second`)
      .result()
      .catch(() => undefined);
    const told = hook.received.map((m) => m.text).filter((t) => t.includes('1.2.0'));
    expect(told).toEqual([
      expect.stringMatching(/started/i),
      expect.stringMatching(/canary .* failed/i),
      expect.stringMatching(/rolled back/i),
    ]);
    // Each message links to the release's page in the web console.
    const messages = hook.received.filter((m) => m.text.includes('1.2.0')).map((m) => JSON.stringify(m));
    for (const message of messages) {
      expect(message).toContain(`<${engine.apiUrl}/#/release/${service}/second|Open the release>`);
    }
  });

  it('a webhook that fails does not hold the release up', async () => {
    const engine = await engines.start({ waves: [['a']], webhookUrl: hookUrl });
    hook.fail();
    const before = hook.received.length;
    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.1.0', releaseId: 'quiet' });
    const done = await engine.waitForOutcome('quiet');
    expect(done.outcome?.result).toBe('succeeded');
    // The workflow closes once its last notification has been tried: each event three times (the notify profile).
    await engine.client.workflow.getHandle(`release/${engine.service}/quiet`).result();
    const tried = hook.received.slice(before).map((m) => (/started/i.test(m.text) ? 'started' : m.text));
    expect(tried.filter((t) => t === 'started')).toHaveLength(3);
    expect(tried.filter((t) => /succeeded/i.test(t))).toHaveLength(3);
    expect(tried).toHaveLength(6);
  });
});
