// What people do to a running release (decide on gates, pause, resume, abort, signed by the API's key), what
// monitoring does to it (an alert), and the calendar's nudge to releases waiting for a freeze to end.
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Gate, RefusalCode } from '../../domain/approval';
import { EngineError, type EngineErrorCode } from '../../domain/errors';
import { releaseWorkflowId } from '../../domain/names';
import { isFinalStage, type ReleaseStage as ReleaseStageName } from '../../domain/release-status';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import {
  abortUpdate,
  alertUpdate,
  approveUpdate,
  pauseUpdate,
  recheckFreezeSignal,
  rejectUpdate,
  resumeUpdate,
  type AlertInput,
  type DecisionInput,
} from '../messages';
import { ReleaseStage } from '../search-attributes';
import { needingWorker, refusalOf, WRITE_DEADLINE_MS } from './worker-calls';

/** The API's error code of a workflow's refusal of a decision (releases and trains). */
export const REFUSAL_CODES: Record<RefusalCode | 'Unauthorized', EngineErrorCode> = {
  UnknownGate: 'GATE_NOT_FOUND',
  GateNotWaiting: 'GATE_NOT_WAITING',
  MissingRole: 'DECISION_FORBIDDEN',
  SelfApproval: 'DECISION_FORBIDDEN',
  Unauthorized: 'DECISION_FORBIDDEN',
  DuplicateDecision: 'DUPLICATE_DECISION',
  ReasonRequired: 'REASON_REQUIRED',
};

/** A release's handle, after checking it exists and is still running (a finished release takes no decisions). */
export async function runningRelease(client: Client, service: string, releaseId: string): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(releaseWorkflowId(service, releaseId));
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new EngineError('RELEASE_NOT_FOUND', `there is no release ${releaseId} of ${service}`);
    }
    throw err;
  }
  const stage = description.typedSearchAttributes.get(ReleaseStage);
  // A release that has its outcome may still run for a moment (last audit records, notifications): it is finished.
  if (description.status.name !== 'RUNNING' || (stage && isFinalStage(stage as ReleaseStageName))) {
    throw new EngineError(
      'RELEASE_FINISHED',
      `release ${releaseId} of ${service} has already finished (${stage ?? description.status.name.toLowerCase()})`,
    );
  }
  return handle;
}

/** Approves or rejects a gate as `input.principal`; refusals come back as EngineErrors with the workflow's words. */
export async function decideGate(
  client: Client,
  service: string,
  releaseId: string,
  decision: 'approve' | 'reject',
  input: Omit<DecisionInput, 'authorization'>,
  signer: DecisionSigner,
): Promise<Gate> {
  // Straight to the release: a decision is one call to Temporal. Only a refused or undeliverable one looks at the
  // release, to say that it has finished (or does not exist) rather than that the gate is not waiting.
  const handle = client.workflow.getHandle(releaseWorkflowId(service, releaseId));
  const signed = signer.sign(handle.workflowId, decision, input);
  try {
    return await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      (why) =>
        `${why}: the ${decision === 'approve' ? 'approval' : 'rejection'} of gate ${input.gate} was not confirmed and may have been recorded (or be applied once the worker answers); check the release (release.get) before deciding again`,
      () => handle.executeUpdate(decision === 'approve' ? approveUpdate : rejectUpdate, { args: [signed] }),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      await runningRelease(client, service, releaseId);
      throw err;
    }
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err);
      const code = REFUSAL_CODES[refusal.type as RefusalCode | 'Unauthorized'] ?? 'GATE_NOT_WAITING';
      if (code === 'GATE_NOT_WAITING') await runningRelease(client, service, releaseId);
      throw new EngineError(code, refusal.message);
    }
    throw err;
  }
}

/** Pauses, resumes or aborts a running release, as a signed update. */
export async function controlRelease(
  client: Client,
  service: string,
  releaseId: string,
  action:
    | { kind: 'pause'; by: string; reason?: string }
    | { kind: 'resume'; by: string }
    | { kind: 'abort'; by: string; reason: string },
  signer: DecisionSigner,
): Promise<void> {
  const handle = await runningRelease(client, service, releaseId);
  const { kind, ...fields } = action;
  const update = kind === 'pause' ? pauseUpdate : kind === 'resume' ? resumeUpdate : abortUpdate;
  try {
    await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      (why) =>
        `${why}: the ${kind} of release ${releaseId} was not confirmed and may have been recorded (or be applied once the worker answers); check the release (release.get) before asking again`,
      () => handle.executeUpdate(update, { args: [signer.sign(handle.workflowId, kind, fields)] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err);
      throw new EngineError('DECISION_FORBIDDEN', refusal.message);
    }
    throw err;
  }
}

/** What became of an alert sent to a release: it rolls back, or it did not take the alert (and why, in words). */
export type AlertDelivery = { rollingBack: true } | { rollingBack: false; why: string };

/**
 * Sends a firing alert to a release, signed by the API. Inside its watch window the release rolls back; outside it
 * (or once it has finished) the release refuses the alert and the caller gets the reason, to record the alert.
 */
export async function alertRelease(
  client: Client,
  service: string,
  releaseId: string,
  alert: Omit<AlertInput, 'authorization'>,
  signer: DecisionSigner,
): Promise<AlertDelivery> {
  let handle: WorkflowHandle;
  try {
    handle = await runningRelease(client, service, releaseId);
  } catch (err) {
    // Finished between the coordinator's answer and now: nothing left to roll back by alert.
    if (err instanceof EngineError && (err.code === 'RELEASE_FINISHED' || err.code === 'RELEASE_NOT_FOUND')) {
      return { rollingBack: false, why: err.message };
    }
    throw err;
  }
  try {
    await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      (why) =>
        `${why}: the alert ${alert.alertname} for release ${releaseId} of ${service} was not delivered; Alertmanager sends it again`,
      () => handle.executeUpdate(alertUpdate, { args: [signer.sign(handle.workflowId, 'alert', alert)] }),
    );
    return { rollingBack: true };
  } catch (err) {
    // NotWatching is the expected refusal. Any other (a release that predates alerts, a signature the worker does
    // not trust) also means nothing rolls back, and the alert must still reach a person rather than vanish.
    if (err instanceof WorkflowUpdateFailedError) return { rollingBack: false, why: refusalOf(err).message };
    throw err;
  }
}

/** Tells every release waiting for a freeze to end that the calendar changed; returns how many were told. */
export async function recheckFreezes(client: Client): Promise<number> {
  let count = 0;
  for await (const execution of client.workflow.list({
    query: `ReleaseStage = "waiting-for-freeze" AND ExecutionStatus = "Running"`,
  })) {
    try {
      await client.workflow.getHandle(execution.workflowId, execution.runId).signal(recheckFreezeSignal);
      count += 1;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return count;
}
