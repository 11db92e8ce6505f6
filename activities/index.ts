// Activity factories, built by the worker with real providers and by tests with others.
export { createRegionActivities, type RegionActivities, type RegionActivityDeps } from './region-activities';
export { createReleaseActivities, type ReleaseActivities, type ReleaseActivityDeps } from './release-activities';
