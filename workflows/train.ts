// The release train (issue 15): several service@version released together, in the order the API planned
// (domain/train.ts), each member through its own service's coordinator, so one release per service still holds.
//
//   verify the signed request -> per stage: (the train's approval, once, before the stage it names) -> start the
//   stage's members side by side -> wait for each to end -> next stage
//   -> on a failed member, a rejection, a timed-out approval or an abort: undo the members already released, in
//   reverse order (emergency rollbacks), unless the train says to leave them
//
// The train cannot sign anything: every release and rollback it hands on was signed by the API when the train was
// requested, and each asks the train, before doing anything, whether the train sent it now (workflows/authorization.ts
// confirmTrainStep). A member request read from this history and replayed on Temporal is refused by the member.
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { checkDecision, recordDecision, type DecisionKind, type Gate } from '../domain/approval';
import type { AuditEvent } from '../domain/audit';
import type { TrainOutcome, TrainStatus, TrainStepStatus, TrainUndoStatus } from '../domain/train';
import { releaseWorkflowId, rollbackWorkflowId } from '../domain/workflow-ids';
import type { ReleaseActivities } from '../activities';
import { SignedMessages } from './authorization';
import { releaseFailure } from './failures';
import { now } from './journal';
import {
  abortUpdate,
  approveUpdate,
  rejectUpdate,
  signedTrainFields,
  trainStatusQuery,
  type ControlInput,
  type DecisionInput,
  type EmergencyRollbackInput,
  type TrainInput,
} from './messages';
import { auditStep, quickStep } from './profiles';
import { ReleaseStage, ReleaseTrain } from './search-attributes';
import { verifySigned } from './trusted-keys';

const steps = proxyActivities<ReleaseActivities>(quickStep);
/** Waiting for a member to end: as long as the member takes (gates, freezes, bakes), heartbeating. */
const waits = proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '30 days',
  // A dead worker's wait is taken up by another within this (the waits heartbeat every 5 s).
  heartbeatTimeout: '20s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
});
const audit = proxyActivities<ReleaseActivities>(auditStep);
/** Handing an undo to a coordinator: a minute of tries, then the train says it waits (handUndo). */
const undoStarts = proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});

export const TRAIN_GATE_ID = 'train-approval';

