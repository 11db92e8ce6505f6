// Activity factories, built by the worker with real providers and by tests with others.
import { createRegionActivities, type RegionActivityDeps } from './region-activities';
import { createReleaseActivities, type ReleaseActivityDeps } from './release-activities';

export { createRegionActivities, createReleaseActivities };
export type { RegionActivities } from './region-activities';
export type { ReleaseActivities } from './release-activities';

export type ActivityDeps = ReleaseActivityDeps & RegionActivityDeps;

/** Every activity, for a worker that serves both the release queue and region queues. */
export function createActivities(deps: ActivityDeps) {
  return { ...createReleaseActivities(deps), ...createRegionActivities(deps) };
}
