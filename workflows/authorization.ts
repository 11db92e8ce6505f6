// Workflow-side checks of signed messages (domain/signed-message.ts): what the workflow cannot verify, it does not
// trust. Update validators call check(), so a forged decision is refused to its sender and never enters history; a
// workflow started without the API's signed request fails before it touches anything.
import {
  ActivityFailure,
  patched,
  proxyActivities,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities';
import { quickStep } from './profiles';
import { serviceWorkflowId } from '../domain/workflow-ids';
import { refusedPayload, type SignedMessageName } from '../domain/signed-message';
import { releaseFailure } from './failures';
import { verifySigned } from './trusted-keys';
import { ReleaseTrain } from './search-attributes';

/** Patch id of signed messages: runs started before it replay without any of these checks. */
export const SIGNED_MESSAGES_PATCH = 'signed-messages';

/** The nonces of the signed messages a workflow has accepted: each is accepted once. */
export class SignedMessages {
  private readonly used = new Set<string>();

  /**
   * Throws an `Unauthorized` failure unless `fields` carry the API's valid signature for this workflow and
   * `message`, not used before. Call from validators (workflow time is the time of the task).
   */
  check(
    message: SignedMessageName,
    fields: object | undefined,
    workflowId = workflowInfo().workflowId,
    at = new Date().getTime(),
  ): void {
    const verification = verifySigned(workflowId, message, fields, at);
    if (!verification.ok) throw releaseFailure('Unauthorized', `refused: ${verification.reason}`);
    if (this.used.has(verification.nonce)) {
      throw releaseFailure('Unauthorized', `refused: this signed ${message} message was already used once`);
    }
  }

  /** The same check, as a verdict instead of a throw (for signals, which cannot be refused). */
  verdict(
    message: SignedMessageName,
    fields: object | undefined,
    workflowId = workflowInfo().workflowId,
    at = new Date().getTime(),
  ): string | undefined {
    try {
      this.check(message, fields, workflowId, at);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Marks a message's nonce used (from the handler, so replay rebuilds the set). */
  accept(fields: { authorization?: { nonce?: string } } | undefined): void {
    const nonce = fields?.authorization?.nonce;
    if (nonce) this.used.add(nonce);
  }
}

/**
 * For a workflow that acts for a person (a release, an emergency rollback): fails it, before anything happens,
 * unless its service's coordinator started it (the parent is set by the Temporal server, so a client cannot fake
 * it) and its input carries the API's signed request for this very workflow, signed when it started. Returns
 * whether signed messages apply to this run (false for runs started before them, which replay unchanged).
 */
export function refuseUnsignedStart<T extends object>(
  message: 'release' | 'rollback',
  input: T,
  signedFields: (input: T) => object,
  serviceOf: (input: T) => string | undefined,
): boolean {
  if (!patched(SIGNED_MESSAGES_PATCH)) return false;
  const info = workflowInfo();
  const refused = refusedPayload(input);
  let reason: string | undefined;
  if (refused) reason = refused;
  else if (!input || typeof input !== 'object') reason = 'it has no input';
  else {
    const coordinator = serviceWorkflowId(serviceOf(input) ?? '?');
    const parent = info.parent?.workflowId;
    if (parent !== coordinator) {
      reason = parent ? `it was started by ${parent}, not by ${coordinator}` : 'it was started directly on Temporal';
    } else {
      const verification = verifySigned(info.workflowId, message, signedFields(input), info.startTime.getTime());
      if (!verification.ok) reason = verification.reason;
    }
  }
  if (reason) {
    throw releaseFailure(
      'Unauthorized',
      `refused to act: this ${message === 'release' ? 'release' : 'emergency rollback'} was not requested through the release engine's API (${reason}); nothing was changed`,
    );
  }
  return true;
}

const coordinatorCheck = proxyActivities<ReleaseActivities>(quickStep);

/**
 * True when the service's coordinator confirms it admitted `workflowId`; otherwise notes the ignored admission.
 * (A forged admit signal would otherwise start a queued release while another of the service runs.)
 */
export async function confirmAdmission(
  service: string,
  workflowId: string,
  note: (message: string) => void,
): Promise<boolean> {
  let answer: { admitted: boolean; active?: string } | undefined;
  while (!answer) {
    try {
      answer = await coordinatorCheck.confirmAdmission.executeWithOptions(
        { summary: `ask the coordinator of ${service} whether it admitted this workflow` },
        [{ service, workflowId }],
      );
    } catch (err) {
      // The coordinator could not be asked (its worker busy or away): the admission may be real, so ask again.
      if (!(err instanceof ActivityFailure)) throw err;
      note(
        `could not ask the coordinator of ${service} whether it admitted this release (${err.message}); asking again in 30s`,
      );
      await sleep(30_000);
    }
  }
  const { admitted, active } = answer;
  if (!admitted) {
    note(`ignored an admission the coordinator did not send (it runs ${active ?? 'nothing'}); still queued`);
  }
  return admitted;
}

/** Patch id of train members: releases and rollbacks from before trains replay without asking a train. */
export const TRAIN_MEMBER_PATCH = 'train-member';

/**
 * For a release or an emergency rollback that names a train (signed with its request): tags it with the train
 * (ReleaseTrain) and asks the train whether it sent it now; fails it, before anything changed, if not. The train's
 * member requests are signed ahead of time, so without this one read from the train's history could be replayed on
 * Temporal, skipping the train's order and its approval.
 */
export async function confirmTrainStep(trainId: string, what: 'release' | 'emergency rollback'): Promise<void> {
  upsertSearchAttributes([{ key: ReleaseTrain, value: trainId }]);
  let answer: { ok: boolean; reason?: string } | undefined;
  while (!answer) {
    try {
      answer = await coordinatorCheck.confirmTrainStep.executeWithOptions(
        { summary: `ask train ${trainId} whether it sent this ${what} now` },
        [{ trainId, workflowId: workflowInfo().workflowId }],
      );
    } catch (err) {
      // The train could not be asked (its worker busy or away): only a definite no refuses, so ask again.
      if (!(err instanceof ActivityFailure)) throw err;
      await sleep(30_000);
    }
  }
  if (!answer.ok) {
    throw releaseFailure(
      'Unauthorized',
      `refused to act: this ${what} belongs to train ${trainId}, which did not ask for it now (${answer.reason ?? 'no reason'}); nothing was changed`,
    );
  }
}
