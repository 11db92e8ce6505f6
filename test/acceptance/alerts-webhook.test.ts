// Alertmanager's webhook, POST /api/v1/alerts/alertmanager, over real HTTP as Alertmanager sends it: the API's
// bearer token and roles, the payload checked field by field, and a firing alert that rolls nothing back put on the
// audit trail once however often Alertmanager repeats it.
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRecordWorkflowId } from '../../domain/names';
import { startTestEngine, type TestEngine } from '../support/engine';

interface Answer {
  alerts?: {
    service?: string;
    alertname: string;
    outcome: string;
    releaseId?: string;
    suggestion?: string;
    alreadyRecorded?: boolean;
  }[];
  error?: { code: string; message: string; issues?: { field: string; message: string }[] };
}

/** An alert as Alertmanager puts it in a notification. */
function alert(fields: { service: string; status?: 'firing' | 'resolved'; fingerprint: string; startsAt: string }) {
  const status = fields.status ?? 'firing';
  return {
    status,
    labels: { alertname: 'HighErrorRate', service: fields.service, region: 'eu-1', severity: 'page' },
    annotations: { summary: 'hello answers 50% errors', runbook_url: 'https://runbooks.invalid/hello' },
    startsAt: fields.startsAt,
    endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : new Date().toISOString(),
    generatorURL: 'http://prometheus.invalid/graph?g0.expr=...',
    fingerprint: fields.fingerprint,
  };
}

