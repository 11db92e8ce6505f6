// Failures the workflows raise, typed by the union in domain/failures.ts.
import { ApplicationFailure } from '@temporalio/workflow';
import type { FailureType } from '../domain/failures';

/** A failure retrying cannot fix: the release rolls back (or the caller is told why it was refused). */
export function releaseFailure(type: FailureType, message: string, details?: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, ...(details ? { details } : {}) });
}
