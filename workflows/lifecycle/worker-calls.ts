// Calls that need the release worker (queries and updates), with Temporal's errors in plain words: a deadline
// instead of Temporal's "no poller seen", and an update's refusal read back from the workflow's failure.
import type { Client } from '@temporalio/client';
import {
  isGrpcServiceError,
  ServiceError,
  type WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { EngineError } from '../../domain/errors';

// Queries and updates need the worker: while none polls, Temporal holds them until "no poller seen" (about 30 s).
// Callers hear sooner, in words: reads after READ_DEADLINE_MS, writes (updates) after WRITE_DEADLINE_MS.
const READ_DEADLINE_MS = 3_500;
export const WRITE_DEADLINE_MS = 15_000;
const GRPC_CANCELLED = 1;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_FAILED_PRECONDITION = 9;

export const NOT_POLLING = 'the release worker is not polling (it may be restarting)';
export const COULD_NOT_ANSWER = 'the release worker could not answer (it may be shutting down or restarting)';
export const TRY_LATER = 'cannot be read now; try again shortly';
const BUSY = 'the engine is busy (Temporal is holding back requests to this workflow)';
const slow = (ms: number) =>
  `the release worker did not answer within ${ms / 1000}s (it is busy, or not polling: it may be restarting)`;

/** Why a call that needs the worker got no answer, or undefined when the error says something else. */
function unanswered(err: unknown): 'away' | 'busy' | 'slow' | undefined {
  // Update calls report their deadline as this error rather than a gRPC status.
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return 'slow';
  const grpc = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(grpc)) return undefined;
  const code: number = grpc.code;
  if (code === GRPC_FAILED_PRECONDITION && /no poller seen/i.test(grpc.details ?? grpc.message)) return 'away';
  // Too many updates in flight on one workflow, or a rate limit: nothing was decided, asking again is safe.
  if (code === GRPC_RESOURCE_EXHAUSTED) return 'busy';
  if (code === GRPC_DEADLINE_EXCEEDED || code === GRPC_CANCELLED) return 'slow';
  return undefined;
}

/**
 * Runs a query or an update with a deadline. When it gets no answer and Temporal itself still answers, the caller
 * hears why and what to do in one sentence, `then(why)`, as a WORKER_UNAVAILABLE EngineError (a 503); when Temporal
 * does not answer either, a TEMPORAL_UNAVAILABLE one.
 */
export async function needingWorker<T>(
  client: Client,
  deadlineMs: number,
  then: (why: string) => string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await client.connection.withDeadline(Date.now() + deadlineMs, fn);
  } catch (err) {
    const cause = unanswered(err);
    if (!cause) throw err;
    if (cause === 'busy') throw new EngineError('WORKER_UNAVAILABLE', then(BUSY));
    const temporalAnswers = await client.connection
      .withDeadline(Date.now() + 1000, () => client.workflowService.getSystemInfo({}))
      .then(
        () => true,
        () => false,
      );
    if (temporalAnswers)
      throw new EngineError('WORKER_UNAVAILABLE', then(cause === 'away' ? NOT_POLLING : slow(deadlineMs)));
    throw new EngineError(
      'TEMPORAL_UNAVAILABLE',
      'the Temporal server cannot be reached right now; nothing was changed, try again shortly',
    );
  }
}

/** A query with the read deadline; `what` names what is being read, for the message. */
export function read<T>(client: Client, what: string, query: () => Promise<T>): Promise<T> {
  return needingWorker(client, READ_DEADLINE_MS, (why) => `${why}, so ${what} ${TRY_LATER}`, query);
}

/** What the workflow refused an update with: its failure type, message, and the workflow in the way (if any). */
export function refusalOf(err: WorkflowUpdateFailedError): {
  type: string | undefined;
  message: string;
  blockedBy?: string;
} {
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return { type: undefined, message: cause?.message ?? err.message };
  const [blockedBy] = cause.details ?? [];
  return {
    type: cause.type ?? undefined,
    message: cause.message,
    ...(typeof blockedBy === 'string' ? { blockedBy } : {}),
  };
}
