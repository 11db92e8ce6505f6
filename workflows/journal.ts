// The journal of a long-running workflow, shared by the release and the emergency rollback: the time as the
// workflow sees it, the timeline people read (status query, API, CLI), and the stage operators filter on in the
// Temporal UI (the ReleaseStage search attribute).
import { log, upsertSearchAttributes } from '@temporalio/workflow';
import type { TimelineEvent } from '../domain/release-status';
import { ReleaseStage } from './search-attributes';

/** Workflow time (deterministic: the time of the current workflow task). */
export function now(): string {
  return new Date().toISOString();
}

/** Appends to a timeline and to the workflow's log. */
export function noteOn(timeline: TimelineEvent[], message: string, region?: string): void {
  timeline.push({ at: now(), message, ...(region ? { region } : {}) });
  log.info(message, region ? { region } : {});
}

/** Publishes a stage as the ReleaseStage search attribute (one command in history: call it on changes only). */
export function publishStage(stage: string): void {
  upsertSearchAttributes([{ key: ReleaseStage, value: stage }]);
}
