// The sequential canary judge at work: one activity per canary step that looks at the metrics every few seconds
// during the bake and returns as soon as the evidence decides (domain/sequential-judge.ts says what is guaranteed).
//
// Why one long activity and not a timer and an activity per look in the workflow: a look every 2 s would add about
// eight history events each (issue 12 counts them); here a step costs three. Its progress (the judge's state, the last
// snapshot, the looks taken) is heartbeated after every look, so a worker that dies mid-bake is replaced by a retry
// that carries on from the last look; the counters are cumulative, so the window of the next look covers the gap and
// nothing observed is lost. The activity only reads metrics: a retry changes nothing in the region.
//
// Timing, counted from the traffic shift (the snapshot shiftTraffic took): a warm-up nobody judges (new instances
// warming, connections moving), then the bake. A fail may come at any look. A pass needs the bake to be over (the bake
// is the least a version is watched at a share) and the evidence to show the canary within the policy. If the bake is
// over and neither holds, it goes on, up to maxBakeFactor times its length; then the verdict is inconclusive and a
// human decides. The looks are spread so that there are at most policy.plannedLooks of them, which is what the latency
// test's alpha is split over.
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { summarise, type CanaryVerdict, type MetricCounts } from '../domain/canary';
import { formatNumber } from '../domain/canary-stats';
import type { SequentialCanaryPlan } from '../domain/plan';
import { judgeLook, startJudge, type JudgeState, type SequentialVerdict } from '../domain/sequential-judge';
import { baselineLabel, type FleetCapabilities, type RegionRef } from '../providers/fleet/fleet-target';
import type { MetricsSnapshot, MetricsSource } from '../providers/metrics/metrics-source';
import { translateErrors } from './errors';
import { progressHeartbeat } from './heartbeat';

export interface JudgeBakeInput extends RegionRef {
  canaryVersion: string;
  /** The version the region ran before (absent on a first deploy: the canary is judged on its own numbers). */
  baselineVersion: string | undefined;
  /** The snapshot taken when the traffic moved to this step: the warm-up and the bake count from its time. */
  shiftedAt: MetricsSnapshot;
  percent: number;
  bakeSeconds: number;
  plan: SequentialCanaryPlan;
}

/** What is heartbeated after every look: enough for a retry to carry on where the last attempt stopped. */
interface BakeProgress {
  judge: JudgeState;
  last: MetricsSnapshot;
  /** Which series stands for the baseline, decided at the first look. */
  baselineKind?: 'same-age' | 'running';
  canary: MetricCounts;
  baseline: MetricCounts;
}

const EMPTY: MetricCounts = { requests: 0, errors: 0, latencyMsSum: 0, latencyBuckets: {} };

/** The sum of two sets of counts (two windows, or two series of the same version). */
export function combineCounts(total: MetricCounts, window: MetricCounts): MetricCounts {
  const buckets = { ...total.latencyBuckets };
  for (const [bound, count] of Object.entries(window.latencyBuckets)) buckets[bound] = (buckets[bound] ?? 0) + count;
  return {
    requests: total.requests + window.requests,
    errors: total.errors + window.errors,
    latencyMsSum: total.latencyMsSum + window.latencyMsSum,
    latencyBuckets: buckets,
  };
}

/** When the looks happen: at most plannedLooks of them, at least lookSeconds apart, over bake * maxBakeFactor. */
export function lookSchedule(bakeSeconds: number, plan: SequentialCanaryPlan) {
  const spanSeconds = Math.max(bakeSeconds * plan.maxBakeFactor, plan.lookSeconds);
  const looks = Math.min(Math.max(Math.floor(spanSeconds / plan.lookSeconds), 1), plan.policy.plannedLooks);
  return { looks, intervalMs: (spanSeconds * 1000) / looks, warmupMs: plan.warmupSeconds * 1000 };
}

