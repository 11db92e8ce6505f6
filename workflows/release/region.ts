// One region's run within a release: its rollout child on the region's task queue, the human decisions it asks
// for, the reports it sends, and the stall watch that flags a region whose agent has gone quiet.
import { CancellationScope, type ChildWorkflowHandle, condition, log, patched, startChild } from '@temporalio/workflow';
import { regionRolloutWorkflowId } from '../../domain/workflow-ids';
import type { WavePlan } from '../../domain/plan';
import type { RegionProgress } from '../../domain/release-status';
import { regionDecisionSignal, type RegionEvent } from '../messages';
import { regionRolloutWorkflow } from '../region-rollout';
import { ReleaseRegions, ReleaseService, ReleaseVersion } from '../search-attributes';
import { now } from '../journal';
import { releaseActivities } from './activities';
import { askForDecision } from './gates';
import { regionEventEffects } from './region-events';
import type { ReleaseRun } from './run-state';

/** Region rollouts carry the release's service and version and their region as search attributes. */
const REGION_SEARCH_ATTRIBUTES_PATCH = 'region-search-attributes';

/** Applies a region's report to the release (see regionEventEffects). */
export function onRegionEvent(run: ReleaseRun, event: RegionEvent): void {
  const progress = run.status.regions.find((r) => r.region === event.region);
  if (!progress) {
    // Throwing here would fail the release; a stray report is only logged.
    log.warn('report from a region not in the plan', { region: event.region });
    return;
  }
  run.heardFrom.set(event.region, (run.heardFrom.get(event.region) ?? 0) + 1);
  clearStall(run, event.region);
  const effects = regionEventEffects(event, progress, run.plan.version);
  run.touch(progress, effects.change);
  if (effects.note) run.note(effects.note, event.region);
  if (effects.audit) run.audit(effects.audit.action, effects.audit.fields);
  if (effects.notify) run.record.notify(effects.notify.kind, effects.notify.extra);
  if (effects.decision) run.pendingDecisions.push(effects.decision);
}

/** Rolls the release out in one region (a child workflow), then records the region's new version in the ledger. */
export async function rollOut(
  run: ReleaseRun,
  region: string,
  taskQueue: string,
  wave: WavePlan,
  digest: string,
  /** The wave watches its regions for silence (watchQuietRegions); without it, each region has its own timer. */
  waveWatch = false,
): Promise<void> {
  const { plan, status } = run;
  const progress = run.regionOf(region);
  const workflowId = regionRolloutWorkflowId(plan.service, plan.releaseId, region);
  run.touch(progress, { status: 'deploying', workflowId });
  const child = await startChild(regionRolloutWorkflow, {
    workflowId,
    taskQueue,
    args: [
      {
        releaseWorkflowId: run.workflowId,
        releaseId: plan.releaseId,
        service: plan.service,
        region,
        version: plan.version,
        digest,
        previousVersion: progress.previousVersion,
        steps: plan.canary.steps,
        analysis: plan.canary.analysis,
        ...(plan.canary.sequential ? { sequential: plan.canary.sequential } : {}),
        smokeTest: plan.smokeTest,
        paused: status.paused,
        ...(run.signsRegionResumes ? { resumesSigned: true } : {}),
      },
    ],
    // A region left by a terminated release reverts itself instead of staying half-rolled-out.
    parentClosePolicy: 'REQUEST_CANCEL',
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
    // Filtering the Temporal UI by service (ReleaseService="hello") shows the regions' rollouts next to the release.
    ...(patched(REGION_SEARCH_ATTRIBUTES_PATCH)
      ? {
          typedSearchAttributes: [
            { key: ReleaseService, value: plan.service },
            { key: ReleaseVersion, value: plan.version },
            { key: ReleaseRegions, value: [region] },
          ],
        }
      : {}),
    staticSummary: `${region}: ${plan.service}@${plan.version} via ${plan.canary.steps.map((s) => `${s.percent}%`).join(' > ')} > 100% (wave ${wave.index + 1})`,
  });
  run.running.set(region, child);
  let finished = false;
  const result = child.result().finally(() => {
    finished = true;
  });
  result.catch(() => undefined);
  try {
    await answerDecisions(run, region, child, progress, () => finished, waveWatch);
  } finally {
    // If this wave was cancelled, wait for the child to finish reverting its region before going on, so the
    // release's own compensations never race with it.
    await CancellationScope.nonCancellable(() => result.catch(() => undefined));
    run.running.delete(region);
  }
  // A lean rollout hands over the reports it had not sent with its result.
  for (const event of (await result).reports ?? []) onRegionEvent(run, event);
  await releaseActivities.recordRegionVersion.executeWithOptions(
    { summary: `${region}: record ${plan.version} in the version ledger` },
    [
      {
        service: plan.service,
        region,
        version: plan.version,
        digest,
        releaseId: plan.releaseId,
        recordedAt: now(),
      },
    ],
  );
  run.touch(progress, { status: 'succeeded' });
  run.note(`${region}: done`, region);
}

