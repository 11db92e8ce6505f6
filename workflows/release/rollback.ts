// Rolling a release back: the saga's compensations in reverse order, in a non-cancellable scope, with every step on
// the timeline and the audit trail. A compensation that fails, or that cannot run safely, opens an intervention
// gate for an SRE instead of being skipped or guessed.
import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { readableReleaseFailure, releaseFailure } from '../failures';
import type { Gate } from '../../domain/approval';
import type { FailureType } from '../../domain/failures';
import { incidentOpenedFields, releaseIncident } from '../../domain/incident';
import type { ReleaseResult } from '../../domain/release-status';
import { INCIDENT_RECORD_PATCH } from '../incident-note';
import { now } from '../journal';
import { innermostMessage, type Compensation, type SagaHooks } from '../saga';
import { waitForGate } from './gates';
import type { ReleaseRun } from './run-state';

/** Roles allowed to decide on a rollback step that needs a human. */
const INTERVENTION_ROLES = ['sre'] as const;

/** Rolls the release back after `err` and ends it: always throws the release's failure, with its status. */
export async function rollBack(run: ReleaseRun, err: unknown): Promise<never> {
  const { status, abort } = run;
  run.compensating = true;
  // Nothing is registered before the artifact's promotion, the first change: an abort before it has nothing to undo.
  // (Releases started before the aborted outcome existed end as failed.)
  const nothingToUndo = abort !== undefined && run.saga.size === 0 && patched('aborted-outcome');
  if (status.paused) {
    status.paused = false;
    run.note(`no longer paused: ${nothingToUndo ? 'aborted' : 'rolling back'}`);
  }
  if (abort && nothingToUndo) return endAborted(run, abort);
  const reason = abort ? `aborted by ${abort.by}: ${abort.reason}` : innermostMessage(err);
  const type: FailureType = abort ? 'ReleaseAborted' : failureType(err);
  run.rollbackReason = reason;
  run.enterStage('rolling-back');
  run.note(`rolling back: ${reason}`);
  run.audit('release.rolling-back', { reason });
  const allRan = await CancellationScope.nonCancellable(() => run.saga.compensate(compensationHooks(run)));
  const ranSomething = status.compensations.length > 0;
  const result: Exclude<ReleaseResult, 'aborted' | 'succeeded'> = allRan && ranSomething ? 'rolled-back' : 'failed';
  const finalReason = allRan ? reason : `${reason}; some compensations did not run (see compensations)`;
  run.note(`release ${result}: ${finalReason}`);
  run.audit(`release.${result}`, { reason: finalReason });
  // A release that rolled back or failed (a change failure, as DORA counts it) opens a post-incident record, after its
  // last audit event (runs from before records existed end without one). An aborted release (endAborted) opens none.
  if (patched(INCIDENT_RECORD_PATCH)) {
    const opening = releaseIncident(status, { result, reason: finalReason, abort, alert: run.alert });
    run.audit('incident.opened', incidentOpenedFields(opening));
  }
  // The audit trail has the whole story before the status says the release is over.
  await CancellationScope.nonCancellable(() => run.record.flush());
  run.enterStage(result);
  status.outcome = { result, reason: finalReason, finishedAt: now() };
  await CancellationScope.nonCancellable(async () => {
    run.record.notify(result === 'rolled-back' ? 'release.rolled-back' : 'release.failed', { reason: finalReason });
    run.record.reportToTicket(status.outcome, (why) => run.note(why));
    await run.record.notified();
  });
  if (patched(READABLE_OUTCOME_PATCH)) throw readableReleaseFailure(type, endHeadline(run, result, type), [status]);
  throw releaseFailure(type, finalReason, [status]);
}

/** Ends a release that a person aborted before it changed anything: nothing to undo, and not a change failure. */
async function endAborted(run: ReleaseRun, abort: { by: string; reason: string }): Promise<never> {
  const { status } = run;
  const reason = `aborted by ${abort.by} before it changed anything: ${abort.reason}`;
  run.note(`release aborted: ${reason}`);
  run.audit('release.aborted', { actor: abort.by, reason: abort.reason });
  await CancellationScope.nonCancellable(() => run.record.flush());
  run.enterStage('aborted');
  status.outcome = { result: 'aborted', reason, finishedAt: now() };
  await CancellationScope.nonCancellable(async () => {
    run.record.notify('release.aborted', { reason: `by ${abort.by}, before it changed anything: ${abort.reason}` });
    run.record.reportToTicket(status.outcome, (why) => run.note(why));
    await run.record.notified();
  });
  if (patched(READABLE_OUTCOME_PATCH)) {
    throw readableReleaseFailure('ReleaseAborted', endHeadline(run, 'aborted', 'ReleaseAborted'), [status]);
  }
  throw releaseFailure('ReleaseAborted', reason, [status]);
}

