// Why a release, or one of its steps, failed: the `type` of every ApplicationFailure the engine's workflows and
// activities raise, in one union (as EngineErrorCode is for the API). The release's own failure carries the type of
// the innermost cause, so pipelines and the API can tell a failed canary from a rejected approval.

/** Failures a release workflow or a region rollout raises. */
export type WorkflowFailureType =
  | 'CanaryFailed'
  | 'AnalysisRejected'
  | 'SmokeTestFailed'
  | 'ApprovalRejected'
  | 'ApprovalTimedOut'
  | 'ConfigDrift'
  | 'PromotionBlocked'
  | 'Frozen'
  | 'MigrationsWithoutDatabase'
  | 'PlanInvalid'
  /** The artifact's attestations fail the environment's evidence policy, and nobody waived it (issue 16). */
  | 'EvidenceFailed'
  /** An external check failed, was refused, or did not answer in time and nobody let the release go on (issue 16). */
  | 'CheckFailed'
  /** A check report for a check the release is not waiting for, or from a principal the check does not name. */
  | 'CheckNotWaiting'
  | 'NotAReporter'
  | 'ServiceBusy'
  /** The service's queue of releases is full (QUEUE_LIMIT in the coordinator). */
  | 'QueueFull'
  /** A promoted region breached its SLO while watched (between waves or in the watch window). */
  | 'WatchBreached'
  /** Monitoring's alert (the Alertmanager webhook) arrived while the release was in its watch window. */
  | 'AlertFired'
  /** An alert for a release that is not in its watch window (refused; the API records it instead). */
  | 'NotWatching'
  /** A message that acts for a person without the API's valid signature; or a workflow started outside the engine. */
  | 'Unauthorized'
  /** The release as a whole, by cause: aborted by a person, cancelled, or failed for another reason. */
  | 'ReleaseAborted'
  | 'ReleaseCancelled'
  | 'ReleaseFailed';

/** Why an artifact may not be released; retrying cannot fix any of these. */
export type ArtifactProblem =
  'ArtifactNotFound' | 'ArtifactTampered' | 'ArtifactUnsigned' | 'ArtifactSignatureInvalid' | 'ArtifactUntrustedKey';

/** Failures an activity raises when a provider refuses or fails. */
export type ActivityFailureType =
  | ArtifactProblem
  | 'ArtifactConflict'
  | 'FleetUnavailable'
  | 'FleetRejected'
  | 'MigrationFailed'
  | 'MigrationChecksumMismatch'
  | 'MigrationIrreversible'
  | 'NotificationFailed'
  | 'CheckRefused'
  | 'CheckUnreachable';

export type FailureType = WorkflowFailureType | ActivityFailureType;