/** Flags a region whose work has gone quiet for longer than expected, once, with what to check. */
function markStalled(run: ReleaseRun, region: string): void {
  const progress = run.regionOf(region);
  if (progress.stalledSince) return;
  progress.stalledSince = now();
  run.note(
    `${region}: no progress for ${run.plan.stallAlertSeconds}s; is the region agent serving task queue deploy.${region} running? The release carries on when it is`,
    region,
  );
  run.enterStage('needs-attention');
}

function clearStall(run: ReleaseRun, region: string): void {
  const progress = run.regionOf(region);
  if (!progress.stalledSince) return;
  delete progress.stalledSince;
  run.note(`${region}: progress again`, region);
  if (!run.status.regions.some((r) => r.stalledSince)) run.enterStage('deploying');
}

/** Awaits work done in a region, flagging the region while it takes longer than the stall threshold. */
export async function watched<T>(run: ReleaseRun, region: string, work: Promise<T>): Promise<T> {
  let done = false;
  const settled = work.finally(() => {
    done = true;
  });
  settled.catch(() => undefined);
  while (!(await condition(() => done, run.plan.stallAlertSeconds * 1000))) markStalled(run, region);
  clearStall(run, region);
  return settled;
}

/**
 * Awaits work done in each region of a wave under one watchdog: one timer for the wave instead of one per region.
 * When it fires, the regions whose work has not finished are flagged; each is cleared as its work finishes.
 */
export async function watchedEach<T>(run: ReleaseRun, works: { region: string; work: Promise<T> }[]): Promise<T[]> {
  const pending = new Set(works.map((w) => w.region));
  let done = false;
  const all = Promise.all(
    works.map(({ region, work }) =>
      work.finally(() => {
        pending.delete(region);
        clearStall(run, region);
      }),
    ),
  ).finally(() => {
    done = true;
  });
  all.catch(() => undefined);
  while (!(await condition(() => done, run.plan.stallAlertSeconds * 1000))) {
    for (const region of pending) markStalled(run, region);
  }
  return all;
}

/** While a region's rollout runs, answers its requests for a human decision on an inconclusive analysis. */
async function answerDecisions(
  run: ReleaseRun,
  region: string,
  child: ChildWorkflowHandle<typeof regionRolloutWorkflow>,
  progress: RegionProgress,
  finished: () => boolean,
  waveWatch: boolean,
): Promise<void> {
  const { pendingDecisions, heardFrom } = run;
  let heard = heardFrom.get(region) ?? 0;
  for (;;) {
    const wake = () => finished() || pendingDecisions.some((d) => d.region === region);
    // With the wave's watch flagging quiet regions, no timer here. Before it, one timer per region that fires only
    // when the region is slow.
    const woke = waveWatch
      ? await condition(wake).then(() => true)
      : await condition(wake, run.plan.stallAlertSeconds * 1000);
    if (!woke) {
      if ((heardFrom.get(region) ?? 0) === heard) markStalled(run, region);
      heard = heardFrom.get(region) ?? 0;
      continue;
    }
    const request = pendingDecisions.find((d) => d.region === region);
    if (finished() || !request) return;
    pendingDecisions.splice(pendingDecisions.indexOf(request), 1);
    const { gate, outcome } = await askForDecision(
      run,
      `analysis-${region}-step-${request.step + 1}`,
      `the canary analysis of ${region} at ${request.percent}% was inconclusive (${request.reasons.join('; ')}); approve to continue, reject to roll back`,
    );
    run.enterStage('deploying');
    const decider = gate.decisions.at(-1)?.by ?? 'nobody (the gate timed out)';
    // The approver's signed decision goes with it: a region started after signed messages verifies it before going
    // on. (Forwarded whenever there is one, so a release started before them still moves a newer region along.)
    const approval = outcome === 'approved' ? run.decisionMessages.get(gate.id) : undefined;
    await child.signal(regionDecisionSignal, {
      step: request.step,
      proceed: outcome === 'approved',
      by: decider,
      ...(approval ? { approval } : {}),
    });
    if (outcome === 'approved') run.touch(progress, { status: 'canary' });
  }
}

/**
 * One stall watch for the regions of a wave: every stallAlertSeconds until `over`, flags each region still rolling out
 * that reported nothing since the last look. A timer per wave instead of one per region (issue 12: history per
 * region); a region is flagged after one to two thresholds of silence, as with a timer of its own.
 */
export async function watchQuietRegions(run: ReleaseRun, regions: string[], over: () => boolean): Promise<void> {
  const heard = new Map(regions.map((region) => [region, run.heardFrom.get(region) ?? 0]));
  while (!(await condition(over, run.plan.stallAlertSeconds * 1000))) {
    for (const region of regions) {
      const now = run.heardFrom.get(region) ?? 0;
      if (run.running.has(region) && now === heard.get(region)) markStalled(run, region);
      heard.set(region, now);
    }
  }
}