export function createCanaryJudging(deps: {
  metrics: MetricsSource;
  capabilities: (ref: RegionRef) => FleetCapabilities;
}) {
  const { metrics } = deps;
  return {
    /** Judges one canary step sequentially: fail as soon as shown, pass once the bake is over and it is shown. */
    async judgeBake(input: JudgeBakeInput): Promise<CanaryVerdict> {
      const ctx = Context.current();
      const signal = ctx.cancellationSignal;
      const ref = { service: input.service, region: input.region };
      const { looks, intervalMs, warmupMs } = lookSchedule(input.bakeSeconds, input.plan);
      const policy = { ...input.plan.policy, plannedLooks: looks };
      const shiftedAt = Date.parse(input.shiftedAt.takenAt);
      const observeFrom = shiftedAt + warmupMs;
      const passFrom = observeFrom + input.bakeSeconds * 1000;
      const waitUntil = async (at: number) => {
        const ms = at - Date.now();
        if (ms > 0) await sleep(ms, undefined, { signal });
      };

      // Heartbeats go on between looks too: a long look interval must not look like a dead worker.
      const heartbeat = progressHeartbeat<BakeProgress>();
      let progress = heartbeat.resumed;
      try {
        if (!progress) {
          // An attempt that starts after the warm-up (the last one died before its first look) counts from the
          // traffic shift rather than lose what the region served meanwhile: the warm-up is judged too, then.
          const late = Date.now() > observeFrom + intervalMs;
          await waitUntil(observeFrom);
          const last = late ? input.shiftedAt : await translateErrors(() => metrics.snapshot(ref, { signal }));
          progress = { judge: startJudge(), last, canary: EMPTY, baseline: EMPTY };
          heartbeat.beat(progress);
        }
        for (;;) {
          const before: BakeProgress = progress;
          const look = before.judge.errors.looks + 1;
          // Looks keep their spacing even after an outage: the first look of a retry covers the whole gap (the
          // counters are cumulative), and the looks after it are interval apart again, not a burst of empty ones.
          await waitUntil(Math.max(observeFrom + look * intervalMs, Date.parse(before.last.takenAt) + intervalMs));
          const now = await translateErrors(() => metrics.snapshot(ref, { signal }));
          const window = await translateErrors(() => metrics.window(ref, before.last, { signal }));
          const baselineKind =
            before.baselineKind ??
            (deps.capabilities(ref).sameAgeBaseline &&
            input.baselineVersion !== undefined &&
            window[baselineLabel(input.baselineVersion)] !== undefined
              ? 'same-age'
              : 'running');
          const baselineSeries =
            input.baselineVersion === undefined
              ? undefined
              : baselineKind === 'same-age'
                ? baselineLabel(input.baselineVersion)
                : input.baselineVersion;
          const canaryWindow = window[input.canaryVersion] ?? EMPTY;
          const baselineWindow = (baselineSeries ? window[baselineSeries] : undefined) ?? EMPTY;
          const final = look >= looks;
          const judged = judgeLook(before.judge, canaryWindow, baselineWindow, policy, { final });
          progress = {
            judge: judged.state,
            last: now,
            baselineKind,
            canary: combineCounts(before.canary, canaryWindow),
            baseline: combineCounts(before.baseline, baselineWindow),
          };
          heartbeat.beat(progress);
          const { decision } = judged.verdict;
          const bakeOver = Date.now() >= passFrom;
          if (decision === 'fail' || (decision === 'pass' && bakeOver) || final) {
            const verdict = decision === 'continue' ? 'inconclusive' : decision;
            return describe(input, progress, judged.verdict, verdict, Date.now() - shiftedAt);
          }
        }
      } finally {
        heartbeat.stop();
      }
    },
  };
}

function describe(
  input: JudgeBakeInput,
  progress: BakeProgress,
  judged: SequentialVerdict,
  verdict: CanaryVerdict['verdict'],
  elapsedMs: number,
): CanaryVerdict {
  const { baselineVersion } = input;
  const against =
    baselineVersion === undefined
      ? 'no baseline (the region ran nothing before): the canary is judged on its own numbers'
      : progress.baselineKind === 'same-age'
        ? `compared with a baseline of the same age (fresh ${baselineVersion} instances started with the canary, same traffic share)`
        : `compared with the running ${baselineVersion} (this fleet cannot start a baseline of the same age)`;
  const when =
    `${verdict} at look ${judged.look} after ${formatNumber(elapsedMs / 1000)}s ` +
    `(warm-up ${input.plan.warmupSeconds}s, bake ${input.bakeSeconds}s` +
    (verdict === 'inconclusive' ? `, extended to ${formatNumber(input.bakeSeconds * input.plan.maxBakeFactor)}s` : '') +
    ')';
  return {
    verdict,
    reasons: [...judged.reasons, `${when}; ${against}`],
    canary: summarise(progress.canary),
    baseline: summarise(progress.baseline),
    judge: 'sequential',
    baselineKind: baselineVersion === undefined ? 'running' : (progress.baselineKind ?? 'running'),
    looks: judged.look,
    decidedAfterSeconds: Math.round(elapsedMs / 100) / 10,
  };
}
