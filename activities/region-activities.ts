// Region activities: run on the region's task queue (deploy.<region>), i.e. by the agent in that region.
// Each is idempotent: the fleet target works by desired state, so a retry after a worker crash changes nothing.
import { judgeCanary, type AnalysisPolicy, type CanaryVerdict, type MetricCounts } from '../domain/canary';
import { baselineLabel, type FleetTarget, type StepOutput } from '../providers/fleet/fleet-target';
import type { MetricsSnapshot, MetricsSource } from '../providers/metrics/metrics-source';
import { combineCounts, createCanaryJudging } from './canary-judging';
import { createPromotedWatch } from './promoted-watch';
import { translateErrors } from './errors';
import { withHeartbeat } from './heartbeat';

export interface RegionActivityDeps {
  fleet: FleetTarget;
  metrics: MetricsSource;
}

export interface RegionRef {
  service: string;
  region: string;
}

export interface RegionStepInput extends RegionRef {
  version: string;
  releaseId: string;
}

const EMPTY: MetricCounts = { requests: 0, errors: 0, latencyMsSum: 0, latencyBuckets: {} };

export function createRegionActivities({ fleet, metrics }: RegionActivityDeps) {
  return {
    ...createCanaryJudging({ metrics, capabilities: (ref) => fleet.capabilitiesOf?.(ref) ?? fleet.capabilities }),
    ...createPromotedWatch({ metrics }),

    /** What the region runs now. Read before a change, so the workflow knows what to go back to. */
    async inspectRegion(input: RegionRef): Promise<{ stableVersion: string | undefined }> {
      return translateErrors(async () => ({ stableVersion: (await fleet.state(input)).stableVersion }));
    },

    /** Starts the new version's instances at 0% of the traffic. */
    async deployCanary(input: RegionStepInput & { digest: string }): Promise<{ alreadyRunning: boolean } & StepOutput> {
      const { service, region, version, digest, releaseId } = input;
      return withHeartbeat((signal) =>
        translateErrors(async () => {
          const deployed = await fleet.deploy({ service, region, version, digest, requestId: releaseId }, { signal });
          return { alreadyRunning: deployed.alreadyRunning, ...outputOf(deployed) };
        }),
      );
    },

    /** Sends `percent` of the region's traffic to the new version and starts the analysis window there. */
    async shiftTraffic(input: RegionStepInput & { percent: number }): Promise<MetricsSnapshot & StepOutput> {
      const { service, region, version, percent, releaseId } = input;
      // Heartbeats: a team's own traffic command (the exec driver) may take a while.
      return withHeartbeat((signal) =>
        translateErrors(async () => {
          const shifted = await fleet.setTraffic(
            { service, region, version, percent, requestId: releaseId },
            { signal },
          );
          return { ...(await metrics.snapshot({ service, region }, { signal })), ...outputOf(shifted) };
        }),
      );
    },

    /**
     * The fixed-window judge: compares canary and the running baseline over the window since `since`, once, after
     * the bake. Region rollouts started before the sequential judge use it, and so does a plan that chooses it.
     */
    async analyzeCanary(
      input: RegionRef & {
        canaryVersion: string;
        baselineVersion: string | undefined;
        since: MetricsSnapshot;
        policy: AnalysisPolicy;
      },
    ): Promise<CanaryVerdict> {
      return translateErrors(async () => {
        const window = await metrics.window(input, input.since);
        const canary = window[input.canaryVersion] ?? EMPTY;
        // As it always was: the canary against all the traffic the previous version served. A fleet that starts a
        // same-age baseline serves part (from 50%: all) of that traffic from it, so its counts are added in.
        const previous = input.baselineVersion;
        const baseline = previous
          ? combineCounts(window[previous] ?? EMPTY, window[baselineLabel(previous)] ?? EMPTY)
          : EMPTY;
        return judgeCanary(canary, baseline, input.policy);
      });
    },

    /** Moves all traffic to the new version and drains the old one. */
    async promoteRegion(input: RegionStepInput): Promise<StepOutput> {
      const { service, region, version, releaseId } = input;
      const promoted = await withHeartbeat((signal) =>
        translateErrors(() => fleet.promote({ service, region, version, requestId: releaseId }, { signal })),
      );
      return outputOf(promoted);
    },

    /** Sends `requests` requests through the region's entry point; passes with at most `maxFailures` failures. */
    async smokeTest(
      input: RegionRef & { path: string; requests: number; maxFailures: number },
    ): Promise<{ passed: boolean; failures: number; requests: number }> {
      return withHeartbeat(async (signal) => {
        const { url } = await translateErrors(() => fleet.state(input, { signal }));
        let failures = 0;
        for (let i = 0; i < input.requests; i++) {
          try {
            const res = await fetch(`${url}${input.path}`, {
              signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
            });
            await res.arrayBuffer();
            if (!res.ok) failures += 1;
          } catch {
            if (signal.aborted) throw signal.reason;
            failures += 1;
          }
        }
        return { passed: failures <= input.maxFailures, failures, requests: input.requests };
      });
    },

    /** Puts the region back on `version` (starting it again if needed) and drains every other version. */
    async revertRegion(input: RegionStepInput): Promise<StepOutput> {
      const { service, region, version, releaseId } = input;
      const reverted = await withHeartbeat((signal) =>
        translateErrors(() => fleet.revert({ service, region, version, requestId: releaseId }, { signal })),
      );
      return outputOf(reverted);
    },
  };
}

export type RegionActivities = ReturnType<typeof createRegionActivities>;

/** A fleet step's output (the exec driver's command log), when it said anything. */
function outputOf(result: void | StepOutput): StepOutput {
  return result?.output ? { output: result.output } : {};
}
