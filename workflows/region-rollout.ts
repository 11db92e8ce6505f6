// The rollout of one release in one region, as a child workflow on the region's task queue: deploy the canary,
// then per step shift traffic, bake on a durable timer and analyse; promote, smoke-test. If anything fails, or the
// rollout is cancelled (abort, a failing sibling, its release terminated), the region goes back to the version it
// ran before, so no region is left half-rolled-out whatever happens to its parent.
import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  TemporalFailure,
  workflowInfo,
} from '@temporalio/workflow';
import { SIGNED_MESSAGES_PATCH, SignedMessages } from './authorization';
import { releaseFailure } from './failures';
import type { RegionActivities } from '../activities';
import type { MetricsSnapshot } from '../providers/metrics/metrics-source';
import {
  regionDecisionSignal,
  regionEventSignal,
  regionEventsSignal,
  regionPauseSignal,
  type RegionEvent,
  type RegionRolloutInput,
  type RegionRolloutResult,
  type ControlInput,
  type DecisionInput,
} from './messages';
import { fleetStep, quickStep, compensationStep } from './profiles';
import type { SequentialCanaryPlan } from '../domain/plan';
import { innermostMessage } from './saga';

const quick = proxyActivities<RegionActivities>(quickStep);
const fleet = proxyActivities<RegionActivities>(fleetStep);
const compensation = proxyActivities<RegionActivities>(compensationStep);

/** The sequential judge looks during the bake (one activity per step) instead of one analysis after a timer. */
export const SEQUENTIAL_CANARY_PATCH = 'sequential-canary';

/**
 * Lean reports: the rollout sends what it has to report in one signal only when it is about to wait (a bake, a
 * decision, a pause) or fails, and hands the rest over with its result; a zero-second bake starts no timer. Each
 * report sent alone cost the release a signal event and a workflow task, and the rollout two events.
 */
export const LEAN_REPORTS_PATCH = 'lean-region-reports';
/** A fleet step's output (the exec driver's command log) goes with the region's report to the release. */
const STEP_OUTPUT_PATCH = 'fleet-step-output';

/**
 * The output a fleet step returned, for a report. Only a step that said something has an output, and only rollouts
 * that were started with this code ever get one (the patch marks the history where the first one is reported).
 */
function said(result: { output?: string } | void | undefined): { output?: string } {
  return result?.output && patched(STEP_OUTPUT_PATCH) ? { output: result.output } : {};
}

/** Traffic shifts run as fleet steps (10 min, heartbeats), not quick reads. */
const TRAFFIC_AS_FLEET_STEP_PATCH = 'traffic-as-fleet-step';

/** The judging activity of one step: it lasts the warm-up and the bake, extended up to maxBakeFactor, and heartbeats. */
function judging(bakeSeconds: number, plan: SequentialCanaryPlan) {
  const longest = plan.warmupSeconds + Math.max(bakeSeconds * plan.maxBakeFactor, plan.lookSeconds);
  return proxyActivities<RegionActivities>({
    ...fleetStep,
    startToCloseTimeout: `${Math.ceil(longest) + 120}s`,
    heartbeatTimeout: '10s',
  });
}

