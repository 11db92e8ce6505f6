// Encrypted payloads, end to end: with keys configured, what Temporal stores about a release (its plan, the
// pipeline's reason, an approver's comment, a rejection's comment inside a failure) is unreadable to anyone reading
// the event history without the key, and the codec endpoint the Temporal UI is pointed at shows it again.
import { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { useEngines } from '../support/engine';

type JsonPayload = { metadata?: Record<string, string>; data?: string };

/**
 * Every payload of a history in its JSON form (as the Temporal UI receives it), except what Temporal itself must read:
 * search attributes (indexed by the server: service, version, stage, ...) and patch markers (written by the SDK's
 * core, naming a code change by its patch id).
 */
function payloadsOf(node: unknown, found: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(node)) {
    for (const item of node) payloadsOf(item, found);
  } else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (record.markerName === 'core_patch') return found;
    const metadata = record.metadata as Record<string, unknown> | undefined;
    if (metadata && typeof metadata === 'object' && 'encoding' in metadata) {
      found.push(record);
      return found;
    }
    for (const [key, value] of Object.entries(record)) {
      if (key !== 'searchAttributes') payloadsOf(value, found);
    }
  }
  return found;
}

const text = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

describe('encrypted payloads', () => {
  const engines = useEngines();

  it('keeps plans, reasons and comments out of the event history, and the codec endpoint shows them', async () => {
    const engine = await engines.start({ encryption: true, waves: [['a']] });
    const { service } = engine;
    const secrets = {
      reason: 'needs-review-c0ffee',
      approval: 'ship-it-7f3a',
      rejection: 'nope-9b1e-migration-window',
    };

    // A normal change, approved with a comment; then another, rejected with one (the comment lands in a failure).
    await engine.trpc('ci').release.start.mutate({
      service,
      version: '1.1.0',
      releaseId: 'enc-ok',
      changeClass: 'normal',
      reason: secrets.reason,
    });
    await engine.waitForStatus('enc-ok', (s) => s.stage === 'awaiting-approval');
    await engine.trpc('alice').release.approve.mutate({
      service,
      releaseId: 'enc-ok',
      gate: 'production-approval',
      comment: secrets.approval,
    });
    expect((await engine.waitForOutcome('enc-ok')).outcome?.result).toBe('succeeded');

    await engine
      .trpc('ci')
      .release.start.mutate({ service, version: '1.2.0', releaseId: 'enc-no', changeClass: 'normal' });
    await engine.waitForStatus('enc-no', (s) => s.stage === 'awaiting-approval');
    await engine.trpc('bob').release.reject.mutate({
      service,
      releaseId: 'enc-no',
      gate: 'production-approval',
      comment: secrets.rejection,
    });
    const rejected = await engine.waitForOutcome('enc-no');
    // Through the API (whose client holds the key) everything still reads as before.
    expect(rejected.outcome?.reason).toBe(`gate production-approval was rejected by bob: ${secrets.rejection}`);

    // The raw event histories, fetched by a client without the codec (what Temporal stores, what the UI gets).
    const raw = new Client({ connection: engine.client.connection });
    const histories: { workflowId: string; bytes: Buffer; json: string }[] = [];
    for (const workflowId of [
      `service/${service}`,
      `release/${service}/enc-ok`,
      `release/${service}/enc-no`,
      `region-rollout/${service}/enc-ok/${engine.regions[0]}`,
    ]) {
      const history = await raw.workflow.getHandle(workflowId).fetchHistory();
      histories.push({
        workflowId,
        bytes: Buffer.from(temporal.api.history.v1.History.encode(history).finish()),
        json: historyToJSON(history),
      });
    }

    // The manifest (the release plan as the workflow receives it) and every comment: nowhere in clear text.
    const needles = [...Object.values(secrets), '"changeClass":"normal"', '"decisionTimeoutSeconds":'];
    for (const { workflowId, bytes, json } of histories) {
      for (const needle of needles) {
        expect(bytes.includes(needle), `${needle} in ${workflowId}`).toBe(false);
        expect(json.includes(needle), `${needle} in ${workflowId}`).toBe(false);
      }
    }
    const payloads = histories.flatMap(({ json }) => payloadsOf(JSON.parse(json)));
    expect(payloads.length).toBeGreaterThan(20);
    const encodings = new Set(
      payloads.map((p) => `${text(p.metadata?.encoding)} ${text(p.metadata?.['encryption-key-id'])}`),
    );
    expect([...encodings]).toEqual(['binary/encrypted test-1']);

    // The Temporal UI, pointed at the codec endpoint, sends those payloads to /codec/decode and shows the result.
    const ui = 'http://127.0.0.1:8233';
    const decode = (headers: Record<string, string>) =>
      fetch(`${engine.apiUrl}/codec/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': 'default', origin: ui, ...headers },
        body: JSON.stringify({ payloads }),
      });
    const decoded = await decode({ authorization: `Bearer ${engine.tokens.viewer}` });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(ui);
    const shown = ((await decoded.json()) as { payloads: JsonPayload[] }).payloads;
    expect(shown).toHaveLength(payloads.length);
    const readable = shown.map((p) => text(p.data)).join('\n');
    for (const needle of needles) expect(readable, needle).toContain(needle);
    expect(new Set(shown.map((p) => text(p.metadata?.encoding)))).not.toContain('binary/encrypted');

    // Without a token: 401, in plain words.
    const anonymous = await decode({});
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).toMatch(/authentication required/);

    // The UI's CORS preflight gets what a browser needs to send the real request.
    const preflight = await fetch(`${engine.apiUrl}/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: ui,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ui);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization.*Content-Type.*X-Namespace/);
  });
});
