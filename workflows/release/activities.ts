// The activities the release calls, by profile. Orchestrator activities run on the release task queue; region
// activities run on the region's own task queue, served by the agent in that region.
import { proxyActivities } from '@temporalio/workflow';
import type { RegionActivities, ReleaseActivities } from '../../activities';
import { compensationStep, fleetStep, migrationStep, notifyStep, quickStep } from '../profiles';

export const releaseActivities = proxyActivities<ReleaseActivities>(quickStep);
export const releaseCompensations = proxyActivities<ReleaseActivities>(compensationStep);
export const notifyActivities = proxyActivities<ReleaseActivities>(notifyStep);
export const migrationActivities = proxyActivities<ReleaseActivities>(migrationStep);

/** Region activities bound to the region's task queue, served by the agent in that region. */
export function inRegion(taskQueue: string) {
  return {
    quick: proxyActivities<RegionActivities>({ ...quickStep, taskQueue }),
    fleet: proxyActivities<RegionActivities>({ ...fleetStep, taskQueue }),
    compensation: proxyActivities<RegionActivities>({ ...compensationStep, taskQueue }),
  };
}

export type ReleaseEventKind = Parameters<ReleaseActivities['notifyRelease']>[0]['kind'];
export type MigrationSummary = Awaited<ReturnType<ReleaseActivities['inspectMigrations']>>[number];
