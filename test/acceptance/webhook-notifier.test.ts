// The webhook notifier against a local capture server: what each kind of event looks like in a Slack-compatible
// channel, and how a refusing or silent webhook is reported (once, never retried).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RELEASE_EVENT_KINDS, type ReleaseEvent, type ReleaseEventKind } from '../../providers/notify/notifier';
import { NotificationFailedError, type SlackMessage, WebhookNotifier } from '../../providers/notify/webhook-notifier';

interface Captured {
  method: string;
  path: string;
  contentType: string | undefined;
  body: SlackMessage;
}

type Reply = { status: number; body: string } | 'hang';

const base: Omit<ReleaseEvent, 'kind'> = {
  service: 'hello',
  version: '1.2.0',
  releaseId: 'release-hello-1.2.0-7f3a',
  requestedBy: 'alice',
  at: '2025-01-01T12:00:00.000Z',
  url: 'http://localhost:8233/namespaces/default/workflows/release-hello-1.2.0-7f3a',
};

/** What each kind adds to the base event, and what its headline must say. */
const CASES: Record<ReleaseEventKind, { extra: Partial<ReleaseEvent>; headline: string }> = {
  'release.started': { extra: {}, headline: '🚀 Release of hello@1.2.0 started, requested by alice' },
  'gate.waiting': {
    extra: { gate: 'approval', region: 'eu-west' },
    headline: '⏳ Release of hello@1.2.0 is waiting at the approval gate in eu-west',
  },
  'canary.failed': {
    extra: { region: 'eu-west', reason: 'error rate 30.0% (90 of 300) is above the 5.0% ceiling' },
    headline: '🚨 Canary of hello@1.2.0 failed in eu-west: error rate 30.0% (90 of 300) is above the 5.0% ceiling',
  },
  'release.rolled-back': {
    extra: { region: 'eu-west', reason: 'canary failed' },
    headline: '↩️ Release of hello@1.2.0 was rolled back in eu-west: canary failed',
  },
  'release.failed': {
    extra: { reason: 'artifact signature does not verify' },
    headline: '❌ Release of hello@1.2.0 failed: artifact signature does not verify',
  },
  'release.aborted': {
    extra: { reason: 'by sam, before it changed anything: wrong version' },
    headline: '⏹️ Release of hello@1.2.0 was aborted by sam, before it changed anything: wrong version',
  },
  'release.succeeded': { extra: {}, headline: '✅ Release of hello@1.2.0 succeeded' },
};

describe('WebhookNotifier', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  /** A webhook that records every post and answers with `reply` (by default Slack's 200 "ok"). */
  async function webhook(reply: () => Reply = () => ({ status: 200, body: 'ok' })) {
    const captured: Captured[] = [];
    const server = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (raw += chunk));
      req.on('end', () => {
        captured.push({
          method: req.method ?? '',
          path: req.url ?? '',
          contentType: req.headers['content-type'],
          body: JSON.parse(raw) as SlackMessage,
        });
        const answer = reply();
        if (answer === 'hang') return;
        res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/services/T000/B000/secret-token`, captured };
  }

  const contextTexts = (message: SlackMessage): string[] => {
    const context = message.blocks.find((block) => block.type === 'context');
    return context?.type === 'context' ? context.elements.map((element) => element.text) : [];
  };

  it('covers every kind of event', () => {
    expect(Object.keys(CASES).sort()).toEqual([...RELEASE_EVENT_KINDS].sort());
  });

  for (const kind of RELEASE_EVENT_KINDS) {
    it(`posts ${kind} as one readable line with the details in blocks`, async () => {
      const hook = await webhook();
      const { extra, headline } = CASES[kind];
      await new WebhookNotifier({ url: hook.url }).notify({ ...base, ...extra, kind });

      expect(hook.captured).toHaveLength(1);
      const [post] = hook.captured;
      expect(post).toMatchObject({ method: 'POST', path: '/services/T000/B000/secret-token' });
      expect(post!.contentType).toContain('application/json');
      const message = post!.body;
      expect(message.text).toBe(headline);
      expect(message.channel).toBeUndefined();
      expect(message.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: headline } });

      const context = contextTexts(message);
      expect(context).toEqual(
        expect.arrayContaining([
          '*Service:* hello',
          '*Version:* 1.2.0',
          '*Release:* release-hello-1.2.0-7f3a',
          '*Requested by:* alice',
          `<${base.url}|Open the release>`,
        ]),
      );
      for (const field of ['region', 'gate', 'reason'] as const) {
        const label = { region: 'Region', gate: 'Gate', reason: 'Reason' }[field];
        const value = extra[field];
        if (value === undefined) expect(context.some((text) => text.startsWith(`*${label}:*`))).toBe(false);
        else expect(context).toContain(`*${label}:* ${value}`);
      }
    });
  }

  it('adds the configured channel, and escapes text so a reason cannot ping or link', async () => {
    const hook = await webhook();
    await new WebhookNotifier({ url: hook.url, channel: '#releases' }).notify({
      ...base,
      kind: 'release.failed',
      reason: 'deploy of <!channel> & friends\nfailed',
    });
    const message = hook.captured[0]!.body;
    expect(message.channel).toBe('#releases');
    expect(message.text).toBe('❌ Release of hello@1.2.0 failed: deploy of &lt;!channel&gt; &amp; friends failed');
    expect(contextTexts(message)).toContain('*Reason:* deploy of &lt;!channel&gt; &amp; friends failed');
  });

  it('reports a 500 with the status and the start of the body, without retrying or leaking the URL', async () => {
    const hook = await webhook(() => ({ status: 500, body: `internal_error ${'x'.repeat(500)}` }));
    const notifier = new WebhookNotifier({ url: hook.url });
    const error = await notifier.notify({ ...base, kind: 'release.started' }).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(NotificationFailedError);
    expect(error).toMatchObject({ status: 500 });
    expect((error as NotificationFailedError).body).toHaveLength(200);
    expect((error as Error).message).toContain('HTTP 500: internal_error xxx');
    expect((error as Error).message).toContain('release.started for hello@1.2.0');
    expect((error as Error).message).not.toContain('secret-token');
    expect((error as Error).message.length).toBeLessThan(400);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hook.captured).toHaveLength(1);
  });

  it("reports Slack's 4xx answers the same way", async () => {
    const hook = await webhook(() => ({ status: 404, body: 'no_service' }));
    const error = await new WebhookNotifier({ url: hook.url })
      .notify({ ...base, kind: 'release.succeeded' })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(NotificationFailedError);
    expect(error).toMatchObject({ status: 404, body: 'no_service' });
    expect((error as Error).message).toContain('HTTP 404: no_service');
  });

  it('gives up after the timeout, once', async () => {
    const hook = await webhook(() => 'hang');
    const started = Date.now();
    const error = await new WebhookNotifier({ url: hook.url, timeoutMs: 300 })
      .notify({ ...base, kind: 'gate.waiting', gate: 'approval' })
      .catch((err: unknown) => err);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(NotificationFailedError);
    expect((error as Error).message).toContain('did not answer within 300 ms');
    expect((error as NotificationFailedError).status).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hook.captured).toHaveLength(1);
  });

  it('reports an unreachable webhook', async () => {
    const hook = await webhook();
    const server = servers.pop()!;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const error = await new WebhookNotifier({ url: hook.url })
      .notify({ ...base, kind: 'release.started' })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(NotificationFailedError);
    expect((error as Error).message).toMatch(/unreachable.*ECONNREFUSED/);
  });
});
