// Translates engine and Temporal errors into TRPCErrors with plain-words messages; never leaks internals.
import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { TRPCError } from '@trpc/server';
import { EngineError, type EngineErrorCode } from '../domain/errors';

const statusOf: Record<EngineErrorCode, TRPCError['code']> = {
  RELEASE_ID_CONFLICT: 'CONFLICT',
  RELEASE_IN_PROGRESS: 'CONFLICT',
  QUEUE_FULL: 'TOO_MANY_REQUESTS',
  RELEASE_NOT_FOUND: 'NOT_FOUND',
  RELEASE_FINISHED: 'CONFLICT',
  ROLLBACK_NOT_FOUND: 'NOT_FOUND',
  ROLLBACK_REFUSED: 'CONFLICT',
  GATE_NOT_FOUND: 'NOT_FOUND',
  GATE_NOT_WAITING: 'CONFLICT',
  DECISION_FORBIDDEN: 'FORBIDDEN',
  DUPLICATE_DECISION: 'CONFLICT',
  REASON_REQUIRED: 'BAD_REQUEST',
  CHECK_NOT_WAITING: 'CONFLICT',
  CHECK_REPORT_FORBIDDEN: 'FORBIDDEN',
  INCIDENT_NOT_FOUND: 'NOT_FOUND',
  INCIDENT_CLOSED: 'CONFLICT',
  INCIDENT_OPEN_ACTIONS: 'CONFLICT',
  ACTION_ITEM_NOT_FOUND: 'NOT_FOUND',
  ACTION_ITEM_CLOSED: 'CONFLICT',
  ACTION_ITEM_EXISTS: 'CONFLICT',
  UNKNOWN_SERVICE: 'BAD_REQUEST',
  UNKNOWN_ARTIFACT: 'BAD_REQUEST',
  TEMPORAL_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  WORKER_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

// gRPC status codes that mean "Temporal cannot be reached right now".
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;
const RESOURCE_EXHAUSTED = 8;

export function toTRPCError(err: unknown): TRPCError {
  if (err instanceof TRPCError) return err;
  if (err instanceof EngineError) return new TRPCError({ code: statusOf[err.code], message: err.message, cause: err });
  const grpc = err instanceof ServiceError ? err.cause : err;
  const grpcCode: number | undefined = isGrpcServiceError(grpc) ? grpc.code : undefined;
  if (grpcCode === RESOURCE_EXHAUSTED) {
    return new TRPCError({
      code: 'SERVICE_UNAVAILABLE',
      message: 'the Temporal server is holding back requests right now (a rate limit); try again shortly',
      cause: err,
    });
  }
  if (grpcCode === UNAVAILABLE || grpcCode === DEADLINE_EXCEEDED) {
    return new TRPCError({
      code: 'SERVICE_UNAVAILABLE',
      message: 'the Temporal server cannot be reached right now; nothing was changed, try again shortly',
      cause: err,
    });
  }
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'internal error; see the API log', cause: err });
}

/** Runs `fn`, translating whatever it throws. */
export async function translated<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toTRPCError(err);
  }
}
