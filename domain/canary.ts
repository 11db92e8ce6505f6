// Canary analysis: compares what the canary served during a bake with what the baseline served in the same window
// and decides pass, fail or inconclusive. Pure and deterministic, so the release workflow can call it directly.
import { z } from 'zod';

/** Counters of one version, as the router reports them (cumulative). */
export interface MetricCounts {
  requests: number;
  errors: number;
  latencyMsSum: number;
  /** Upper bound in ms (or "+Inf") to the cumulative count of requests at or below it. */
  latencyBuckets: Record<string, number>;
}

export const AnalysisPolicy = z.strictObject({
  /** Fewer requests than this for canary or baseline in the window: inconclusive, not pass. */
  minRequests: z.number().int().min(1).default(50),
  /** The canary fails above this error rate, whatever the baseline does. */
  maxErrorRate: z.number().min(0).max(1).default(0.05),
  /** The canary fails if its error rate exceeds the baseline's by more than this AND the difference is significant. */
  maxErrorRateIncrease: z.number().min(0).max(1).default(0.01),
  /** One-sided confidence for the error-rate comparison (two-proportion z-test). */
  confidence: z.number().min(0.5).max(0.9999).default(0.99),
  /** The canary fails if its p95 latency exceeds baseline p95 times this ... */
  maxLatencyRatio: z.number().min(1).default(1.5),
  /** ... and by more than this many ms (so 2ms vs 4ms is not a failure). */
  minLatencyIncreaseMs: z.number().min(0).default(25),
});
export type AnalysisPolicy = z.infer<typeof AnalysisPolicy>;

