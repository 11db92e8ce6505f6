// A train's state as it runs: its status (what the trainStatus query answers), its timeline, its audit records, and
// the messages it accepted. One module per concern around it: handlers, gate (its approval), members, undo.
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Gate } from '../../domain/approval';
import type { AuditEvent } from '../../domain/audit';
import type { TrainOutcome, TrainStatus, TrainStepStatus } from '../../domain/train';
import { releaseWorkflowId } from '../../domain/workflow-ids';
import { AuditBatch } from '../audit-batch';
import { SignedMessages } from '../authorization';
import { now } from '../journal';
import type { TrainInput } from '../messages';
import { ReleaseStage } from '../search-attributes';

/** Id of the train's one approval gate. */
export const TRAIN_GATE_ID = 'train-approval';

/** Why a train stops: its outcome and the reason, in words. */
export interface TrainFailure {
  result: TrainOutcome;
  reason: string;
}

export class TrainRun {
  readonly plan: TrainInput['plan'];
  readonly status: TrainStatus;
  readonly messages = new SignedMessages();
  private readonly audits = new AuditBatch(workflowInfo().workflowId);

  constructor(readonly input: TrainInput) {
    const { plan } = input;
    this.plan = plan;
    this.status = {
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
  }

  /** Appends to the train's timeline. */
  note(message: string, service?: string): void {
    this.status.timeline.push({ at: now(), message, ...(service ? { service } : {}) });
  }

  /** An audit event on the trail of each service it concerns (the train's own events: every member's). */
  record(action: string, fields: Partial<AuditEvent> & { services?: string[] } = {}): void {
    const { services, ...rest } = fields;
    for (const service of services ?? this.plan.members.map((m) => m.service)) {
      this.audits.add({
        at: now(),
        actor: 'engine',
        action,
        service,
        releaseId: this.plan.trainId,
        ...rest,
        details: { train: this.plan.trainId, ...(rest.details ?? {}) },
      });
    }
  }

  /** Writes the audit events recorded so far. */
  flush(): Promise<void> {
    return this.audits.flush();
  }

  /** Moves the train to `stage` (the ReleaseStage search attribute follows). */
  enter(stage: TrainStatus['stage']): void {
    this.status.stage = stage;
    upsertSearchAttributes([{ key: ReleaseStage, value: stage }]);
  }

  /** Whether an SRE aborted the train (read through a method: the abort handler sets it while the train waits). */
  aborted(): boolean {
    return this.status.aborted !== undefined;
  }

  abortFailure(): TrainFailure {
    return { result: 'aborted', reason: `aborted by ${this.status.aborted?.by}: ${this.status.aborted?.reason}` };
  }
}
