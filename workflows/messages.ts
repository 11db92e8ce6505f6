// Messages of the release workflow. Only definitions live here, so the API imports them without workflow bodies.
import { defineQuery } from '@temporalio/workflow';
import type { ReleasePlan } from '../domain/plan';
import type { ReleaseStatus } from '../domain/release-status';

/** Input of releaseWorkflow. */
export interface ReleaseInput {
  plan: ReleasePlan;
  /** Principal that started the release (from the API token, never from the request body). */
  requestedBy: string;
  reason?: string;
}

/** Full state of the release: stage, per-region progress, timeline, outcome. */
export const statusQuery = defineQuery<ReleaseStatus>('status');
