// Maps provider errors to Temporal failures: errors retrying cannot fix become non-retryable, with a type the
// workflow and the API can name.
import { ApplicationFailure } from '@temporalio/activity';
import { ArtifactConflictError, ArtifactIntegrityError } from '../providers/artifacts/artifact-store';
import { ArtifactRejectedError } from '../providers/artifacts/verifier';
import { FleetError } from '../providers/fleet/fleet-target';
import type { ActivityFailureType } from '../domain/failures';

/** A failure retrying cannot fix, typed by the union in domain/failures.ts. */
export function nonRetryable(type: ActivityFailureType, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

export function toActivityFailure(err: unknown): unknown {
  if (err instanceof FleetError) {
    return err.retryable
      ? ApplicationFailure.retryable(err.message, 'FleetUnavailable' satisfies ActivityFailureType)
      : nonRetryable('FleetRejected', err.message);
  }
  if (err instanceof ArtifactRejectedError) return nonRetryable(err.problem, err.message);
  if (err instanceof ArtifactIntegrityError) return nonRetryable('ArtifactTampered', err.message);
  if (err instanceof ArtifactConflictError) return nonRetryable('ArtifactConflict', err.message);
  return err;
}

/** Calls `fn`, translating provider errors (see toActivityFailure). */
export async function translateErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure(err);
  }
}