export interface VersionSummary {
  requests: number;
  errors: number;
  errorRate: number;
  /** Absent when the window has no latency data. */
  p95Ms?: number;
  meanMs?: number;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface CanaryVerdict {
  verdict: Verdict;
  /** Plain-words reasons with the numbers: one per rule that decided; for pass, one line summarising. */
  reasons: string[];
  canary: VersionSummary;
  baseline: VersionSummary;
  /** Which judge decided (absent: the fixed-window judge, as before the sequential one existed). */
  judge?: 'sequential' | 'fixed-window';
  /** What the canary was compared with: fresh baseline instances started with it, or the version already running. */
  baselineKind?: 'same-age' | 'running';
  /** Sequential judge: the looks taken, and the seconds from the traffic shift to the decision (warm-up included). */
  looks?: number;
  decidedAfterSeconds?: number;
}

const INF_BUCKET = '+Inf';

/** The counters between two snapshots; if any counter went down (the fleet restarted), the window is `end` alone. */
export function windowCounts(start: MetricCounts | undefined, end: MetricCounts | undefined): MetricCounts {
  if (end === undefined) return { requests: 0, errors: 0, latencyMsSum: 0, latencyBuckets: {} };
  const endAlone = { ...end, latencyBuckets: { ...end.latencyBuckets } };
  if (start === undefined) return endAlone;

  const bucketKeys = new Set([...Object.keys(start.latencyBuckets), ...Object.keys(end.latencyBuckets)]);
  const buckets: Record<string, number> = {};
  for (const key of bucketKeys) {
    // A bucket that vanished from `end` counts as zero, which reads as a reset if `start` had anything in it.
    const delta = (end.latencyBuckets[key] ?? 0) - (start.latencyBuckets[key] ?? 0);
    if (delta < 0) return endAlone;
    buckets[key] = delta;
  }
  const requests = end.requests - start.requests;
  const errors = end.errors - start.errors;
  const latencyMsSum = end.latencyMsSum - start.latencyMsSum;
  if (requests < 0 || errors < 0 || latencyMsSum < 0) return endAlone;
  return { requests, errors, latencyMsSum, latencyBuckets: buckets };
}

/** Estimated quantile q (0..1) in ms from cumulative buckets, linear inside a bucket; +Inf gives the largest bound. */
export function quantileFromBuckets(buckets: Record<string, number>, q: number): number | undefined {
  const finite = Object.entries(buckets)
    .filter(([key]) => key !== INF_BUCKET)
    .map(([key, count]) => ({ bound: Number(key), count }))
    .filter(({ bound }) => Number.isFinite(bound))
    .sort((a, b) => a.bound - b.bound);
  const largestFinite = finite.reduce((max, { count }) => Math.max(max, count), 0);
  const total = buckets[INF_BUCKET] ?? largestFinite;
  if (!(total > 0)) return undefined;

  const rank = Math.min(Math.max(q, 0), 1) * total;
  let lower = 0;
  let below = 0;
  for (const { bound, count } of finite) {
    // Running max keeps a slightly inconsistent histogram from producing a negative fraction.
    const cumulative = Math.max(count, below);
    // `cumulative > below` skips empty buckets, so q = 0 lands on the first bucket that holds a request.
    if (cumulative >= rank && cumulative > below) {
      return lower + ((bound - lower) * (rank - below)) / (cumulative - below);
    }
    lower = bound;
    below = cumulative;
  }
  // The quantile lies beyond the largest finite bound: that bound is the best we can say.
  return finite.length > 0 ? lower : undefined;
}

// Acklam's rational approximation of the inverse standard normal CDF (relative error below 1.15e-9).
const A = [
  -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1,
  2.506628277459239,
];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [
  -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968,
  2.938163982698783,
];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const P_LOW = 0.02425;

function poly(coefficients: number[], x: number): number {
  return coefficients.reduce((acc, c) => acc * x + c, 0);
}

/** Inverse of the standard normal CDF: the z with P(Z <= z) = p. */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) throw new RangeError(`normalQuantile needs 0 <= p <= 1, got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p < P_LOW) {
    const t = Math.sqrt(-2 * Math.log(p));
    return poly(C, t) / (poly(D, t) * t + 1);
  }
  if (p > 1 - P_LOW) {
    const t = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(C, t) / (poly(D, t) * t + 1);
  }
  const x = p - 0.5;
  const r = x * x;
  return (poly(A, r) * x) / (poly(B, r) * r + 1);
}

export function summarise(counts: MetricCounts): VersionSummary {
  const { requests, errors } = counts;
  return {
    requests,
    errors,
    errorRate: requests > 0 ? errors / requests : 0,
    p95Ms: quantileFromBuckets(counts.latencyBuckets, 0.95),
    meanMs: requests > 0 ? counts.latencyMsSum / requests : undefined,
  };
}

/** One-sided two-proportion z statistic (pooled), 0 when there is no variance to measure against. */
function twoProportionZ(canary: VersionSummary, baseline: VersionSummary): number {
  if (canary.requests === 0 || baseline.requests === 0) return 0;
  const pooled = (canary.errors + baseline.errors) / (canary.requests + baseline.requests);
  const standardError = Math.sqrt(pooled * (1 - pooled) * (1 / canary.requests + 1 / baseline.requests));
  return standardError > 0 ? (canary.errorRate - baseline.errorRate) / standardError : 0;
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)}%`;
const ms = (value: number | undefined): string => (value === undefined ? 'unknown' : `${Number(value.toFixed(1))} ms`);
const rateOf = (v: VersionSummary): string => `${percent(v.errorRate)} (${v.errors} of ${v.requests})`;

/** Judges a canary window against the baseline window. */
export function judgeCanary(
  canaryCounts: MetricCounts,
  baselineCounts: MetricCounts,
  policy: AnalysisPolicy,
): CanaryVerdict {
  const canary = summarise(canaryCounts);
  const baseline = summarise(baselineCounts);

  const tooFew = (['canary', 'baseline'] as const)
    .map((side) => ({ side, requests: side === 'canary' ? canary.requests : baseline.requests }))
    .filter(({ requests }) => requests < policy.minRequests)
    .map(({ side, requests }) => `${side} served ${requests} requests, fewer than the ${policy.minRequests} needed`);
  if (tooFew.length > 0) return { verdict: 'inconclusive', reasons: tooFew, canary, baseline };

  const failures: string[] = [];
  if (canary.errorRate > policy.maxErrorRate) {
    failures.push(`error rate ${rateOf(canary)} is above the ${percent(policy.maxErrorRate)} ceiling`);
  }

  const increase = canary.errorRate - baseline.errorRate;
  const z = twoProportionZ(canary, baseline);
  const critical = normalQuantile(policy.confidence);
  if (increase > policy.maxErrorRateIncrease && z > critical) {
    failures.push(
      `error rate ${rateOf(canary)} is ${(increase * 100).toFixed(1)} points above the baseline's ${rateOf(baseline)}, ` +
        `more than the ${(policy.maxErrorRateIncrease * 100).toFixed(1)}-point limit and significant at ` +
        `${Number((policy.confidence * 100).toFixed(2))}% confidence (z ${z.toFixed(2)} > ${critical.toFixed(2)})`,
    );
  }

  const { p95Ms: canaryP95 } = canary;
  const { p95Ms: baselineP95 } = baseline;
  // Comparing by multiplication keeps a zero baseline p95 from dividing by zero.
  if (
    canaryP95 !== undefined &&
    baselineP95 !== undefined &&
    canaryP95 > baselineP95 * policy.maxLatencyRatio &&
    canaryP95 - baselineP95 > policy.minLatencyIncreaseMs
  ) {
    const ratio = baselineP95 > 0 ? `${(canaryP95 / baselineP95).toFixed(1)}x` : 'above';
    failures.push(
      `p95 latency ${ms(canaryP95)} is ${ratio} the baseline's ${ms(baselineP95)} (+${ms(canaryP95 - baselineP95)}), ` +
        `above the ${policy.maxLatencyRatio}x and +${policy.minLatencyIncreaseMs} ms limits`,
    );
  }
  if (failures.length > 0) return { verdict: 'fail', reasons: failures, canary, baseline };

  return {
    verdict: 'pass',
    reasons: [
      `error rate ${rateOf(canary)} vs baseline ${rateOf(baseline)}; ` +
        `p95 latency ${ms(canaryP95)} vs baseline ${ms(baselineP95)}; within the policy`,
    ],
    canary,
    baseline,
  };
}
