// Maps provider errors to Temporal failures: errors retrying cannot fix become non-retryable, with a type the
// workflow and the API can name.
import { ApplicationFailure } from '@temporalio/activity';
import { ArtifactConflictError, ArtifactIntegrityError } from '../providers/artifacts/artifact-store';
import { ArtifactRejectedError } from '../providers/artifacts/verifier';
import { FleetError } from '../providers/fleet/fleet-target';

export function toActivityFailure(err: unknown): unknown {
  if (err instanceof FleetError) {
    return err.retryable
      ? ApplicationFailure.retryable(err.message, 'FleetUnavailable')
      : ApplicationFailure.nonRetryable(err.message, 'FleetRejected');
  }
  if (err instanceof ArtifactRejectedError) return ApplicationFailure.nonRetryable(err.message, err.problem);
  if (err instanceof ArtifactIntegrityError) return ApplicationFailure.nonRetryable(err.message, 'ArtifactTampered');
  if (err instanceof ArtifactConflictError) return ApplicationFailure.nonRetryable(err.message, 'ArtifactConflict');
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
