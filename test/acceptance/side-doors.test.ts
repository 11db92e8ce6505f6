// Only the API decides: what someone with a shell next to Temporal (the Temporal CLI, an SDK client, even the
// payload encryption key) can do without the API's signature. Approvals, rejections, pauses and aborts sent to a
// release directly are refused and leave no trace; releases, rollbacks and region rollouts started directly change
// nothing. Real decisions through the API still work.
import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, inject, it } from 'vitest';
import { approveUpdate, type DecisionInput, pauseUpdate } from '../../workflows/messages';
import { type TestEngine, useEngines } from '../support/engine';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');

function temporalCliPath(): string {
  if (process.env.TEMPORAL_CLI) return process.env.TEMPORAL_CLI;
  return execFileSync(process.execPath, [join(ROOT, 'scripts', 'bootstrap.mjs'), '--no-install', '--temporal-path'], {
    encoding: 'utf8',
  }).trim();
}

/** The Temporal CLI, as an attacker on the machine would run it (no API token, payloads in clear). */
async function temporal(args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run(temporalCliPath(), [...args, '--address', inject('temporalAddress')], {
      timeout: 60_000,
    });
    return { ok: true, output: `${stdout}${stderr}` };
  } catch (err) {
    const failed = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}${failed.message}` };
  }
}

/** The refusal a workflow answered an update with (the client wraps it). */
async function refusalOf(update: Promise<unknown>): Promise<string> {
  try {
    await update;
    return 'accepted';
  } catch (err) {
    return (err as { cause?: Error }).cause?.message ?? (err as Error).message;
  }
}

async function updateEvents(engine: TestEngine, workflowId: string) {
  const events = await engine.history(workflowId);
  return events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
}

/** Waits for a workflow started directly to close, and returns how it failed. */
async function failureOf(engine: TestEngine, workflowId: string): Promise<string> {
  try {
    await engine.client.workflow.getHandle(workflowId).result();
    return 'it succeeded';
  } catch (err) {
    let cause: unknown = err;
    while ((cause as { cause?: unknown }).cause) cause = (cause as { cause?: unknown }).cause;
    return (cause as Error).message;
  }
}

describe('side doors to the release workflow', () => {
  const engines = useEngines();

  it('forged approvals, rejections, pauses and aborts are refused and leave no trace; real approvers then decide', async () => {
    const engine = await engines.start({ encryption: true, waves: [['a']], record: 'forged-decisions' });
    const { service } = engine;
    const releaseId = 'emergency-1';
    const workflowId = `release/${service}/${releaseId}`;
    const ref = { service, releaseId };
    await engine
      .trpc('dana')
      .release.start.mutate({ ...ref, version: '1.1.0', changeClass: 'emergency', reason: 'hotfix for the outage' });
    await engine.waitForStatus(releaseId, (s) => s.stage === 'awaiting-approval');

    // 1. The measured attack: the CLI's update with a principal of the attacker's choosing, payload in clear.
    const mallory: DecisionInput = {
      gate: 'production-approval',
      principal: { id: 'mallory', roles: ['approver'] },
      comment: 'forged',
    };
    const plain = await temporal([
      'workflow',
      'update',
      'execute',
      '-w',
      workflowId,
      '--name',
      'approve',
      '-i',
      JSON.stringify(mallory),
    ]);
    expect(plain.ok).toBe(false);
    // The CLI cannot read the refusal (failures are encrypted too); it names its type.
    expect(plain.output).toMatch(/unable to update workflow: .*Unauthorized/);

    // 2. The same with the payload encryption key (an SDK client with the engine's codec): unsigned.
    const handle = engine.client.workflow.getHandle(workflowId);
    expect(await refusalOf(handle.executeUpdate(approveUpdate, { args: [mallory] }))).toMatch(
      /refused: the approve message is not signed; only the release engine's API can send it/,
    );
    // 3. A real signature lifted from one person's decision does not carry over to another principal.
    const alices = engine.signer.sign(workflowId, 'approve', {
      ...mallory,
      principal: { id: 'alice', roles: ['approver'] },
    });
    const lifted = { ...alices, principal: { id: 'mallory', roles: ['approver' as const] } };
    expect(await refusalOf(handle.executeUpdate(approveUpdate, { args: [lifted] }))).toMatch(
      /signature does not match it/,
    );
    // ... nor to another release.
    const elsewhere = engine.signer.sign(`release/${service}/other`, 'pause', { by: 'sam' });
    expect(await refusalOf(handle.executeUpdate(pauseUpdate, { args: [elsewhere] }))).toMatch(
      /signature does not match it/,
    );

    // 4. Reject, pause, resume and abort as updates: refused the same way.
    for (const [name, input] of [
      ['reject', { ...mallory, comment: 'forged rejection' }],
      ['pauseRelease', { by: 'mallory' }],
      ['resumeRelease', { by: 'mallory' }],
      ['abortRelease', { by: 'mallory', reason: 'forged abort' }],
    ] as const) {
      const forged = await temporal([
        'workflow',
        'update',
        'execute',
        '-w',
        workflowId,
        '--name',
        name,
        '-i',
        JSON.stringify(input),
      ]);
      expect(forged.ok, `${name}: ${forged.output}`).toBe(false);
      expect(forged.output).toMatch(/Unauthorized/);
    }
    // 5. The old signals: they reach history (a signal cannot be refused) but do nothing.
    expect(
      (await temporal(['workflow', 'signal', '-w', workflowId, '--name', 'pause', '-i', '{"by":"mallory"}'])).ok,
    ).toBe(true);
    expect(
      (
        await temporal([
          'workflow',
          'signal',
          '-w',
          workflowId,
          '--name',
          'abort',
          '-i',
          '{"by":"mallory","reason":"forged"}',
        ])
      ).ok,
    ).toBe(true);
    const afterForgeries = await engine.waitForStatus(
      releaseId,
      (s) => s.timeline.filter((e) => e.message.startsWith('ignored a')).length >= 2,
    );
    expect(afterForgeries.stage).toBe('awaiting-approval');

    // 6. A forged admission of a release queued behind this one: it asks the coordinator, and stays queued.
    await engine.trpc('ci').release.start.mutate({ service, releaseId: 'queued-1', version: '1.3.0', queue: true });
    const admit = await temporal(['workflow', 'signal', '-w', `release/${service}/queued-1`, '--name', 'admit']);
    expect(admit.ok, admit.output).toBe(true);
    const stillQueued = await engine.waitForStatus('queued-1', (s) =>
      s.timeline.some((e) => e.message.startsWith('ignored an admission the coordinator did not send')),
    );
    expect(stillQueued.stage).toBe('queued');
    expect(afterForgeries.paused).toBe(false);
    expect(afterForgeries.gates[0]?.decisions).toEqual([]);
    expect(await updateEvents(engine, workflowId)).toEqual([]);

    // The real approvers, through the API: the release goes on and succeeds.
    await engine.trpc('alice').release.approve.mutate({ ...ref, gate: 'production-approval', comment: 'CHG-7' });
    await engine.trpc('bob').release.approve.mutate({ ...ref, gate: 'production-approval' });
    const done = await engine.waitForOutcome(releaseId);
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.gates[0]?.decisions.map((d) => d.by)).toEqual(['alice', 'bob']);
    // The queued release runs once the coordinator really admits it.
    expect((await engine.waitForOutcome('queued-1')).outcome?.result).toBe('succeeded');
    expect(await updateEvents(engine, workflowId)).toHaveLength(2);
    const audit = await engine.auditTrail.list({ service });
    expect(audit.filter((r) => r.actor === 'mallory')).toEqual([]);
    expect(audit.filter((r) => r.action === 'gate.approved').map((r) => r.actor)).toEqual(['alice', 'bob']);
  });

  it('a release, an emergency rollback or a region rollout started directly on Temporal deploys nothing', async () => {
    const engine = await engines.start({ waves: [['a']], record: 'direct-starts' });
    const { service, releaseTaskQueue } = engine;
    const region = engine.regions[0] as string;
    await engine.trpc('ci').release.start.mutate({ service, releaseId: 'real-1', version: '1.1.0' });
    expect((await engine.waitForOutcome('real-1')).outcome?.result).toBe('succeeded');
    const deploysBefore = (await engine.fleetEvents()).length;

    // The real release's input, exactly as recorded, signature included (payloads are in clear in this engine).
    const [started] = await engine.history(`release/${service}/real-1`);
    const [payload] = started?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    const copied = defaultPayloadConverter.fromPayload<{ plan: { version: string; canary: { analysis: unknown } } }>(
      payload as never,
    );
    const downgrade = { ...copied, plan: { ...copied.plan, version: '1.2.0' } };

    const attempts = [
      // The copied request under its own id (the release has closed, so Temporal would run it again) ...
      { id: `release/${service}/real-1`, type: 'releaseWorkflow', input: copied },
      // ... under a new id, and changed to another version.
      { id: `release/${service}/copy-1`, type: 'releaseWorkflow', input: copied },
      { id: `release/${service}/copy-2`, type: 'releaseWorkflow', input: downgrade },
      {
        id: `rollback/${service}/rb-forged`,
        type: 'emergencyRollbackWorkflow',
        input: { service, rollbackId: 'rb-forged', regions: [region], reason: 'forged', requestedBy: 'mallory' },
      },
      {
        id: `region-rollout/${service}/forged/${region}`,
        type: 'regionRolloutWorkflow',
        queue: `deploy.${region}`,
        input: {
          releaseWorkflowId: `release/${service}/real-1`,
          releaseId: 'forged',
          service,
          region,
          version: '1.2.0',
          digest: 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
          previousVersion: '1.1.0',
          steps: [{ percent: 100, bakeSeconds: 0 }],
          analysis: copied.plan.canary.analysis,
          smokeTest: { path: '/', requests: 1, maxFailures: 1 },
          paused: false,
        },
      },
    ];
    for (const attempt of attempts) {
      const startedDirectly = await temporal([
        'workflow',
        'start',
        '--type',
        attempt.type,
        '--task-queue',
        attempt.queue ?? releaseTaskQueue,
        '-w',
        attempt.id,
        '-i',
        JSON.stringify(attempt.input),
      ]);
      expect(startedDirectly.ok, startedDirectly.output).toBe(true);
      expect(await failureOf(engine, attempt.id), attempt.id).toMatch(/^refused to act: /);
    }
    expect((await engine.fleetEvents()).length).toBe(deploysBefore);
    expect(await engine.trpc('viewer').release.get.query({ service, releaseId: 'real-1' })).toMatchObject({
      outcome: { result: 'succeeded' },
    });
    const audit = await engine.auditTrail.list({ service });
    expect(audit.filter((r) => r.actor === 'mallory')).toEqual([]);
  });

  it('an author of the change cannot approve it, even when the shared pipeline token started it', async () => {
    const engine = await engines.start({ waves: [['a']], record: 'authors-may-not-approve' });
    const ref = { service: engine.service, releaseId: 'authored-1' };
    await engine
      .trpc('ci')
      .release.start.mutate({ ...ref, version: '1.1.0', changeClass: 'normal', authors: ['alice', 'dana'] });
    await engine.waitForStatus(ref.releaseId, (s) => s.stage === 'awaiting-approval');
    const byAuthor = await engine.rawCall(
      'release.approve',
      { ...ref, gate: 'production-approval' },
      engine.tokens.alice,
    );
    expect(byAuthor.status).toBe(403);
    expect(byAuthor.body.error?.message).toBe(
      'you cannot approve a change you wrote (alice is among its authors: alice, dana); another person must decide',
    );
    await engine.trpc('bob').release.approve.mutate({ ...ref, gate: 'production-approval' });
    expect((await engine.waitForOutcome(ref.releaseId)).outcome?.result).toBe('succeeded');
  });
});
