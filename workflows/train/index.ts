// The release train (issue 15): several service@version released together, in the order the API planned
// (domain/train.ts), each member through its own service's coordinator, so one release per service still holds.
//
//   verify the signed request -> per stage: (the train's approval, once, before the stage it names) -> start the
//   stage's members side by side -> wait for each to end -> next stage
//   -> on a failed member, a rejection, a timed-out approval or an abort: undo what the train released, latest
//   first (emergency rollbacks), unless the train says to leave it
//
// The train cannot sign anything: every release and rollback it hands on was signed by the API when the train was
// requested, and each asks the train, before doing anything, whether the train sent it now (workflows/authorization.ts
// confirmTrainStep). A member request read from this history and replayed on Temporal is refused by the member.
//
// Module map: run (status, timeline, audit), handlers (messages), gate (the approval), members, undo.
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { TrainOutcome, TrainStatus } from '../../domain/train';
import { releaseFailure } from '../failures';
import { now } from '../journal';
import { signedTrainFields, type TrainInput } from '../messages';
import { ReleaseTrain } from '../search-attributes';
import { verifySigned } from '../trusted-keys';
import { passApproval } from './gate';
import { installHandlers } from './handlers';
import { releaseMember } from './members';
import { type TrainFailure, TrainRun } from './run';
import { undoReleased } from './undo';

export { TRAIN_GATE_ID } from './run';

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
  const run = new TrainRun(input);
  const { plan, status } = run;
  installHandlers(run);

  upsertSearchAttributes([{ key: ReleaseTrain, value: plan.trainId }]);
  run.note(
    `train ${plan.trainId} of ${plan.members.map((m) => `${m.service}@${m.version}`).join(', ')} (${plan.changeClass}${plan.lockstep ? ', lockstep' : ''}) requested by ${input.requestedBy}`,
  );
  run.record('train.requested', {
    actor: input.requestedBy,
    ...(input.reason ? { reason: input.reason } : {}),
    details: {
      members: plan.members.map((m) => `${m.service}@${m.version}`),
      changeClass: plan.changeClass,
      lockstep: plan.lockstep,
    },
  });
  await run.flush();

  const failure = await releaseStages(run);
  const result = failure ? await stop(run, failure) : 'succeeded';
  status.outcome = { result, ...(failure ? { reason: failure.reason } : {}), finishedAt: now() };
  run.enter(result);
  run.note(failure ? `train ${result}: ${failure.reason}` : `train succeeded: ${plan.members.length} members released`);
  run.record(`train.${result}`, failure ? { reason: failure.reason } : {});
  await run.flush();
  return status;
}

/** The stages in order, each after the approval if it is the one named; why the train stopped, if it did. */
async function releaseStages(run: TrainRun): Promise<TrainFailure | undefined> {
  const { plan, input, status } = run;
  for (let stage = 0; stage < plan.stages.length; stage++) {
    status.currentStage = stage;
    if (input.approval?.beforeStage === stage) {
      const refused = await passApproval(run);
      if (refused) return refused;
    }
    if (run.aborted()) return run.abortFailure();
    const members = input.steps.filter((step) => step.stage === stage);
    const environment = plan.stages[stage]?.environment;
    run.note(
      `stage ${stage + 1} of ${plan.stages.length}${environment ? ` (${environment})` : ''}: ${members.map((m) => `${m.service}@${m.version}`).join(', ')}`,
    );
    const ends = await Promise.all(members.map((step) => releaseMember(run, input.steps.indexOf(step))));
    // The train's own abort ends its members as it can (aborted, rolled back, or refused by the train): an abort.
    if (run.aborted()) return run.abortFailure();
    const failed = ends.find((end) => end !== undefined);
    if (failed) return failed;
  }
  status.currentStage = plan.stages.length;
  return undefined;
}

/** After a failure: undoes what the train released (unless it leaves it) and says how the train ended. */
async function stop(run: TrainRun, failure: TrainFailure): Promise<TrainOutcome> {
  const { plan, status } = run;
  const undo = plan.onFailure === 'rollback' || failure.result === 'aborted';
  if (undo) {
    run.enter('rolling-back');
    await undoReleased(run, failure.reason);
  } else {
    run.note(`the train leaves the members it released in place (onFailure: leave)`);
  }
  const stuck = status.undo.filter((u) => u.state === 'failed');
  if (stuck.length > 0) {
    run.note(`undoing ${stuck.map((u) => u.service).join(', ')} failed: those services need a human`);
  }
  if (failure.result === 'aborted') return 'aborted';
  if (stuck.length > 0 || !undo) return 'failed';
  const undone = status.undo.length > 0 && status.undo.every((u) => u.state === 'done');
  // Something started and nothing the train released is left in place: rolled back. Nothing started: failed.
  const started = status.steps.some((s) => s.state !== 'pending');
  return undone || (started && status.steps.every((s) => s.state !== 'succeeded')) ? 'rolled-back' : 'failed';
}