/**
 * Releases end with a failure whose message the Temporal UI shows in clear: the outcome in the engine's own words.
 * (Before, the message was the reason, sealed like every failure message, and the UI showed "Encoded failure".)
 */
const READABLE_OUTCOME_PATCH = 'readable-outcome';

/**
 * The outcome in words, from the engine's own facts only: the reason may quote a person (an abort reason, a gate's
 * comment) or a provider, so it stays sealed in the status the failure carries (`relctl release status`, the console).
 */
export function endHeadline(run: ReleaseRun, result: 'rolled-back' | 'failed' | 'aborted', type: FailureType): string {
  const { status } = run;
  const done = status.compensations.filter((c) => c.status === 'done').length;
  const undone = status.compensations.length - done;
  const where = `${status.service}@${status.version} (release ${status.releaseId})`;
  const why = 'the reason is in the release status (relctl release status, or the console)';
  switch (result) {
    case 'aborted':
      return `${where} aborted before it changed anything; ${why}`;
    case 'rolled-back':
      return `${where} rolled back ${type === 'ReleaseAborted' ? 'after an abort' : `as designed (${type})`}: ${plural(done, 'compensation')} ran in reverse order; ${why}`;
    case 'failed':
      return `${where} failed (${type}) and ${undone > 0 ? `${plural(undone, 'compensation')} did not run: a human must look` : 'had nothing to undo'}; ${why}`;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function compensationHooks(run: ReleaseRun): SagaHooks {
  const { status } = run;
  const record = (compensation: Compensation) => {
    const existing = status.compensations.find((c) => c.name === compensation.name);
    if (existing) return existing;
    const created = { name: compensation.name, status: 'running' as const, at: now() };
    status.compensations.push(created);
    return created;
  };
  return {
    onStart: (c: Compensation) => {
      Object.assign(record(c), { status: 'running', at: now() });
    },
    onDone: (c: Compensation) => {
      Object.assign(record(c), { status: 'done', at: now() });
      run.note(`compensation done: ${c.name}`);
      run.audit('compensation.done', { reason: c.name });
      void run.record.flush();
    },
    onLeft: (c: Compensation, why: string, handledByHuman: boolean) => {
      Object.assign(record(c), { status: handledByHuman ? 'done' : 'skipped', at: now(), error: why });
      run.note(`compensation ${handledByHuman ? 'handled by a human' : 'left undone'}: ${c.name} (${why})`);
      run.audit(handledByHuman ? 'compensation.handled-by-human' : 'compensation.left-undone', {
        reason: `${c.name}: ${why}`,
      });
      void run.record.flush();
    },
    askHuman: async (c: Compensation, problem: string) => {
      Object.assign(record(c), { status: 'needs-human', at: now(), error: problem });
      const gate: Gate = {
        id: `intervention-${status.gates.filter((g) => g.kind === 'intervention').length + 1}`,
        kind: 'intervention',
        description: c.irreversible
          ? `${problem}; approve once it has been handled by hand, reject to leave it undone`
          : `${problem}; approve to try again, reject to leave it undone (fix it by hand)`,
        status: 'pending',
        quorum: 1,
        roles: [...INTERVENTION_ROLES],
        decisions: [],
      };
      status.gates.push(gate);
      const outcome = await waitForGate(run, gate, 'needs-attention');
      run.enterStage('rolling-back');
      return outcome === 'approved' ? ('retry' as const) : ('leave' as const);
    },
  };
}

/** The failure type of the innermost application failure (CanaryFailed, ApprovalRejected, ...). */
function failureType(err: unknown): FailureType {
  let current: unknown = err;
  let type: FailureType = 'ReleaseFailed';
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.type) type = current.type as FailureType;
    if (isCancellation(current)) type = 'ReleaseCancelled';
    current = current.cause;
  }
  return type;
}
