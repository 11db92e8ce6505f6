// What a train answers and accepts: its status, decisions on its approval (signed, not by its requester or authors),
// and an SRE's abort (signed). Validators check signatures, so a forged message never enters history.
import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import { checkDecision, recordDecision, type DecisionKind, type Gate } from '../../domain/approval';
import { now } from '../journal';
import {
  abortUpdate,
  approveUpdate,
  rejectUpdate,
  trainStatusQuery,
  type ControlInput,
  type DecisionInput,
} from '../messages';
import type { TrainRun } from './run';

export function installHandlers(run: TrainRun): void {
  const { status, input, messages } = run;
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
        run.note(`${request.principal.id} ${verb} the train${request.comment ? `: ${request.comment}` : ''}`);
        run.record(`train.${verb}`, {
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
      run.note(`${request.by} aborted the train: ${status.aborted.reason}`);
      run.record('train.aborted', { actor: request.by, reason: status.aborted.reason });
    },
    {
      validator: (request: ControlInput) => {
        messages.check('abort', request);
        if (status.outcome) {
          throw ApplicationFailure.create({
            type: 'ReleaseFinished',
            message: `train ${run.plan.trainId} has already ended (${status.outcome.result})`,
            nonRetryable: true,
          });
        }
      },
    },
  );
}
