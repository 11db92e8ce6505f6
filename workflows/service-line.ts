// The coordinator's line of releases and rollbacks (workflows/service.ts): what an entry is, and when a release may
// not join the line. Pure, so the update validator stays readable and deterministic.
import { ApplicationFailure, type ChildWorkflowHandle, type ExternalWorkflowHandle } from '@temporalio/workflow';
import type { WorkflowFailureType } from '../domain/failures';
import type { emergencyRollbackWorkflow } from './emergency-rollback';
import type { CarriedEntry } from './messages';
import type { releaseWorkflow } from './release';

/** A release or rollback in the line: what goes over continue-as-new, and this run's own knowledge of it. */
export interface Entry extends CarriedEntry {
  done: boolean;
  /**
   * Started by an earlier run of the coordinator and carried over continue-as-new: its end is not reported by
   * Temporal to this run, which learns of it by asking (see followCarried in workflows/service.ts).
   */
  carried?: boolean;
  handle?:
    | ChildWorkflowHandle<typeof releaseWorkflow>
    | ChildWorkflowHandle<typeof emergencyRollbackWorkflow>
    | ExternalWorkflowHandle;
  /** Settles once the child has started, or its start failed (the entry is then gone). */
  starting?: Promise<void>;
}

/**
 * Throws the refusal for a release that may not join the line `live` (the entry in progress first): an emergency
 * rollback in progress, a release in progress when the caller did not ask to queue, or a full queue (`queueLimit`,
 * when the coordinator bounds its queue). The refusal names the blocking workflow, so a client can tell "in progress"
 * from "just finished".
 */
export function refuseToLineUp(
  service: string,
  live: Entry[],
  options: { queue: boolean; queueLimit: number | undefined },
): void {
  const [active] = live;
  if (active && active.kind === 'rollback') {
    throw ApplicationFailure.create({
      type: 'ServiceBusy' satisfies WorkflowFailureType,
      message: `an emergency rollback of ${service} (${active.id}, by ${active.requestedBy}) is in progress; start the release after it`,
      details: [active.workflowId],
    });
  }
  if (active && !options.queue) {
    throw ApplicationFailure.create({
      type: 'ServiceBusy' satisfies WorkflowFailureType,
      message: `release ${active.id} of ${service} is in progress (requested by ${active.requestedBy}); wait for it to finish, or start with queue: true`,
      details: [active.workflowId],
    });
  }
  const queued = live.length - 1;
  if (options.queueLimit !== undefined && queued >= options.queueLimit) {
    throw ApplicationFailure.create({
      type: 'QueueFull' satisfies WorkflowFailureType,
      message: `${service} already has ${queued} release${queued === 1 ? '' : 's'} queued behind ${active?.id ?? 'the one in progress'}, the most a service queues (${options.queueLimit}); start this one once some have finished`,
    });
  }
}
