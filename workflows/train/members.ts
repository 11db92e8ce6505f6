// One member's release: handed to its service's coordinator (the request the API signed), then waited for.
// Both activities are safe to retry: the start is idempotent by release id, the wait only reads.
import { ActivityFailure } from '@temporalio/workflow';
import { now } from '../journal';
import { trainSteps, trainWaits } from './activities';
import type { TrainFailure, TrainRun } from './run';

/** Hands the `index`th step's release to its coordinator and waits for its end; why it did not succeed, if so. */
export async function releaseMember(run: TrainRun, index: number): Promise<TrainFailure | undefined> {
  const request = run.input.steps[index]!;
  const step = run.status.steps[index]!;
  const where = step.environment ? ` in ${step.environment}` : '';
  // Marked before the start: the member asks the train (confirmTrainStep) whether it sent it now.
  step.state = 'starting';
  step.startedAt = now();
  try {
    await trainSteps.startTrainRelease.executeWithOptions(
      { summary: `start ${step.service}@${step.version}${where} (release ${step.releaseId})` },
      [{ input: request.release, queue: run.input.queue }],
    );
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const reason = `${step.service}@${step.version}${where} could not start: ${err.cause?.message ?? err.message}`;
    step.state = 'failed';
    step.reason = reason;
    step.finishedAt = now();
    run.note(reason, step.service);
    run.record('train.member-failed', { services: [step.service], reason, afterVersion: step.version });
    return { result: 'failed', reason };
  }
  step.state = 'running';
  run.note(`${step.service}@${step.version}${where} started (release ${step.releaseId})`, step.service);
  run.record('train.member-started', {
    services: [step.service],
    afterVersion: step.version,
    details: { memberRelease: step.releaseId },
  });
  await run.flush();
  const end = await trainWaits.awaitReleaseEnd.executeWithOptions(
    { summary: `wait for release ${step.releaseId} of ${step.service} to end` },
    [{ workflowId: step.workflowId }],
  );
  step.finishedAt = now();
  step.state = end.result;
  if (end.reason) step.reason = end.reason;
  if (end.result === 'succeeded') {
    run.note(`${step.service}@${step.version}${where} released`, step.service);
    run.record('train.member-released', { services: [step.service], afterVersion: step.version });
    return undefined;
  }
  const reason = `${step.service}@${step.version}${where} ${end.result === 'rolled-back' ? 'was rolled back' : end.result}${end.reason ? `: ${end.reason}` : ''}`;
  run.note(reason, step.service);
  run.record('train.member-failed', { services: [step.service], reason, afterVersion: step.version });
  // A member aborted from outside the train is a failed member; the train's own abort is seen by its caller.
  return { result: 'failed', reason };
}
