// External checks (issue 16) over the real parts: the release asks another system to run a check (a webhook to a
// small HTTP server standing in for a contract-test runner or an ITSM), waits durably while it is pending, and goes
// on when the system reports "pass" through POST /api/v1/check/report with a checker's token; a timeout fails the
// release or asks a person, as the policy says; a change ticket is validated by polling and its outcome reported back.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckRequest } from '../../domain/checks';
import { type TestEngine, useEngines, waitUntil } from '../support/engine';

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/** The other system: records every call; `answer` decides what each path says. */
function checkSystem() {
  const received: Received[] = [];
  const answers = new Map<string, (r: Received) => { status: number; body?: unknown }>();
  let server: Server;
  let url = '';
  return {
    received,
    answers,
    url: (path: string) => `${url}${path}`,
    async start() {
      server = createServer((req, res) => {
        let text = '';
        req.on('data', (chunk: Buffer) => (text += chunk.toString()));
        req.on('end', () => {
          const path = (req.url ?? '').split('?')[0] ?? '';
          const call: Received = {
            method: req.method ?? '',
            path,
            headers: req.headers,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          };
          received.push(call);
          const answer = answers.get(`${call.method} ${path}`)?.(call) ?? { status: 202, body: { status: 'queued' } };
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(answer.body ?? {}));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** POST /api/v1/check/report, as the other system calls it. */
async function report(engine: TestEngine, body: Record<string, unknown>, token?: string) {
  const res = await fetch(`${engine.apiUrl}/api/v1/check/report`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { error?: { message: string } } & Record<string, unknown> };
}

describe('external checks', () => {
  const engines = useEngines();
  const system = checkSystem();
  beforeAll(() => system.start());
  afterAll(() => system.stop());

  it('a pending check holds the release before anything changes; the callback with "pass" lets it go on; without credentials, 401', async () => {
    const engine = await engines.start({
      record: 'check-callback',
      waves: [['a']],
      service: { checks: [{ name: 'contract', url: system.url('/contract/run'), timeoutSeconds: 600 }] },
    });
    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.3.0', releaseId: 'checked' });
    const waiting = await engine.waitForStatus('checked', (s) => s.stage === 'awaiting-check');
    expect(waiting.checks?.[0]).toMatchObject({ id: 'check-contract-production', status: 'requested' });
    // Nothing changed while it waits: no fleet change, the artifact not promoted.
    expect(await engine.fleetEvents('checked')).toEqual([]);
    expect((await engine.artifacts.promotion(engine.service, '1.3.0')).status).toBe('candidate');

    // The webhook: what to check, its idempotency key, and where to answer.
    await waitUntil(() => Promise.resolve(system.received.some((r) => r.path === '/contract/run')), 30_000);
    const asked = system.received.find((r) => r.path === '/contract/run');
    const request = asked?.body as unknown as CheckRequest & { callback: { url: string; check: string } };
    expect(asked?.headers['idempotency-key']).toBe('checked/check-contract-production');
    expect(request).toMatchObject({
      check: 'contract',
      service: engine.service,
      version: '1.3.0',
      releaseId: 'checked',
      environment: 'production',
      callback: { url: `${engine.apiUrl}/api/v1/check/report`, check: 'check-contract-production' },
    });
    expect(request.digest).toMatch(/^sha256:/);

    const answer = {
      service: engine.service,
      releaseId: 'checked',
      check: request.callback.check,
      status: 'pass',
      summary: '42 consumer contracts verified',
    };
    const anonymous = await report(engine, answer);
    expect(anonymous.status).toBe(401);
    const approver = await report(engine, answer, engine.tokens.alice);
    expect(approver.status).toBe(403);
    expect(approver.body.error?.message).toBe('alice may not do this: it needs the checker role');
    const passed = await report(engine, answer, engine.tokens['contract-ci']);
    expect(passed.status).toBe(200);
    expect(passed.body).toMatchObject({ check: 'check-contract-production', status: 'passed' });
    const again = await report(engine, { ...answer, status: 'fail' }, engine.tokens['contract-ci']);
    expect(again.status).toBe(409);
    expect(again.body.error?.message).toBe(
      'check check-contract-production of release checked is no longer waiting for a result: it was passed (reported by contract-ci)',
    );

    const done = await engine.waitForOutcome('checked');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.timeline.map((e) => e.message)).toContain(
      'check contract passed, reported by contract-ci: 42 consumer contracts verified',
    );
    const trail = await engine.auditTrail.list({ releaseId: 'checked' });
    expect(trail.find((r) => r.action === 'check.reported')).toMatchObject({
      actor: 'contract-ci',
      gate: 'check-contract-production',
      reason: '42 consumer contracts verified',
    });
  }, 120_000);

  it('a check that does not answer in time fails the release, as its policy says, having changed nothing', async () => {
    const engine = await engines.start({
      record: 'check-timeout',
      waves: [['a']],
      service: { checks: [{ name: 'silent', url: system.url('/silent/run'), timeoutSeconds: 3, onTimeout: 'fail' }] },
    });
    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.3.0', releaseId: 'silent' });
    const failed = await engine.waitForOutcome('silent');
    expect(failed.outcome?.result).toBe('failed');
    expect(failed.outcome?.reason).toBe(
      'external check silent did not answer within 3s (its policy fails the release then)',
    );
    expect(failed.checks?.[0]?.status).toBe('timed-out');
    expect(await engine.fleetEvents('silent')).toEqual([]);
    // A report after the deadline is refused, and changes nothing.
    const late = await report(
      engine,
      { service: engine.service, releaseId: 'silent', check: 'check-silent-production', status: 'pass' },
      engine.tokens['contract-ci'],
    );
    expect(late.status).toBe(409);
  }, 120_000);

  it('a ticket is validated by polling the ITSM, a timed-out check may be waived by an SRE with a reason, and the outcome goes back to the ticket', async () => {
    let polls = 0;
    let asked = 0;
    // The ITSM is busy at the first request (503): the worker asks again, with the same idempotency key.
    system.answers.set('POST /itsm/validate', () =>
      ++asked < 2
        ? { status: 503, body: { error: 'busy' } }
        : { status: 202, body: { status: 'pending', statusUrl: system.url('/itsm/status/CHG-1234') } },
    );
    // Not yet approved at the first poll; approved, with its window open, at the next.
    system.answers.set('GET /itsm/status/CHG-1234', () =>
      ++polls < 2
        ? { status: 200, body: { status: 'pending' } }
        : { status: 200, body: { status: 'approved', summary: 'CHG-1234 approved; window open until 18:00' } },
    );
    system.answers.set('POST /itsm/report', () => ({ status: 200, body: {} }));
    const engine = await engines.start({
      record: 'check-ticket',
      waves: [['a']],
      service: {
        changeTickets: {
          requiredFor: ['normal'],
          check: { url: system.url('/itsm/validate'), mode: 'poll', pollSeconds: 1, timeoutSeconds: 120 },
          reportTo: { url: system.url('/itsm/report') },
        },
        checks: [
          {
            name: 'security-review',
            url: system.url('/review/run'),
            timeoutSeconds: 2,
            onTimeout: 'ask',
            askRoles: ['sre'],
            askWaitSeconds: 120,
          },
        ],
      },
    });
    const ref = { service: engine.service, releaseId: 'ticketed' };
    await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.3.0', ticket: 'CHG-1234' });
    const asking = await engine.waitForStatus('ticketed', (s) => s.gates.some((g) => g.status === 'waiting'));
    expect(asking.checks?.map((c) => [c.name, c.status])).toEqual([
      ['change-ticket', 'passed'],
      ['security-review', 'timed-out'],
    ]);
    expect(asking.gates.find((g) => g.status === 'waiting')).toMatchObject({
      id: 'check-security-review-production',
      kind: 'check',
      roles: ['sre'],
    });
    const validations = system.received.filter((r) => r.path === '/itsm/validate');
    expect(validations).toHaveLength(2);
    expect(new Set(validations.map((v) => v.headers['idempotency-key']))).toEqual(
      new Set(['ticketed/check-change-ticket-production']),
    );
    expect(validations[1]?.body).toMatchObject({ check: 'change-ticket', ticket: 'CHG-1234', changeClass: 'standard' });
    expect(system.received.filter((r) => r.path === '/itsm/status/CHG-1234').length).toBeGreaterThanOrEqual(2);

    const gate = { ...ref, gate: 'check-security-review-production' };
    const noReason = await engine.rawCall('release.approve', gate, engine.tokens.sam);
    expect(noReason.status).toBe(400);
    await engine.trpc('sam').release.approve.mutate({ ...gate, comment: 'reviewed by hand (SEC-77)' });

    const done = await engine.waitForOutcome('ticketed');
    expect(done.outcome?.result).toBe('succeeded');
    const trail = await engine.auditTrail.list({ releaseId: 'ticketed' });
    expect(trail.find((r) => r.action === 'check.waived')).toMatchObject({
      actor: 'sam',
      reason: 'reviewed by hand (SEC-77)',
    });
    // Reported as the release ends (a courtesy, like a notification: it may land just after the outcome).
    await waitUntil(() => Promise.resolve(system.received.some((r) => r.path === '/itsm/report')), 30_000);
    const reported = system.received.find((r) => r.path === '/itsm/report');
    expect(reported?.body).toMatchObject({
      ticket: 'CHG-1234',
      releaseId: 'ticketed',
      version: '1.3.0',
      result: 'succeeded',
    });
    expect(reported?.headers['idempotency-key']).toBe('ticketed/ticket-report');
  }, 120_000);
});
