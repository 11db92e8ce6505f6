// Errors with a stable code, raised below the API and translated by it into plain words and HTTP statuses.

export type EngineErrorCode =
  | 'RELEASE_ID_CONFLICT'
  | 'RELEASE_IN_PROGRESS'
  | 'QUEUE_FULL'
  | 'RELEASE_NOT_FOUND'
  | 'RELEASE_FINISHED'
  | 'ROLLBACK_NOT_FOUND'
  | 'ROLLBACK_REFUSED'
  | 'GATE_NOT_FOUND'
  | 'GATE_NOT_WAITING'
  | 'DECISION_FORBIDDEN'
  | 'DUPLICATE_DECISION'
  /** A waiver without the reason it needs. */
  | 'REASON_REQUIRED'
  /** A check report for a check the release is not waiting for (issue 16). */
  | 'CHECK_NOT_WAITING'
  /** A check report from a principal the check does not name among its reporters. */
  | 'CHECK_REPORT_FORBIDDEN'
  /** Post-incident records: an unknown incident or action item, or a change its state does not allow. */
  | 'INCIDENT_NOT_FOUND'
  | 'INCIDENT_CLOSED'
  | 'INCIDENT_OPEN_ACTIONS'
  | 'ACTION_ITEM_NOT_FOUND'
  | 'ACTION_ITEM_CLOSED'
  | 'ACTION_ITEM_EXISTS'
  | 'UNKNOWN_SERVICE'
  | 'UNKNOWN_ARTIFACT'
  | 'TEMPORAL_UNAVAILABLE'
  | 'WORKER_UNAVAILABLE';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}
