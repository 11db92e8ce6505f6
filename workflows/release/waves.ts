// One wave: read what each region runs and register its way back, smoke-test the regions already on the version,
// then roll out the others in parallel. One region failing stops its siblings, which revert themselves.
import { CancellationScope, patched } from '@temporalio/workflow';
import { releaseFailure } from '../failures';
import type { WavePlan } from '../../domain/plan';
import type { Compensation } from '../saga';
import { now } from '../journal';
import { inRegion, releaseActivities, releaseCompensations } from './activities';
import { rollOut, watched, watchedEach, watchQuietRegions } from './region';
import type { ReleaseRun } from './run-state';

export async function runWave(run: ReleaseRun, wave: WavePlan, digest: string): Promise<void> {
  const { plan } = run;
  run.note(
    `wave ${wave.index + 1} of ${plan.waves.length} (${wave.environment}): ${wave.regions.map((r) => r.region).join(', ')}`,
  );
  // Read what each region runs before touching any, and register its way back first.
  if (patched(LEAN_WAVE_PATCH)) await readRegions(run, wave);
  else
    await Promise.all(
      wave.regions.map(async ({ region, taskQueue }) => {
        const before = await watched(
          run,
          region,
          inRegion(taskQueue).quick.inspectRegion.executeWithOptions(
            { summary: `${region}: read the running version` },
            [{ service: plan.service, region }],
          ),
        );
        const progress = run.regionOf(region);
        if (before.stableVersion) {
          progress.previousVersion = before.stableVersion;
          // The ledger learns what ran before, so an emergency rollback can return to it.
          await releaseActivities.observeRegionVersion.executeWithOptions(
            { summary: `${region}: note ${before.stableVersion} in the version ledger` },
            [{ service: plan.service, region, version: before.stableVersion, recordedAt: now() }],
          );
        }
        if (before.stableVersion !== plan.version) {
          run.saga.add(regionCompensation(run, region, taskQueue, wave.index, before.stableVersion));
        }
      }),
    );
  // A region that already runs this version has nothing to roll out (a repeated or re-tried release).
  const toRollOut = wave.regions.filter(({ region }) => {
    const progress = run.regionOf(region);
    if (progress.previousVersion !== plan.version) return true;
    run.touch(progress, { status: 'succeeded', trafficPercent: 100 });
    run.note(`${region}: already runs ${plan.version}; nothing to do`, region);
    return false;
  });
  // It is still smoke-tested: the promotion to the next environment needs proof, not an assumption.
  if (patched('smoke-test-unchanged-regions')) {
    await Promise.all(
      wave.regions
        .filter(({ region }) => !toRollOut.some((r) => r.region === region))
        .map(({ region, taskQueue }) => smokeTestUnchanged(run, region, taskQueue)),
    );
  }
  const waveWatch = toRollOut.length > 0 && patched(WAVE_WATCH_PATCH);
  const waveScope = new CancellationScope();
  const runs = toRollOut.map(({ region, taskQueue }) =>
    waveScope.run(() => rollOut(run, region, taskQueue, wave, digest, waveWatch)),
  );
  let settled = false;
  // Never throws (a cancelled release stops watching), so it cannot end the wave before its regions have settled.
  const watching = waveWatch
    ? watchQuietRegions(
        run,
        toRollOut.map((r) => r.region),
        () => settled,
      ).catch(() => undefined)
    : undefined;
  let firstFailure: Error | undefined;
  for (const regionRun of runs) {
    regionRun.catch((err: unknown) => {
      // One region failing stops its siblings (they revert themselves) instead of letting them carry on.
      firstFailure ??= err instanceof Error ? err : new Error(String(err));
      waveScope.cancel();
    });
  }
  await Promise.allSettled(runs);
  settled = true;
  await watching;
  // One audit write per wave, not per region: the regions of a wave finish together, and history stays lean.
  await run.record.flush();
  if (firstFailure !== undefined) throw firstFailure;
}

/**
 * Wave bookkeeping with less history: the regions' running versions are read under one watchdog for the wave, the
 * ledger learns them in one activity, and each region's way back is registered in wave order.
 */
