// Watching promoted regions (issue 11): during the bake between waves, the regions already on the new version are
// judged (activity watchRegion on each region's queue); after the last wave, every region is, for the service's watch
// window. A breach, or an alert from monitoring arriving through the API while watching, rolls the whole release
// back, regions in reverse order, before the contract migrations ever run.
import { CancellationScope, condition, proxyActivities } from '@temporalio/workflow';
import type { RegionActivities } from '../../activities';
import type { WatchSpec } from '../../domain/catalog';
import { releaseFailure } from '../failures';
import { fleetStep } from '../profiles';
import type { ReleaseRun } from './run-state';

/** Releases started after this watch their promoted regions; earlier ones bake between waves on a plain timer. */
export const WATCH_PATCH = 'watch-promoted';

/** How long after the window the release waits for regions that have not answered before it goes on. */
const WATCH_GRACE_SECONDS = 120;

type WatchResult = Awaited<ReturnType<RegionActivities['watchRegion']>>;

function watcher(taskQueue: string, seconds: number) {
  return proxyActivities<RegionActivities>({
    ...fleetStep,
    taskQueue,
    startToCloseTimeout: `${seconds + 120}s`,
    heartbeatTimeout: '10s',
  });
}

/** The region's requests and errors before the release, as its canary analyses measured the baseline. */
function before(run: ReleaseRun, region: string): { requests: number; errors: number } | undefined {
  const verdicts = run.regionOf(region).verdicts;
  if (verdicts.length === 0) return undefined;
  return verdicts.reduce(
    (sum, v) => ({ requests: sum.requests + v.baseline.requests, errors: sum.errors + v.baseline.errors }),
    { requests: 0, errors: 0 },
  );
}

/** Watches `regions` for `seconds`; throws (the release rolls back) on a breach or an alert. */
export async function watchPromoted(
  run: ReleaseRun,
  watch: WatchSpec,
  regions: { region: string; taskQueue: string }[],
  seconds: number,
  phase: string,
): Promise<void> {
  if (regions.length === 0 || seconds <= 0) return;
  const { plan } = run;
  run.watching = { phase };
  run.enterStage('watching');
  run.note(
    `watching ${regions.map((r) => r.region).join(', ')} for ${seconds}s (${phase}): a breach of the error-rate ceiling` +
      `${watch.maxP95Ms !== undefined ? ` or the ${watch.maxP95Ms} ms p95 SLO` : ''}, or an alert from monitoring, rolls the release back`,
  );
  const scope = new CancellationScope();
  let breach: WatchResult | undefined;
  let finished = 0;
  const runs = regions.map(({ region, taskQueue }) =>
    scope
      .run(() =>
        watcher(taskQueue, seconds).watchRegion.executeWithOptions(
          { summary: `${region}: watch ${plan.version} for ${seconds}s (${phase})` },
          [
            {
              service: plan.service,
              region,
              version: plan.version,
              seconds,
              watch,
              before: before(run, region),
              phase,
            },
          ],
        ),
      )
      .then((result) => {
        if (result.breached) breach ??= result;
        else run.note(result.reasons.join('; '), region);
      })
      .finally(() => {
        finished += 1;
      }),
  );
  const settled = Promise.allSettled(runs);
  let failure: Error | undefined;
  for (const r of runs) {
    r.catch((err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err));
    });
  }
  // A region whose agent does not answer cannot be watched; the release does not wait for it forever (the stall
  // watch of the rollout flags such a region anyway): after the window and a grace period it says so and goes on.
  const inTime = await condition(
    () => breach !== undefined || run.alert !== undefined || failure !== undefined || finished === runs.length,
    (seconds + WATCH_GRACE_SECONDS) * 1000,
  );
  if (!inTime || breach !== undefined || run.alert !== undefined || failure !== undefined) scope.cancel();
  await CancellationScope.nonCancellable(() => settled);
  run.watching = undefined;
  const alert = run.alert;
  if (alert) {
    throw releaseFailure(
      'AlertFired',
      `alert ${alert.alertname}${alert.region ? ` in ${alert.region}` : ''} fired while ${plan.service}@${plan.version} was watched (${phase})` +
        `${alert.reason ? `: ${alert.reason}` : ''}; reported by ${alert.by}`,
    );
  }
  if (breach) {
    throw releaseFailure(
      'WatchBreached',
      `${plan.service}@${plan.version} breached while watched: ${breach.reasons.join('; ')}`,
    );
  }
  if (failure !== undefined && inTime) throw failure;
  if (!inTime) {
    run.note(
      `could not watch every region for ${seconds}s (${phase}): ${regions.length - finished} did not answer within ` +
        `${WATCH_GRACE_SECONDS}s after the window; is the region agent running? The release goes on`,
    );
    run.audit('release.watch-incomplete', { details: { phase, seconds, unanswered: regions.length - finished } });
  }
  run.audit('release.watched', { details: { phase, seconds, regions: regions.map((r) => r.region) } });
  run.enterStage('deploying');
}
