// Release trains from the API's side: start one (its request and every member's, signed by the API's key), read it,
// decide on its approval, abort it.
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { Gate, RefusalCode } from '../../domain/approval';
import { EngineError } from '../../domain/errors';
import type { TrainStatus } from '../../domain/train';
import { trainWorkflowId } from '../../domain/workflow-ids';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import {
  abortUpdate,
  approveUpdate,
  rejectUpdate,
  trainStatusQuery,
  type DecisionInput,
  type TrainInput,
} from '../messages';
import { ReleaseStage, ReleaseTrain } from '../search-attributes';
import type { trainWorkflow } from '../train';
import { RELEASE_TASK_QUEUE } from './starts';
import { REFUSAL_CODES } from './decisions';
import { needingWorker, refusalOf, WRITE_DEADLINE_MS } from './worker-calls';

/** Starts train/<trainId>; the same train id again returns the train that exists (if it brings the same members). */
export async function startTrain(
  client: Client,
  input: TrainInput,
  options: { signer: DecisionSigner; taskQueue?: string },
): Promise<{ workflowId: string; alreadyStarted: boolean }> {
  const workflowId = trainWorkflowId(input.plan.trainId);
  const signed = options.signer.sign(workflowId, 'train', input);
  try {
    await client.workflow.start<typeof trainWorkflow>('trainWorkflow', {
      workflowId,
      taskQueue: options.taskQueue ?? RELEASE_TASK_QUEUE,
      // A train id names one train for good: its members' release ids and its audit records derive from it.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      args: [signed],
      staticSummary: `Release train ${input.plan.trainId}: ${input.plan.members.map((m) => `${m.service}@${m.version}`).join(', ')}`,
      typedSearchAttributes: [
        { key: ReleaseTrain, value: input.plan.trainId },
        { key: ReleaseStage, value: 'releasing' },
      ],
    });
    return { workflowId, alreadyStarted: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const existing = await trainStatus(client, input.plan.trainId).catch(() => undefined);
    const same =
      existing &&
      existing.lockstep === input.plan.lockstep &&
      existing.onFailure === input.plan.onFailure &&
      existing.changeClass === input.plan.changeClass &&
      existing.members.length === input.plan.members.length &&
      existing.members.every((m) => input.plan.members.some((n) => n.service === m.service && n.version === m.version));
    if (!same) {
      throw new EngineError(
        'RELEASE_ID_CONFLICT',
        `train ${input.plan.trainId} already exists with other members or settings; use a new train id`,
      );
    }
    return { workflowId, alreadyStarted: true };
  }
}

/** The train's status, or TRAIN_NOT_FOUND. */
export async function trainStatus(client: Client, trainId: string): Promise<TrainStatus> {
  try {
    return await client.workflow.getHandle(trainWorkflowId(trainId)).query(trainStatusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new EngineError('RELEASE_NOT_FOUND', `there is no train ${trainId}`);
    }
    throw err;
  }
}

/** Trains from Temporal visibility, newest first. */
export async function listTrains(
  client: Client,
  filter: { limit: number; running?: boolean },
): Promise<{ trainId: string; stage: string; startedAt: string; closedAt?: string }[]> {
  const query = [`WorkflowType = "trainWorkflow"`, ...(filter.running ? [`ExecutionStatus = "Running"`] : [])].join(
    ' AND ',
  );
  const trains: { trainId: string; stage: string; startedAt: string; closedAt?: string }[] = [];
  for await (const execution of client.workflow.list({ query, pageSize: filter.limit })) {
    trains.push({
      trainId: execution.workflowId.replace(/^train\//, ''),
      stage: String(execution.typedSearchAttributes.get(ReleaseStage) ?? execution.status.name.toLowerCase()),
      startedAt: execution.startTime.toISOString(),
      ...(execution.closeTime ? { closedAt: execution.closeTime.toISOString() } : {}),
    });
    if (trains.length >= filter.limit) break;
  }
  return trains;
}

/** Why a message found no running train: it ended (RELEASE_FINISHED, with how), or there is none. */
async function noRunningTrain(client: Client, trainId: string): Promise<EngineError> {
  try {
    const described = await client.workflow.getHandle(trainWorkflowId(trainId)).describe();
    const stage = described.typedSearchAttributes.get(ReleaseStage) ?? described.status.name.toLowerCase();
    return new EngineError('RELEASE_FINISHED', `train ${trainId} has already ended (${stage})`);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      return new EngineError('RELEASE_NOT_FOUND', `there is no train ${trainId}`);
    throw err;
  }
}

/** Approves or rejects the train's approval as `input.principal`. */
export async function decideTrain(
  client: Client,
  trainId: string,
  decision: 'approve' | 'reject',
  input: Omit<DecisionInput, 'authorization'>,
  signer: DecisionSigner,
): Promise<Gate> {
  const handle = client.workflow.getHandle(trainWorkflowId(trainId));
  const signed = signer.sign(handle.workflowId, decision, input);
  try {
    return await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      (why) => `${why}: the ${decision} of train ${trainId} was not confirmed; check the train (train.get)`,
      () => handle.executeUpdate(decision === 'approve' ? approveUpdate : rejectUpdate, { args: [signed] }),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw await noRunningTrain(client, trainId);
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err);
      throw new EngineError(REFUSAL_CODES[refusal.type as RefusalCode] ?? 'GATE_NOT_WAITING', refusal.message);
    }
    throw err;
  }
}

/** Tells the train it is aborted (no member starts after this); the API aborts the members in flight itself. */
export async function abortTrain(
  client: Client,
  trainId: string,
  fields: { by: string; reason: string },
  signer: DecisionSigner,
): Promise<void> {
  const handle = client.workflow.getHandle(trainWorkflowId(trainId));
  try {
    await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      (why) => `${why}: the abort of train ${trainId} was not confirmed; check the train (train.get)`,
      () => handle.executeUpdate(abortUpdate, { args: [signer.sign(handle.workflowId, 'abort', fields)] }),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw await noRunningTrain(client, trainId);
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err);
      throw new EngineError(
        refusal.type === 'Unauthorized' ? 'DECISION_FORBIDDEN' : 'RELEASE_FINISHED',
        refusal.message,
      );
    }
    throw err;
  }
}