export const LEAN_WAVE_PATCH = 'lean-wave-bookkeeping';
/** One stall watch for the regions rolling out in a wave, instead of a timer per region (region.ts). */
export const WAVE_WATCH_PATCH = 'wave-stall-watch';

async function readRegions(run: ReleaseRun, wave: WavePlan): Promise<void> {
  const { plan } = run;
  const before = await watchedEach(
    run,
    wave.regions.map(({ region, taskQueue }) => ({
      region,
      work: inRegion(taskQueue).quick.inspectRegion.executeWithOptions(
        { summary: `${region}: read the running version` },
        [{ service: plan.service, region }],
      ),
    })),
  );
  const observed: { region: string; version: string }[] = [];
  for (const [index, { region, taskQueue }] of wave.regions.entries()) {
    const stable = before[index]?.stableVersion;
    if (stable) {
      run.regionOf(region).previousVersion = stable;
      observed.push({ region, version: stable });
    }
    if (stable !== plan.version) run.saga.add(regionCompensation(run, region, taskQueue, wave.index, stable));
  }
  if (observed.length > 0) {
    // The ledger learns what ran before, so an emergency rollback can return to it.
    await releaseActivities.observeRegionVersions.executeWithOptions(
      { summary: `note ${observed.map((o) => `${o.region}: ${o.version}`).join(', ')} in the version ledger` },
      [{ service: plan.service, regions: observed, recordedAt: now() }],
    );
  }
}

async function smokeTestUnchanged(run: ReleaseRun, region: string, taskQueue: string): Promise<void> {
  const { plan } = run;
  const progress = run.regionOf(region);
  run.touch(progress, { status: 'smoke-testing' });
  const smoke = await inRegion(taskQueue).fleet.smokeTest.executeWithOptions(
    {
      summary: `${region}: smoke test ${plan.smokeTest.requests} x GET ${plan.smokeTest.path} (already on ${plan.version})`,
    },
    [{ service: plan.service, region, ...plan.smokeTest }],
  );
  run.touch(progress, {
    status: smoke.passed ? 'succeeded' : 'failed',
    smokeTest: { passed: smoke.passed, failures: smoke.failures, requests: smoke.requests },
  });
  run.note(
    `${region}: smoke test ${smoke.passed ? 'passed' : 'failed'} (${smoke.failures} of ${smoke.requests} failed)`,
    region,
  );
  run.audit('region.smoke-tested', {
    region,
    details: { passed: smoke.passed, failures: smoke.failures, requests: smoke.requests },
  });
  if (!smoke.passed) {
    throw releaseFailure(
      'SmokeTestFailed',
      `smoke test of ${plan.version} failed in ${region}, which already ran it: ${smoke.failures} of ${smoke.requests} requests failed`,
    );
  }
}

/** The way back for a region: the version it ran before, and the ledger told so if it recorded the new one. */
function regionCompensation(
  run: ReleaseRun,
  region: string,
  taskQueue: string,
  wave: number,
  previous: string | undefined,
): Compensation {
  const { plan } = run;
  return {
    name: previous ? `revert ${region} to ${previous}` : `${region} had no version before; nothing to revert`,
    group: `wave-${wave}`,
    run: async () => {
      const progress = run.regionOf(region);
      if (!previous) return;
      await inRegion(taskQueue).compensation.revertRegion.executeWithOptions(
        { summary: `${region}: back to ${previous} (rollback)` },
        [{ service: plan.service, region, version: previous, releaseId: plan.releaseId }],
      );
      if (progress.status === 'succeeded') {
        // The ledger said this region runs the new version; say it does not any more.
        await releaseCompensations.recordRegionVersion.executeWithOptions(
          { summary: `${region}: record ${previous} in the version ledger (rollback)` },
          [
            {
              service: plan.service,
              region,
              version: previous,
              releaseId: plan.releaseId,
              recordedAt: now(),
              rolledBackFrom: plan.version,
              reason: `release ${plan.releaseId} rolled back`,
            },
          ],
        );
      }
      run.touch(progress, { status: 'reverted', trafficPercent: 0 });
    },
  };
}
