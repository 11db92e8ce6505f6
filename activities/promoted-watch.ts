// Watching a promoted region (issue 11): during the bake between waves and the post-promotion watch window, the
// release keeps judging each region it has moved to the new version, and rolls everything back on a breach.
//
// The judge is one-sample: the region's error rate since the watch began, against a ceiling, with an always-valid
// lower confidence bound (the beta-binomial confidence sequence of canary-stats.ts). The bound holds at every look
// with probability 1 - alpha, so a region whose true error rate stays at or under the ceiling is rolled back with
// probability at most alpha over the whole window, however often it is looked at. The ceiling is the catalog's SLO
// (maxErrorRate), tightened to the region's own rate before the release plus maxErrorRateIncrease when the canary
// analysis measured that rate. Latency is checked against the SLO's p95 (maxP95Ms) when the catalog sets one: three
// looks in a row over it, each on enough requests, is a breach (a point estimate, stated as such in the reason).
//
// Like judgeBake it is one activity that heartbeats its progress, reads metrics only, and carries on after a retry.
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { quantileFromBuckets, windowCounts, type MetricCounts } from '../domain/canary';
import { errorRateConfidenceSequence, formatNumber, formatPercent, formatRate } from '../domain/canary-stats';
import type { WatchSpec } from '../domain/catalog';
import type { RegionRef } from '../providers/fleet/fleet-target';
import type { MetricsSnapshot, MetricsSource } from '../providers/metrics/metrics-source';
import { translateErrors } from './errors';
import { progressHeartbeat } from './heartbeat';

export interface WatchRegionInput extends RegionRef {
  version: string;
  seconds: number;
  watch: WatchSpec;
  /** The region's requests and errors before the release (the canary analysis's baseline), when measured. */
  before?: { requests: number; errors: number };
  /** Why it is watched now, for the reasons ("between waves", "watch window"). */
  phase: string;
}

export interface WatchRegionResult {
  breached: boolean;
  reasons: string[];
  requests: number;
  errors: number;
  looks: number;
  watchedSeconds: number;
}

interface WatchProgress {
  start: MetricsSnapshot;
  last: MetricsSnapshot;
  looks: number;
  slowLooks: number;
}

/** Looks of fewer requests than this say nothing about p95. */
const MIN_P95_REQUESTS = 20;
const SLOW_LOOKS_TO_BREACH = 3;

/** The error-rate ceiling of a region: the SLO, or its rate before the release plus the tolerated increase. */
export function watchCeiling(watch: WatchSpec, before: WatchRegionInput['before']): { rate: number; why: string } {
  const slo = { rate: watch.maxErrorRate, why: `the ${formatPercent(watch.maxErrorRate)} SLO` };
  if (!before || before.requests === 0) return slo;
  const previous = before.errors / before.requests;
  const own = previous + watch.maxErrorRateIncrease;
  return own < slo.rate
    ? {
        rate: own,
        why: `its ${formatRate(before)} before the release + ${formatNumber(watch.maxErrorRateIncrease * 100)} points`,
      }
    : slo;
}

export function createPromotedWatch(deps: { metrics: MetricsSource }) {
  const { metrics } = deps;
  return {
    /** Watches one promoted region for `seconds`; returns early with breached: true as soon as a breach is shown. */
    async watchRegion(input: WatchRegionInput): Promise<WatchRegionResult> {
      const ctx = Context.current();
      const signal = ctx.cancellationSignal;
      const ref = { service: input.service, region: input.region };
      const ceiling = watchCeiling(input.watch, input.before);
      const heartbeat = progressHeartbeat<WatchProgress>();
      let progress = heartbeat.resumed;
      try {
        if (!progress) {
          const start = await translateErrors(() => metrics.snapshot(ref, { signal }));
          progress = { start, last: start, looks: 0, slowLooks: 0 };
          heartbeat.beat(progress);
        }
        const began = Date.parse(progress.start.takenAt);
        const end = began + input.seconds * 1000;
        const lookMs = input.watch.lookSeconds * 1000;
        for (;;) {
          const before: WatchProgress = progress;
          const next = Math.min(began + (before.looks + 1) * lookMs, end);
          if (next > Date.now()) await sleep(next - Date.now(), undefined, { signal });
          const now = await translateErrors(() => metrics.snapshot(ref, { signal }));
          const total = await translateErrors(() => metrics.window(ref, before.start, { signal }));
          const look = await translateErrors(() => metrics.window(ref, before.last, { signal }));
          const counts = total[input.version] ?? windowCounts(undefined, undefined);
          const recent: MetricCounts = look[input.version] ?? windowCounts(undefined, undefined);
          const p95 =
            recent.requests >= MIN_P95_REQUESTS ? quantileFromBuckets(recent.latencyBuckets, 0.95) : undefined;
          const slow = input.watch.maxP95Ms !== undefined && p95 !== undefined && p95 > input.watch.maxP95Ms;
          progress = { ...before, last: now, looks: before.looks + 1, slowLooks: slow ? before.slowLooks + 1 : 0 };
          heartbeat.beat(progress);

          const { lower } = errorRateConfidenceSequence(counts, input.watch.alpha);
          const watchedSeconds = Math.round((Date.now() - began) / 100) / 10;
          const base = { requests: counts.requests, errors: counts.errors, looks: progress.looks, watchedSeconds };
          const errorLine =
            `${input.region} (${input.phase}): error rate ${formatRate(counts)} since promotion watching began, ` +
            `always-valid ${formatNumber((1 - input.watch.alpha) * 100)}% lower bound ${formatPercent(lower)} ` +
            `${lower > ceiling.rate ? '>' : '≤'} ceiling ${formatPercent(ceiling.rate)} (${ceiling.why})`;
          if (lower > ceiling.rate) return { ...base, breached: true, reasons: [`${errorLine} → breach`] };
          if (progress.slowLooks >= SLOW_LOOKS_TO_BREACH && p95 !== undefined) {
            return {
              ...base,
              breached: true,
              reasons: [
                `${input.region} (${input.phase}): p95 latency ${formatNumber(p95)} ms over the last ` +
                  `${input.watch.lookSeconds}s is above the ${input.watch.maxP95Ms} ms SLO for ` +
                  `${progress.slowLooks} looks in a row (point estimate on ${recent.requests}+ requests a look) → breach`,
              ],
            };
          }
          if (Date.now() >= end || next >= end) {
            return { ...base, breached: false, reasons: [`${errorLine} → held for ${input.seconds}s`] };
          }
        }
      } finally {
        heartbeat.stop();
      }
    },
  };
}
