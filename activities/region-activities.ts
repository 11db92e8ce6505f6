// Region activities: run on the region's task queue (deploy.<region>), i.e. by the agent in that region.
// Each is idempotent: the fleet target works by desired state, so a retry after a worker crash changes nothing.
import type { FleetTarget } from '../providers/fleet/fleet-target';
import { translateErrors } from './errors';
import { withHeartbeat } from './heartbeat';

export interface RegionActivityDeps {
  fleet: FleetTarget;
}

export interface RegionStepInput {
  service: string;
  region: string;
  version: string;
  digest: string;
  releaseId: string;
}

export function createRegionActivities({ fleet }: RegionActivityDeps) {
  return {
    /** What the region runs now. Read before a change, so the workflow knows what to go back to. */
    async inspectRegion(input: { service: string; region: string }): Promise<{ stableVersion: string | undefined }> {
      return translateErrors(async () => {
        const state = await fleet.state(input);
        return { stableVersion: state.stableVersion };
      });
    },

    /** Starts the new version's instances, moves all traffic to them and drains the old ones. */
    async deployRegion(input: RegionStepInput): Promise<{ alreadyRunning: boolean }> {
      const { service, region, version, digest, releaseId } = input;
      return withHeartbeat((signal) =>
        translateErrors(async () => {
          const deployed = await fleet.deploy({ service, region, version, digest, requestId: releaseId }, { signal });
          await fleet.promote({ service, region, version, requestId: releaseId }, { signal });
          return { alreadyRunning: deployed.alreadyRunning };
        }),
      );
    },
  };
}

export type RegionActivities = ReturnType<typeof createRegionActivities>;