export async function trainWorkflow(input: TrainInput): Promise<TrainStatus> {
  const info = workflowInfo();
  // Started directly on Temporal (not by the API): fails here, having started nothing.
  const verification = verifySigned(info.workflowId, 'train', signedTrainFields(input), info.startTime.getTime());
  if (!verification.ok) {
    throw releaseFailure(
      'Unauthorized',
      `refused to act: this train was not requested through the release engine's API (${verification.reason}); nothing was started`,
    );
  }
  const { plan } = input;
  const status: TrainStatus = {
    trainId: plan.trainId,
    requestedBy: input.requestedBy,
    ...(input.reason ? { reason: input.reason } : {}),
    changeClass: plan.changeClass,
    lockstep: plan.lockstep,
    onFailure: plan.onFailure,
    members: plan.members,
    stage: 'releasing',
    currentStage: 0,
    stages: plan.stages,
    steps: input.steps.map((step): TrainStepStatus => ({
      stage: step.stage,
      service: step.service,
      version: step.version,
      ...(step.environment ? { environment: step.environment } : {}),
      releaseId: step.release.plan.releaseId,
      workflowId: releaseWorkflowId(step.service, step.release.plan.releaseId),
      state: 'pending',
    })),
    undo: [],
    ...(input.approval
      ? {
          gate: {
            id: TRAIN_GATE_ID,
            kind: 'approval',
            description: input.approval.description,
            status: 'pending',
            quorum: input.approval.quorum,
            roles: input.approval.roles,
            timeoutSeconds: input.approval.timeoutSeconds,
            decisions: [],
          } satisfies Gate,
        }
      : {}),
    timeline: [],
    startedAt: now(),
  };
  const messages = new SignedMessages();
  let auditSeq = 0;
  const pendingAudit: AuditEvent[] = [];

  const note = (message: string, service?: string) =>
    status.timeline.push({ at: now(), message, ...(service ? { service } : {}) });
  /** An audit event on the trail of each service it concerns (the train's own events: every member's). */
  const record = (action: string, fields: Partial<AuditEvent> & { services?: string[] } = {}) => {
    const { services, ...rest } = fields;
    for (const service of services ?? plan.members.map((m) => m.service)) {
      pendingAudit.push({
        id: `${info.workflowId}#${++auditSeq}`,
        at: now(),
        actor: 'engine',
        action,
        service,
        releaseId: plan.trainId,
        ...rest,
        details: { train: plan.trainId, ...(rest.details ?? {}) },
      });
    }
  };
  let writes = Promise.resolve();
  const flush = () => {
    const batch = pendingAudit.splice(0);
    if (batch.length > 0) {
      writes = writes
        .then(() =>
          audit.appendAudit.executeWithOptions(
            { summary: `audit: ${[...new Set(batch.map((e) => e.action))].join(', ')}` },
            [batch],
          ),
        )
        .then(() => undefined);
    }
    return writes;
  };
  const enter = (stage: TrainStatus['stage']) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: ReleaseStage, value: stage }]);
  };

  setHandler(trainStatusQuery, () => status);
  /** The train's own rules (run again in the handler); the signature is checked by the validator only. */
  const decide = (decision: DecisionKind, request: DecisionInput) => {
    const refusal = checkDecision({
      gates: status.gate ? [status.gate] : [],
      gateId: request.gate,
      principal: request.principal,
      requestedBy: input.requestedBy,
      ...(input.authors ? { authors: input.authors } : {}),
      decision,
    });
    if (refusal) {
      throw ApplicationFailure.create({
        type: refusal.code,
        message: refusal.message
          .replace('your own release', 'your own train')
          .replace('in this release', 'in this train'),
        nonRetryable: true,
      });
    }
  };
  for (const [update, decision] of [
    [approveUpdate, 'approve'],
    [rejectUpdate, 'reject'],
  ] as const) {
    setHandler(
      update,
      (request) => {
        decide(decision, request);
        const gate = status.gate as Gate;
        messages.accept(request);
        recordDecision(gate, decision, request.principal.id, request.comment, now());
        const verb = decision === 'approve' ? 'approved' : 'rejected';
        note(`${request.principal.id} ${verb} the train${request.comment ? `: ${request.comment}` : ''}`);
        record(`train.${verb}`, {
          actor: request.principal.id,
          gate: gate.id,
          ...(request.comment ? { reason: request.comment } : {}),
        });
        return gate;
      },
      {
        validator: (request: DecisionInput) => {
          messages.check(decision, request);
          decide(decision, request);
        },
      },
    );
  }
  setHandler(
    abortUpdate,
    (request: ControlInput) => {
      messages.accept(request);
      if (status.aborted || status.outcome) return;
      status.aborted = { by: request.by, reason: request.reason ?? 'no reason given' };
      note(`${request.by} aborted the train: ${status.aborted.reason}`);
      record('train.aborted', { actor: request.by, reason: status.aborted.reason });
    },
    {
      validator: (request: ControlInput) => {
        messages.check('abort', request);
        if (status.outcome) {
          throw ApplicationFailure.create({
            type: 'ReleaseFinished',
            message: `train ${plan.trainId} has already ended (${status.outcome.result})`,
            nonRetryable: true,
          });
        }
      },
    },
  );

  upsertSearchAttributes([{ key: ReleaseTrain, value: plan.trainId }]);
  note(
    `train ${plan.trainId} of ${plan.members.map((m) => `${m.service}@${m.version}`).join(', ')} (${plan.changeClass}${plan.lockstep ? ', lockstep' : ''}) requested by ${input.requestedBy}`,
  );
  record('train.requested', {
    actor: input.requestedBy,
    ...(input.reason ? { reason: input.reason } : {}),
    details: {
      members: plan.members.map((m) => `${m.service}@${m.version}`),
      changeClass: plan.changeClass,
      lockstep: plan.lockstep,
    },
  });
  await flush();

  let failure: { result: TrainOutcome; reason: string } | undefined;
  for (let stage = 0; stage < plan.stages.length && !failure; stage++) {
    status.currentStage = stage;
    if (input.approval && input.approval.beforeStage === stage) {
      failure = await passGate();
      if (failure) break;
    }
    if (abortedNow()) {
      failure = abortFailure();
      break;
    }
    const members = input.steps.filter((step) => step.stage === stage);
    note(
      `stage ${stage + 1} of ${plan.stages.length}${plan.stages[stage]?.environment ? ` (${plan.stages[stage]?.environment})` : ''}: ${members.map((m) => `${m.service}@${m.version}`).join(', ')}`,
    );
    const ends = await Promise.all(members.map((step) => releaseMember(input.steps.indexOf(step))));
    const failed = ends.find((end) => end !== undefined);
    // The train's own abort ends its members as it can (aborted, rolled back, or refused by the train): an abort.
    if (abortedNow()) failure = abortFailure();
    else if (failed) failure = failed;
  }
  status.currentStage = failure ? status.currentStage : plan.stages.length;

  let result: TrainOutcome = 'succeeded';
  if (failure) {
    const undo = plan.onFailure === 'rollback' || failure.result === 'aborted';
    if (undo) {
      enter('rolling-back');
      await undoReleased(failure.reason);
    } else {
      note(`the train leaves the members it released in place (onFailure: leave)`);
    }
    const undone = status.undo.length > 0 && status.undo.every((u) => u.state === 'done');
    const stuck = status.undo.filter((u) => u.state === 'failed');
    result =
      failure.result === 'aborted'
        ? 'aborted'
        : stuck.length > 0 || !undo
          ? 'failed'
          : undone ||
              (status.steps.some((s) => s.state !== 'pending') && status.steps.every((s) => s.state !== 'succeeded'))
            ? 'rolled-back'
            : 'failed';
    if (stuck.length > 0) {
      note(`undoing ${stuck.map((u) => u.service).join(', ')} failed: those services need a human`);
    }
  }
  status.outcome = { result, ...(failure ? { reason: failure.reason } : {}), finishedAt: now() };
  enter(result);
  note(failure ? `train ${result}: ${failure.reason}` : `train succeeded: ${plan.members.length} members released`);
  record(`train.${result}`, failure ? { reason: failure.reason } : {});
  await flush();
  return status;

  /** Read through functions: handlers change these while the train waits. */
  function abortedNow(): boolean {
    return status.aborted !== undefined;
  }
  function abortFailure(): { result: TrainOutcome; reason: string } {
    return { result: 'aborted', reason: `aborted by ${status.aborted?.by}: ${status.aborted?.reason}` };
  }
  function gateStatus(gate: Gate): Gate['status'] {
    return gate.status;
  }

  /** Opens the train's approval and waits for its quorum, a rejection, its timeout, or an abort. */
  async function passGate(): Promise<{ result: TrainOutcome; reason: string } | undefined> {
    const gate = status.gate as Gate;
    gate.status = 'waiting';
    gate.openedAt = now();
    enter('waiting-approval');
    note(`the train waits for approval: ${gate.description} (needs ${gate.quorum} of ${gate.roles.join('/')})`);
    record('gate.opened', { gate: gate.id, reason: gate.description });
    await flush();
    const decided = await condition(
      () => gateStatus(gate) !== 'waiting' || abortedNow(),
      (gate.timeoutSeconds ?? 0) > 0 ? (gate.timeoutSeconds as number) * 1000 : undefined,
    );
    enter('releasing');
    if (abortedNow()) return abortFailure();
    if (!decided) {
      gate.status = 'timed-out';
      gate.closedAt = now();
      note(`no approval within ${gate.timeoutSeconds}s`);
      record('gate.timed-out', { gate: gate.id });
      return { result: 'failed', reason: `the train's approval timed out after ${gate.timeoutSeconds}s` };
    }
    if (gateStatus(gate) === 'rejected') {
      const rejection = gate.decisions.find((d) => d.decision === 'reject');
      return {
        result: 'failed',
        reason: `${rejection?.by ?? 'an approver'} rejected the train${rejection?.comment ? `: ${rejection.comment}` : ''}`,
      };
    }
    await flush();
    return undefined;
  }

  /** Hands one member's release to its coordinator and waits for its end; a reason when it did not succeed. */
  async function releaseMember(index: number): Promise<{ result: TrainOutcome; reason: string } | undefined> {
    const request = input.steps[index]!;
    const step = status.steps[index]!;
    const where = step.environment ? ` in ${step.environment}` : '';
    step.state = 'starting';
    step.startedAt = now();
    try {
      await steps.startTrainRelease.executeWithOptions(
        { summary: `start ${step.service}@${step.version}${where} (release ${step.releaseId})` },
        [{ input: request.release, queue: input.queue }],
      );
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const reason = `${step.service}@${step.version}${where} could not start: ${err.cause?.message ?? err.message}`;
      step.state = 'failed';
      step.reason = reason;
      step.finishedAt = now();
      note(reason, step.service);
      record('train.member-failed', { services: [step.service], reason, afterVersion: step.version });
      return { result: 'failed', reason };
    }
    step.state = 'running';
    note(`${step.service}@${step.version}${where} started (release ${step.releaseId})`, step.service);
    record('train.member-started', {
      services: [step.service],
      afterVersion: step.version,
      details: { memberRelease: step.releaseId },
    });
    await flush();
    const end = await waits.awaitReleaseEnd.executeWithOptions(
      { summary: `wait for release ${step.releaseId} of ${step.service} to end` },
      [{ workflowId: step.workflowId }],
    );
    step.finishedAt = now();
    step.state = end.result === 'succeeded' ? 'succeeded' : end.result;
    if (end.reason) step.reason = end.reason;
    if (end.result === 'succeeded') {
      note(`${step.service}@${step.version}${where} released`, step.service);
      record('train.member-released', { services: [step.service], afterVersion: step.version });
      return undefined;
    }
    const reason = `${step.service}@${step.version}${where} ${end.result === 'rolled-back' ? 'was rolled back' : end.result}${end.reason ? `: ${end.reason}` : ''}`;
    note(reason, step.service);
    record('train.member-failed', { services: [step.service], reason, afterVersion: step.version });
    // A member aborted from outside the train is a failed member; the train's own abort is seen by its caller.
    return { result: 'failed', reason };
  }

  /**
   * Hands an undo to its coordinator, for as long as its service has another release in progress (an undo aborts
   * nothing): the wait is on the timeline. A refusal (its signature) ends the undo as failed.
   */
  async function handUndo(rollback: EmergencyRollbackInput): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        await undoStarts.startTrainUndo.executeWithOptions(
          { summary: `emergency rollback of ${rollback.service} (train undo)` },
          [rollback],
        );
        return;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        if (err.cause instanceof ApplicationFailure && err.cause.nonRetryable) throw err;
        if (tries === 0) {
          note(
            `${rollback.service} cannot take its undo yet (${err.cause?.message ?? err.message}); the train asks again every minute`,
            rollback.service,
          );
        }
        await sleep(60_000);
      }
    }
  }

  /** Undoes, in reverse order, every member release that succeeded (a failed member rolled itself back). */
  async function undoReleased(why: string): Promise<void> {
    // Trains requested with an undo per release undo exactly the regions of each release that succeeded, latest
    // first; earlier trains carry one undo per member service.
    const undos = input.steps.some((step) => step.undo)
      ? input.steps
          .map((step, i) => ({ step, state: status.steps[i] }))
          .filter(({ step, state }) => step.undo && state?.state === 'succeeded')
          .reverse()
          .map(({ step }) => step.undo as EmergencyRollbackInput)
      : plan.rollbackOrder.flatMap((service) =>
          status.steps.some((s) => s.service === service && s.state === 'succeeded')
            ? input.undo.filter((u) => u.service === service)
            : [],
        );
    for (const rollback of undos) {
      const service = rollback.service;
      const undo: TrainUndoStatus = {
        service,
        rollbackId: rollback.rollbackId,
        workflowId: rollbackWorkflowId(service, rollback.rollbackId),
        state: 'undoing',
      };
      status.undo.push(undo);
      note(`undoing ${service}: back to its previous version (${why})`, service);
      record('train.member-undoing', { services: [service], reason: why });
      await flush();
      try {
        await handUndo(rollback);
        const end = await waits.awaitRollbackEnd.executeWithOptions(
          { summary: `wait for the rollback of ${service} to end` },
          [{ workflowId: undo.workflowId }],
        );
        undo.state = end.ok ? 'done' : 'failed';
        if (end.reason) undo.reason = end.reason;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        undo.state = 'failed';
        undo.reason = err.cause?.message ?? err.message;
      }
      note(
        undo.state === 'done'
          ? `${service} is back on its previous version`
          : `undoing ${service} failed: ${undo.reason ?? 'see its rollback'}`,
        service,
      );
      record(undo.state === 'done' ? 'train.member-undone' : 'train.member-undo-failed', {
        services: [service],
        ...(undo.reason ? { reason: undo.reason } : {}),
      });
    }
    await flush();
  }
}
