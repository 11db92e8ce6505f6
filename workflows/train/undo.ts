// Undoing what a train released, latest first, each by the emergency rollback the API signed for it. Handing one to
// its coordinator is idempotent by rollback id; an undo aborts nothing, so it waits while its service is busy.
import { ActivityFailure, ApplicationFailure, sleep } from '@temporalio/workflow';
import type { TrainUndoStatus } from '../../domain/train';
import { rollbackWorkflowId } from '../../domain/workflow-ids';
import type { EmergencyRollbackInput } from '../messages';
import { trainWaits, undoStarts } from './activities';
import type { TrainRun } from './run';

/**
 * Hands an undo to its coordinator, for as long as its service has another release in progress (the wait is on the
 * timeline). A refusal (its signature) ends the undo as failed.
 */
async function handUndo(run: TrainRun, rollback: EmergencyRollbackInput): Promise<void> {
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
        run.note(
          `${rollback.service} cannot take its undo yet (${err.cause?.message ?? err.message}); the train asks again every minute`,
          rollback.service,
        );
      }
      await sleep(60_000);
    }
  }
}

/** The undos of what succeeded, latest first (trains before per-release undos carry one per member service). */
function undosOf(run: TrainRun): EmergencyRollbackInput[] {
  const { input, status, plan } = run;
  if (input.steps.some((step) => step.undo)) {
    return input.steps
      .filter((step, i) => step.undo && status.steps[i]?.state === 'succeeded')
      .reverse()
      .map((step) => step.undo as EmergencyRollbackInput);
  }
  return plan.rollbackOrder.flatMap((service) =>
    status.steps.some((s) => s.service === service && s.state === 'succeeded')
      ? input.undo.filter((u) => u.service === service)
      : [],
  );
}

/** Undoes, in reverse order, every member release that succeeded (a failed member rolled itself back). */
export async function undoReleased(run: TrainRun, why: string): Promise<void> {
  for (const rollback of undosOf(run)) {
    const service = rollback.service;
    const undo: TrainUndoStatus = {
      service,
      rollbackId: rollback.rollbackId,
      workflowId: rollbackWorkflowId(service, rollback.rollbackId),
      state: 'undoing',
    };
    run.status.undo.push(undo);
    run.note(`undoing ${service}: back to its previous version (${why})`, service);
    run.record('train.member-undoing', { services: [service], reason: why });
    await run.flush();
    try {
      await handUndo(run, rollback);
      const end = await trainWaits.awaitRollbackEnd.executeWithOptions(
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
    run.note(
      undo.state === 'done'
        ? `${service} is back on its previous version`
        : `undoing ${service} failed: ${undo.reason ?? 'see its rollback'}`,
      service,
    );
    run.record(undo.state === 'done' ? 'train.member-undone' : 'train.member-undo-failed', {
      services: [service],
      ...(undo.reason ? { reason: undo.reason } : {}),
    });
  }
  await run.flush();
}
