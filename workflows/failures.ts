// Failures the workflows raise, typed by the union in domain/failures.ts.
import { ApplicationFailure } from '@temporalio/workflow';
import type { FailureType } from '../domain/failures';

/** A failure retrying cannot fix: the release rolls back (or the caller is told why it was refused). */
export function releaseFailure(type: FailureType, message: string, details?: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, ...(details ? { details } : {}) });
}

/** The failure converter's mark for a message it may leave in clear (workers/failure-converter.cjs). */
const READABLE = Symbol.for('relengine.readable-failure-message');

/**
 * A release's own end, headed by `headline` in clear for the Temporal UI. The headline must be made of the engine's
 * own facts only (outcome, failure type, counts): the reason, which may quote a person or a provider, stays sealed in
 * the status carried as the failure's details.
 */
export function readableReleaseFailure(type: FailureType, headline: string, details: unknown[]): ApplicationFailure {
  return Object.assign(releaseFailure(type, headline, details), { [READABLE]: true });
}
