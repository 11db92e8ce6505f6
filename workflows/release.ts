// The release workflow: one durable execution per release of service@version.
// Waves run in order; the regions of a wave in parallel, each through activities on its own task queue.
import {
  ApplicationFailure,
  type ActivityOptions,
  log,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { RegionActivities, ReleaseActivities } from '../activities';
import type { WavePlan } from '../domain/plan';
import type { RegionProgress, ReleaseStage, ReleaseStatus } from '../domain/release-status';
import { statusQuery, type ReleaseInput } from './messages';
import { ReleaseStage as ReleaseStageKey } from './search-attributes';

/** Bookkeeping calls that answer in seconds. */
const quickStep: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 10 },
};

/** Fleet changes: minutes long, heartbeating, so a dead worker is noticed in seconds and the step retried. */
const fleetStep: ActivityOptions = {
  startToCloseTimeout: '10m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
};

const releaseActivities = proxyActivities<ReleaseActivities>(quickStep);

/** Region activities bound to the region's task queue, served by the agent in that region. */
function inRegion(taskQueue: string) {
  return {
    quick: proxyActivities<RegionActivities>({ ...quickStep, taskQueue }),
    fleet: proxyActivities<RegionActivities>({ ...fleetStep, taskQueue }),
  };
}

/** Workflow time (deterministic: the time of the current workflow task). */
function now(): string {
  return new Date().toISOString();
}

export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseStatus> {
  const { plan } = input;
  const status: ReleaseStatus = {
    releaseId: plan.releaseId,
    service: plan.service,
    version: plan.version,
    changeClass: plan.changeClass,
    requestedBy: input.requestedBy,
    ...(input.reason ? { reason: input.reason } : {}),
    stage: 'validating',
    regions: plan.waves.flatMap((wave) =>
      wave.regions.map(({ region }): RegionProgress => ({
        region,
        environment: wave.environment,
        wave: wave.index,
        status: 'pending',
        version: plan.version,
        trafficPercent: 0,
      })),
    ),
    timeline: [],
    startedAt: now(),
  };
  setHandler(statusQuery, () => status);

  const note = (message: string, region?: string) => {
    status.timeline.push({ at: now(), message, ...(region ? { region } : {}) });
    log.info(message, { region });
  };
  const enterStage = (stage: ReleaseStage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: ReleaseStageKey, value: stage }]);
  };
  const regionProgress = (region: string) => {
    const progress = status.regions.find((r) => r.region === region);
    if (!progress) throw ApplicationFailure.nonRetryable(`region ${region} is not in the plan`, 'PlanInvalid');
    return progress;
  };

  note(`release of ${plan.service}@${plan.version} requested by ${input.requestedBy}`);
  try {
    const artifact = await releaseActivities.resolveArtifact.executeWithOptions(
      { summary: `resolve ${plan.service}@${plan.version} in the artifact store` },
      [{ service: plan.service, version: plan.version }],
    );
    status.artifactDigest = artifact.digest;
    note(`artifact ${plan.service}@${plan.version} is ${artifact.digest}`);

    enterStage('deploying');
    for (const wave of plan.waves) {
      note(`wave ${wave.index + 1} of ${plan.waves.length}: ${wave.regions.map((r) => r.region).join(', ')}`);
      await runWave(wave, artifact.digest);
    }
  } catch (err) {
    const reason = err instanceof Error ? describeFailure(err) : String(err);
    enterStage('failed');
    status.outcome = { result: 'failed', reason, finishedAt: now() };
    note(`release failed: ${reason}`);
    throw ApplicationFailure.create({ type: 'ReleaseFailed', message: reason, nonRetryable: true, details: [status] });
  }

  enterStage('succeeded');
  status.outcome = { result: 'succeeded', finishedAt: now() };
  note(`release of ${plan.service}@${plan.version} succeeded in ${status.regions.length} regions`);
  return status;

  async function runWave(wave: WavePlan, digest: string): Promise<void> {
    const results = await Promise.allSettled(
      wave.regions.map(({ region, taskQueue }) => rollOut(region, taskQueue, digest)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async function rollOut(region: string, taskQueue: string, digest: string): Promise<void> {
    const progress = regionProgress(region);
    const activities = inRegion(taskQueue);
    const step = { service: plan.service, region, version: plan.version, digest, releaseId: plan.releaseId };
    try {
      progress.status = 'deploying';
      progress.updatedAt = now();
      const before = await activities.quick.inspectRegion.executeWithOptions(
        { summary: `${region}: read the running version` },
        [{ service: plan.service, region }],
      );
      if (before.stableVersion) progress.previousVersion = before.stableVersion;
      const deployed = await activities.fleet.deployRegion.executeWithOptions(
        { summary: `${region}: deploy ${plan.service}@${plan.version} (was ${before.stableVersion ?? 'nothing'})` },
        [step],
      );
      progress.trafficPercent = 100;
      progress.status = 'baking';
      progress.updatedAt = now();
      note(
        `${region}: ${plan.version} serves 100% of traffic${deployed.alreadyRunning ? ' (it was already running)' : ''}; baking ${plan.bakeSeconds}s`,
        region,
      );
      await sleep(plan.bakeSeconds * 1000, {
        summary: `${region}: bake ${plan.service}@${plan.version} for ${plan.bakeSeconds}s`,
      });
      await releaseActivities.recordRegionVersion.executeWithOptions(
        { summary: `${region}: record ${plan.version} in the version ledger` },
        [{ ...step, recordedAt: now() }],
      );
      progress.status = 'succeeded';
      progress.updatedAt = now();
      note(`${region}: done`, region);
    } catch (err) {
      progress.status = 'failed';
      progress.updatedAt = now();
      note(`${region}: failed: ${err instanceof Error ? describeFailure(err) : String(err)}`, region);
      throw err;
    }
  }
}

/** The innermost message of a failure chain (an ActivityFailure wraps the activity's own error). */
function describeFailure(err: Error): string {
  let current: Error = err;
  while (current.cause instanceof Error) current = current.cause;
  return current.message || err.message;
}