export async function regionRolloutWorkflow(input: RegionRolloutInput): Promise<RegionRolloutResult> {
  // Only a release starts a region's rollout: one started any other way (directly on Temporal) deploys nothing.
  const signed = patched(SIGNED_MESSAGES_PATCH);
  if (signed) refuseUnlessChildOfRelease(input);
  // Region rollouts started before the sequential judge carry no plan for it and replay as they ran.
  const sequential = input.sequential && patched(SEQUENTIAL_CANARY_PATCH) ? input.sequential : undefined;
  const lean = patched(LEAN_REPORTS_PATCH);
  const { service, region, version, releaseId } = input;
  let paused = input.paused;
  const decisions = new Map<number, { proceed: boolean; by: string }>();
  const messages = new SignedMessages();
  setHandler(regionPauseSignal, ({ paused: value, resume }) => {
    // Holding is always safe; going on after a pause needs the person's signed resume when the release forwards one.
    const refusal = signed && input.resumesSigned && !value ? resumeRefusal(resume) : undefined;
    if (refusal) {
      log.warn('ignored a resume that carries no valid signed resume', { region, refusal });
      return;
    }
    paused = value;
  });
  function resumeRefusal(resume: ControlInput | undefined): string | undefined {
    const issued = Date.parse(resume?.authorization?.issuedAt ?? '');
    return messages.verdict('resume', resume, input.releaseWorkflowId, Number.isFinite(issued) ? issued : undefined);
  }
  setHandler(regionDecisionSignal, ({ step, proceed, by, approval }) => {
    // Going on after an inconclusive analysis needs the approver's signed decision, which the release forwards.
    const refusal = signed && proceed ? approvalRefusal(step, approval) : undefined;
    if (refusal) {
      log.warn('ignored a decision to go on that carries no valid signed approval', { region, step, refusal });
      return;
    }
    decisions.set(step, { proceed, by });
  });
  function approvalRefusal(step: number, approval: DecisionInput | undefined): string | undefined {
    if (approval?.gate !== `analysis-${region}-step-${step + 1}`) return 'it names another gate';
    const issued = Date.parse(approval.authorization?.issuedAt ?? '');
    return messages.verdict('approve', approval, input.releaseWorkflowId, Number.isFinite(issued) ? issued : undefined);
  }

  const release = getExternalWorkflowHandle(input.releaseWorkflowId);
  const reports: Promise<void>[] = [];
  // Reports go out without waiting for their delivery, which saves a workflow task per report; they are all awaited
  // before the rollout ends. Two reports sent apart may be heard in either order, so each one carries all the
  // release needs to act on it (a decision request carries its verdict).
  const sending = (what: string, signal: Promise<void>) => {
    reports.push(
      signal.catch((err: unknown) => {
        // The release may be gone (terminated); the region's own safety does not depend on it hearing us.
        log.warn('could not report to the release', { region, event: what, error: innermostMessage(err) });
      }),
    );
  };
  const unsent: RegionEvent[] = [];
  const report = (event: RegionEvent) => {
    if (lean) unsent.push(event);
    else sending(event.kind, release.signal(regionEventSignal, event));
  };
  /** Sends the reports not sent yet, in one signal: before the rollout waits for a while, and before it fails. */
  const flush = () => {
    if (unsent.length === 0) return;
    const batch = unsent.splice(0);
    sending(batch.map((e) => e.kind).join(', '), release.signal(regionEventsSignal, batch));
  };
  // A condition that already holds adds nothing to history, so this pause point is replay-safe.
  const holdWhilePaused = async () => {
    if (paused) flush();
    await condition(() => !paused);
  };
  const delivered = () => CancellationScope.nonCancellable(() => Promise.all(reports));
  const ref = { service, region };
  const step = { ...ref, version, releaseId };
  const verdicts: RegionRolloutResult['verdicts'] = [];
  // The fixed-window judge: a durable timer for the bake, then one analysis of the whole window.
  const bakeThenAnalyse = async (bakeSeconds: number, percent: number, since: MetricsSnapshot) => {
    if (!lean || bakeSeconds > 0) {
      await sleep(bakeSeconds * 1000, { summary: `${region}: bake ${version} at ${percent}% for ${bakeSeconds}s` });
    }
    return quick.analyzeCanary.executeWithOptions(
      { summary: `${region}: analyse ${version} at ${percent}% against ${input.previousVersion ?? 'no baseline'}` },
      [{ ...ref, canaryVersion: version, baselineVersion: input.previousVersion, since, policy: input.analysis }],
    );
  };

  try {
    await holdWhilePaused();
    const deployed = await fleet.deployCanary.executeWithOptions(
      { summary: `${region}: start ${service}@${version} at 0% traffic` },
      [{ ...step, digest: input.digest }],
    );
    report({ region, kind: 'deployed', ...said(deployed) });

    for (const [index, { percent, bakeSeconds }] of input.steps.entries()) {
      await holdWhilePaused();
      // A traffic shift is a fleet change like a deploy (the exec driver runs a team's command for it): the fleet
      // step's budget and heartbeats, not the 30 s of a quick read.
      const shifter = patched(TRAFFIC_AS_FLEET_STEP_PATCH) ? fleet : quick;
      const { output, ...since } = await shifter.shiftTraffic.executeWithOptions(
        { summary: `${region}: ${percent}% of traffic to ${version}` },
        [{ ...step, percent }],
      );
      report({ region, kind: 'traffic', step: index, percent, ...said({ output }) });
      if (bakeSeconds > 0) flush();
      // The bake keeps counting while the release is paused: a pause holds the next step, not the observation.
      const verdict = sequential
        ? await judging(bakeSeconds, sequential).judgeBake.executeWithOptions(
            {
              summary: `${region}: judge ${version} at ${percent}% against ${input.previousVersion ?? 'no baseline'} while it bakes ${bakeSeconds}s (fails as soon as shown)`,
            },
            [
              {
                ...ref,
                canaryVersion: version,
                baselineVersion: input.previousVersion,
                shiftedAt: since,
                percent,
                bakeSeconds,
                plan: sequential,
              },
            ],
          )
        : await bakeThenAnalyse(bakeSeconds, percent, since);
      verdicts.push({ ...verdict, step: index, percent });
      report({ region, kind: 'verdict', step: index, percent, verdict });
      if (verdict.verdict === 'fail') {
        throw releaseFailure(
          'CanaryFailed',
          `canary of ${version} failed in ${region} at ${percent}%: ${verdict.reasons.join('; ')}`,
          [verdict],
        );
      }
      if (verdict.verdict === 'inconclusive') {
        report({ region, kind: 'needs-decision', step: index, percent, verdict });
        flush();
        await condition(() => decisions.has(index));
        const decision = decisions.get(index);
        if (!decision?.proceed) {
          throw releaseFailure(
            'AnalysisRejected',
            `canary analysis of ${version} in ${region} at ${percent}% was inconclusive (${verdict.reasons.join('; ')}) and ${decision?.by ?? 'nobody'} chose to roll back`,
          );
        }
      }
    }

    await holdWhilePaused();
    const promoted = await fleet.promoteRegion.executeWithOptions(
      { summary: `${region}: promote ${version} to 100%` },
      [step],
    );
    report({ region, kind: 'promoted', ...said(promoted) });
    const smoke = await fleet.smokeTest.executeWithOptions(
      { summary: `${region}: smoke test ${input.smokeTest.requests} x GET ${input.smokeTest.path}` },
      [{ ...ref, ...input.smokeTest }],
    );
    report({ region, kind: 'smoke-test', ...smoke });
    if (!smoke.passed) {
      throw releaseFailure(
        'SmokeTestFailed',
        `smoke test of ${version} failed in ${region}: ${smoke.failures} of ${smoke.requests} requests failed`,
      );
    }
    await delivered();
    return { verdicts, smokeTest: smoke, ...(lean ? { reports: unsent.splice(0) } : {}) };
  } catch (err) {
    // A bug (not a Temporal failure) fails the workflow task and waits for a fix; it does not revert the region.
    if (!(err instanceof TemporalFailure)) throw err;
    const previous = input.previousVersion;
    if (previous) {
      await CancellationScope.nonCancellable(async () => {
        const reverted = await compensation.revertRegion.executeWithOptions(
          { summary: `${region}: back to ${previous}` },
          [{ ...step, version: previous }],
        );
        report({ region, kind: 'reverted', to: previous, reason: innermostMessage(err), ...said(reverted) });
      });
    }
    // Not from a cancelled scope: a signal sent from one never leaves.
    await CancellationScope.nonCancellable(() => {
      flush();
      return Promise.all(reports);
    });
    throw err;
  }
}

/** Fails the rollout, before it touches the region, unless the release named in its input started it. */
function refuseUnlessChildOfRelease(input: RegionRolloutInput): void {
  const parent = workflowInfo().parent?.workflowId;
  if (!parent || parent !== input.releaseWorkflowId || !parent.startsWith('release/')) {
    throw releaseFailure(
      'Unauthorized',
      `refused to act: a region's rollout runs only as part of its release (this one was ${parent ? `started by ${parent}` : 'started directly'}, not by ${input.releaseWorkflowId}); nothing was deployed`,
    );
  }
}
