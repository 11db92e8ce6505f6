// Workflow ids and task queue names. Kept apart from names.ts (and free of zod) because workflows import them, and
// every module a workflow imports is loaded again for each workflow the worker holds (workers/bundle.ts).

/** Workflow id of a release: `release/<service>/<releaseId>`. */
export function releaseWorkflowId(service: string, releaseId: string): string {
  return `release/${service}/${releaseId}`;
}

/** Workflow id of a region's rollout within a release. */
export function regionRolloutWorkflowId(service: string, releaseId: string, region: string): string {
  return `region-rollout/${service}/${releaseId}/${region}`;
}

/** Workflow id of a service's coordinator (one release at a time, its queue, emergency rollbacks). */
export function serviceWorkflowId(service: string): string {
  return `service/${service}`;
}

/** Workflow id of an emergency rollback. */
export function rollbackWorkflowId(service: string, rollbackId: string): string {
  return `rollback/${service}/${rollbackId}`;
}

/**
 * Workflow id of the record of one alert: Alertmanager repeats a firing alert (every repeat_interval, and after a
 * failed delivery) with the same fingerprint and startsAt, so a repeat maps to the same id and is recorded once.
 */
export function alertRecordWorkflowId(service: string, fingerprint: string, startsAt: string): string {
  return `alert/${service}/${fingerprint}/${startsAt}`;
}

/**
 * Workflow id of one change to a post-incident record (an action item added or closed, a new owner, the close): the
 * API derives the note id from the request, so a request sent again records once.
 */
export function incidentNoteWorkflowId(service: string, incidentId: string, noteId: string): string {
  return `incident-note/${service}/${incidentId}/${noteId}`;
}

/** Task queue that the region's agent polls for region-local work. */
export function regionTaskQueue(region: string): string {
  return `deploy.${region}`;
}

/** Workflow id of a release train: `train/<trainId>`. */
export function trainWorkflowId(trainId: string): string {
  return `train/${trainId}`;
}
