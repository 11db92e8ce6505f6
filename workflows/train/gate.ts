// The train's one approval: opened before the stage the API named, waited for until its quorum, a rejection, its
// timeout or an abort.
import { condition } from '@temporalio/workflow';
import type { Gate } from '../../domain/approval';
import { now } from '../journal';
import type { TrainFailure, TrainRun } from './run';

/** A gate's status as it is now (the update handlers change it while the train waits). */
function statusOf(gate: Gate): Gate['status'] {
  return gate.status;
}

/** Opens the train's approval and waits; why the train stops, or undefined when approved. */
export async function passApproval(run: TrainRun): Promise<TrainFailure | undefined> {
  const gate = run.status.gate as Gate;
  gate.status = 'waiting';
  gate.openedAt = now();
  run.enter('waiting-approval');
  run.note(`the train waits for approval: ${gate.description} (needs ${gate.quorum} of ${gate.roles.join('/')})`);
  run.record('gate.opened', { gate: gate.id, reason: gate.description });
  await run.flush();
  const decided = await condition(
    () => statusOf(gate) !== 'waiting' || run.aborted(),
    (gate.timeoutSeconds ?? 0) > 0 ? (gate.timeoutSeconds as number) * 1000 : undefined,
  );
  run.enter('releasing');
  if (run.aborted()) return run.abortFailure();
  if (!decided) {
    gate.status = 'timed-out';
    gate.closedAt = now();
    run.note(`no approval within ${gate.timeoutSeconds}s`);
    run.record('gate.timed-out', { gate: gate.id });
    return { result: 'failed', reason: `the train's approval timed out after ${gate.timeoutSeconds}s` };
  }
  if (statusOf(gate) === 'rejected') {
    const rejection = gate.decisions.find((d) => d.decision === 'reject');
    return {
      result: 'failed',
      reason: `${rejection?.by ?? 'an approver'} rejected the train${rejection?.comment ? `: ${rejection.comment}` : ''}`,
    };
  }
  await run.flush();
  return undefined;
}