function notification(alerts: ReturnType<typeof alert>[]) {
  return {
    version: '4',
    groupKey: '{}:{alertname="HighErrorRate"}',
    truncatedAlerts: 0,
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: 'release-engine',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: alerts[0]?.labels ?? {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.invalid',
    alerts,
  };
}

describe('POST /api/v1/alerts/alertmanager', () => {
  let engine: TestEngine;

  beforeAll(async () => {
    engine = await startTestEngine({ waves: [['a']], record: 'alerts-webhook' });
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
  });

  async function post(body: unknown, token: string | undefined): Promise<{ status: number; body: Answer }> {
    const res = await fetch(`${engine.apiUrl}/api/v1/alerts/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Answer };
  }

  async function alertRecords() {
    const records = await engine.trpc('viewer').audit.list.query({ service: engine.service });
    return records.filter((r) => r.action === 'alert.received');
  }

  it('needs a token (401) of a principal with the alerter or sre role (403 for a viewer)', async () => {
    const body = notification([
      alert({ service: engine.service, fingerprint: 'a1', startsAt: new Date().toISOString() }),
    ]);
    const none = await post(body, undefined);
    expect([none.status, none.body.error?.message]).toEqual([
      401,
      'send a bearer token: Authorization: Bearer <token>',
    ]);
    const bad = await post(body, 'not-a-real-token');
    expect([bad.status, bad.body.error?.message]).toEqual([401, 'the bearer token is not valid']);
    const viewer = await post(body, engine.tokens.viewer);
    expect(viewer.status).toBe(403);
    expect(viewer.body.error?.message).toBe('viewer may not do this: it needs the alerter or sre role');
    // Refused before anything was looked at: nothing recorded.
    expect(await alertRecords()).toEqual([]);
  });

  it('refuses a body that is not an Alertmanager notification with 400 naming each bad field', async () => {
    const good = notification([
      alert({ service: engine.service, fingerprint: 'b1', startsAt: new Date().toISOString() }),
    ]);
    const bad = {
      ...good,
      version: '3',
      alerts: [{ ...good.alerts[0], status: 'burning', startsAt: 'yesterday' }],
    };
    const answer = await post(bad, engine.tokens.alertmanager);
    expect(answer.status).toBe(400);
    expect(answer.body.error?.issues?.map((i) => i.field).sort()).toEqual([
      'alerts.0.startsAt',
      'alerts.0.status',
      'version',
    ]);
    expect(answer.body.error?.message).toMatch(/must be "4"/);
    const notJson = await fetch(`${engine.apiUrl}/api/v1/alerts/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${engine.tokens.alertmanager}` },
      body: '{"version": "4", "alerts": [',
    });
    expect(notJson.status).toBe(400);
  });

  it('records a firing alert for a service with no release in flight once, however often Alertmanager repeats it', async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const body = notification([
      alert({ service: engine.service, fingerprint: 'c0ffee01', startsAt }),
      alert({ service: 'no-such-service', fingerprint: 'c0ffee02', startsAt }),
    ]);
    const first = await post(body, engine.tokens.alertmanager);
    expect(first.status).toBe(200);
    const suggestion = `relctl rollback ${engine.service} --reason "alert HighErrorRate in eu-1 fired outside a release's watch window"`;
    expect(first.body.alerts).toEqual([
      {
        service: engine.service,
        alertname: 'HighErrorRate',
        outcome: 'recorded',
        suggestion,
        detail: `no release of ${engine.service} is in flight; the alert is on the audit trail`,
      },
      {
        service: 'no-such-service',
        alertname: 'HighErrorRate',
        outcome: 'unknown-service',
        detail: 'there is no service "no-such-service" in the catalog',
      },
    ]);

    const [record, ...more] = await alertRecords();
    expect(more).toEqual([]);
    expect(record).toMatchObject({
      actor: 'alertmanager',
      action: 'alert.received',
      service: engine.service,
      region: 'eu-1',
      reason: 'hello answers 50% errors',
      details: {
        alertname: 'HighErrorRate',
        region: 'eu-1',
        fingerprint: 'c0ffee01',
        startsAt,
        suggestion,
        why: `no release of ${engine.service} is in flight`,
      },
    });

    // Alertmanager resends a firing alert every repeat_interval (and after a failed delivery): same answer, one record.
    const again = await post(body, engine.tokens.alertmanager);
    expect(again.status).toBe(200);
    expect(again.body.alerts?.[0]).toMatchObject({ outcome: 'recorded', suggestion, alreadyRecorded: true });
    expect((await alertRecords()).length).toBe(1);

    // An SRE may post too (an SRE may roll back anyway); the same alert is still the same record.
    const bySre = await post(body, engine.tokens.sid);
    expect(bySre.body.alerts?.[0]).toMatchObject({ outcome: 'recorded', alreadyRecorded: true });
    expect((await alertRecords()).length).toBe(1);
  });

  it('does nothing for a resolved alert', async () => {
    const before = (await alertRecords()).length;
    const body = notification([
      alert({ service: engine.service, status: 'resolved', fingerprint: 'd1', startsAt: new Date().toISOString() }),
    ]);
    const answer = await post(body, engine.tokens.alertmanager);
    expect(answer.status).toBe(200);
    expect(answer.body.alerts).toEqual([{ service: engine.service, alertname: 'HighErrorRate', outcome: 'resolved' }]);
    expect((await alertRecords()).length).toBe(before);
  });

  it('records nothing for a record started directly on Temporal, and that failed run does not block the real one', async () => {
    const before = (await alertRecords()).length;
    const startsAt = new Date().toISOString();
    const workflowId = alertRecordWorkflowId(engine.service, 'f0f0f0', startsAt);
    const forged = engine.client.workflow.execute('alertRecordWorkflow', {
      workflowId,
      taskQueue: engine.releaseTaskQueue,
      args: [
        {
          service: engine.service,
          by: 'alertmanager',
          alertname: 'HighErrorRate',
          fingerprint: 'f0f0f0',
          startsAt,
          why: 'forged',
          suggestion: 'nothing',
        },
      ],
    });
    const failure = await forged.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause?.message).toMatch(/^refused to record the alert: .*not signed/);
    expect((await alertRecords()).length).toBe(before);

    const real = await post(
      notification([alert({ service: engine.service, fingerprint: 'f0f0f0', startsAt })]),
      engine.tokens.alertmanager,
    );
    expect(real.body.alerts?.[0]).toMatchObject({ outcome: 'recorded' });
    expect(real.body.alerts?.[0]?.alreadyRecorded).toBeUndefined();
    const records = await alertRecords();
    expect(records.length).toBe(before + 1);
    expect(records.at(-1)).toMatchObject({
      actor: 'alertmanager',
      details: { fingerprint: 'f0f0f0', why: `no release of ${engine.service} is in flight` },
    });
  });

  it('records an alert for a release that is not in its watch window (in its canary), and the release goes on', async () => {
    const releaseId = 'alert-canary-1';
    await engine
      .trpc('ci')
      .release.start.mutate({ service: engine.service, version: '1.1.0', releaseId, bakeSeconds: 60 });
    await engine.waitForStatus(releaseId, (s) => s.regions[0]?.trafficPercent === 50);
    const startsAt = new Date().toISOString();
    const answer = await post(
      notification([alert({ service: engine.service, fingerprint: 'e1', startsAt })]),
      engine.tokens.alertmanager,
    );
    expect(answer.status).toBe(200);
    expect(answer.body.alerts?.[0]).toMatchObject({ outcome: 'recorded', releaseId });
    expect(answer.body.alerts?.[0]?.suggestion).toMatch(new RegExp(`^relctl rollback ${engine.service} --reason "`));
    const record = (await alertRecords()).find((r) => r.details?.fingerprint === 'e1');
    expect(record).toMatchObject({ actor: 'alertmanager', releaseId, action: 'alert.received' });
    const status = await engine.trpc('viewer').release.get.query({ service: engine.service, releaseId });
    // Still canarying at 50%: the alert rolled nothing back.
    expect([status.stage, status.regions[0]?.trafficPercent, status.outcome]).toEqual(['deploying', 50, undefined]);
    await engine.trpc('sid').release.abort.mutate({ service: engine.service, releaseId, reason: 'test done' });
  }, 90_000);

  it('rolls back a release inside its watch window; its audit trail names the alert and who sent it', async () => {
    const releaseId = 'alert-watch-1';
    await engine
      .trpc('ci')
      .release.start.mutate({ service: engine.service, version: '1.3.0', releaseId, watchSeconds: 120, queue: true });
    await engine.waitForStatus(releaseId, (s) => s.stage === 'watching', 60_000);
    const answer = await post(
      notification([alert({ service: engine.service, fingerprint: 'w1', startsAt: new Date().toISOString() })]),
      engine.tokens.alertmanager,
    );
    expect(answer.status).toBe(200);
    expect(answer.body.alerts?.[0]).toMatchObject({ outcome: 'rolling-back', releaseId });

    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('rolled-back');
    expect(done.outcome?.reason).toMatch(/alert HighErrorRate in eu-1 fired while .* was watched/);
    const status = await engine.trpc('viewer').release.get.query({ service: engine.service, releaseId });
    expect(status.regions.map((r) => r.status)).toEqual(['reverted']);
    const record = (await alertRecords()).find((r) => r.details?.fingerprint === 'w1');
    expect(record).toMatchObject({ actor: 'alertmanager', releaseId, action: 'alert.received' });
    expect(record?.details).toMatchObject({ alertname: 'HighErrorRate', action: 'rolling-back' });
  }, 120_000);
});

describe('POST /api/v1/alerts/alertmanager with no worker', () => {
  let engine: TestEngine;

  beforeAll(async () => {
    engine = await startTestEngine({ waves: [['a']], worker: 'none' });
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
  });

  it('answers 503 in words within the write deadline (Alertmanager sends the notification again), not 500', async () => {
    const started = Date.now();
    const body = JSON.stringify(
      notification([alert({ service: engine.service, fingerprint: 'a0', startsAt: new Date().toISOString() })]),
    );
    const post = async () => {
      const res = await fetch(`${engine.apiUrl}/api/v1/alerts/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${engine.tokens.alertmanager}` },
        body,
      });
      return [res.status, ((await res.json()) as Answer).error?.message];
    };
    // A repeat sent while the first delivery still waits must not be told "recorded" either.
    const first = post();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const answers = await Promise.all([first, post()]);
    // No coordinator ever ran for the service (no release in flight), so the alert is to be recorded: the wait is the
    // record's, 15 s, as for any write.
    const notRecorded = `the orchestrator worker did not record the alert HighErrorRate for ${engine.service} within 15s: is it running (task queue ${engine.releaseTaskQueue}), and can it reach the audit database? Alertmanager sends the alert again`;
    expect(answers).toEqual([
      [503, notRecorded],
      [503, notRecorded],
    ]);
    expect(Date.now() - started).toBeLessThan(25_000);
  }, 40_000);
});
