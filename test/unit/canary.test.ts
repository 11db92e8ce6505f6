import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  AnalysisPolicy,
  judgeCanary,
  type MetricCounts,
  normalQuantile,
  quantileFromBuckets,
  windowCounts,
} from '../../domain/canary';

const BOUNDS = ['5', '10', '25', '50', '100', '250', '500', '1000', '2500'];
const policy = AnalysisPolicy.parse({});

/**
 * Counters as the router reports them. `perBucket` gives how many requests landed in each bucket (by upper bound,
 * not cumulative); by default every request lands in the 50 ms bucket.
 */
function counts(requests: number, errors: number, perBucket: Record<string, number> = { 50: requests }): MetricCounts {
  const latencyBuckets: Record<string, number> = {};
  let cumulative = 0;
  let latencyMsSum = 0;
  for (const bound of BOUNDS) {
    const n = perBucket[bound] ?? 0;
    cumulative += n;
    latencyMsSum += n * Number(bound);
    latencyBuckets[bound] = cumulative;
  }
  latencyBuckets['+Inf'] = cumulative + (perBucket['+Inf'] ?? 0);
  expect(latencyBuckets['+Inf']).toBe(requests);
  return { requests, errors, latencyMsSum, latencyBuckets };
}

describe('windowCounts', () => {
  const start = counts(100, 2, { 50: 80, 100: 20 });
  const end = counts(250, 5, { 50: 200, 100: 40, '+Inf': 10 });

  it('subtracts the start snapshot from the end snapshot, field by field and bucket by bucket', () => {
    const window = windowCounts(start, end);
    expect(window.requests).toBe(150);
    expect(window.errors).toBe(3);
    expect(window.latencyMsSum).toBe(end.latencyMsSum - start.latencyMsSum);
    expect(window.latencyBuckets).toMatchObject({ '25': 0, '50': 120, '100': 140, '250': 140, '+Inf': 150 });
  });

  it('takes the end snapshot alone when a counter went down (the fleet restarted)', () => {
    const afterRestart = counts(30, 1, { 50: 30 });
    expect(windowCounts(start, afterRestart)).toEqual(afterRestart);
  });

  it('detects a restart visible in a single bucket', () => {
    const shifted: MetricCounts = { ...end, latencyBuckets: { ...end.latencyBuckets, '50': 10 } };
    expect(windowCounts(start, shifted)).toEqual(shifted);
  });

  it('takes the end snapshot when there is no start, and an empty window when there is no end', () => {
    expect(windowCounts(undefined, end)).toEqual(end);
    expect(windowCounts(start, undefined)).toEqual({ requests: 0, errors: 0, latencyMsSum: 0, latencyBuckets: {} });
  });
});

describe('quantileFromBuckets', () => {
  it('interpolates linearly inside the bucket holding the quantile', () => {
    const buckets = counts(200, 0, { 100: 100, 250: 100 }).latencyBuckets;
    expect(quantileFromBuckets(buckets, 0.25)).toBe(75);
    expect(quantileFromBuckets(buckets, 0.5)).toBe(100);
    expect(quantileFromBuckets(buckets, 0.75)).toBe(175);
  });

  it('starts the first bucket at 0 ms', () => {
    expect(quantileFromBuckets({ '5': 10, '+Inf': 10 }, 0.5)).toBe(2.5);
  });

  it('answers the largest finite bound when the quantile falls in +Inf', () => {
    const buckets = counts(100, 0, { 2500: 10, '+Inf': 90 }).latencyBuckets;
    expect(quantileFromBuckets(buckets, 0.95)).toBe(2500);
  });

  it('has no answer without requests', () => {
    expect(quantileFromBuckets({}, 0.95)).toBeUndefined();
    expect(quantileFromBuckets(counts(0, 0).latencyBuckets, 0.95)).toBeUndefined();
  });
});

describe('normalQuantile', () => {
  it('gives the usual one-sided critical values', () => {
    expect(normalQuantile(0.95)).toBeCloseTo(1.6448536, 6);
    expect(normalQuantile(0.99)).toBeCloseTo(2.3263479, 6);
    expect(normalQuantile(0.5)).toBe(0);
  });

  it('is accurate in the tails and symmetric', () => {
    expect(normalQuantile(0.001)).toBeCloseTo(-3.0902323, 6);
    expect(normalQuantile(0.9999)).toBeCloseTo(3.7190165, 6);
    expect(normalQuantile(0.2)).toBeCloseTo(-normalQuantile(0.8), 9);
  });

  it('refuses probabilities outside 0..1', () => {
    expect(() => normalQuantile(1.5)).toThrow(RangeError);
  });
});

describe('AnalysisPolicy', () => {
  it('fills in the defaults', () => {
    expect(AnalysisPolicy.parse({})).toEqual({
      minRequests: 50,
      maxErrorRate: 0.05,
      maxErrorRateIncrease: 0.01,
      confidence: 0.99,
      maxLatencyRatio: 1.5,
      minLatencyIncreaseMs: 25,
    });
  });

  it('names the field that is out of range', () => {
    const result = AnalysisPolicy.safeParse({ confidence: 1.5, minRequests: 0 });
    expect(result.success).toBe(false);
    const message = z.prettifyError(result.error!);
    expect(message).toMatch(/at confidence/);
    expect(message).toMatch(/at minRequests/);
  });

  it('rejects unknown fields', () => {
    const result = AnalysisPolicy.safeParse({ maxErrorRatio: 0.1 });
    expect(result.success).toBe(false);
    expect(z.prettifyError(result.error!)).toMatch(/maxErrorRatio/);
  });
});

describe('judgeCanary', () => {
  it('is inconclusive when the canary served too few requests', () => {
    const result = judgeCanary(counts(12, 0), counts(500, 0), policy);
    expect(result.verdict).toBe('inconclusive');
    expect(result.reasons).toEqual(['canary served 12 requests, fewer than the 50 needed']);
  });

  it('is inconclusive when the baseline served too few requests, even with a bad canary', () => {
    const result = judgeCanary(counts(300, 300), counts(30, 0), policy);
    expect(result.verdict).toBe('inconclusive');
    expect(result.reasons).toEqual(['baseline served 30 requests, fewer than the 50 needed']);
  });

  it('names both sides when both served too few requests', () => {
    const result = judgeCanary(counts(0, 0), counts(49, 0), policy);
    expect(result.reasons).toEqual([
      'canary served 0 requests, fewer than the 50 needed',
      'baseline served 49 requests, fewer than the 50 needed',
    ]);
  });

  it('fails a canary at 30% errors against a clean baseline, citing the ceiling', () => {
    const result = judgeCanary(counts(300, 90), counts(300, 0), policy);
    expect(result.verdict).toBe('fail');
    expect(result.reasons).toContain('error rate 30.0% (90 of 300) is above the 5.0% ceiling');
    expect(result.canary.errorRate).toBe(0.3);
    expect(result.baseline.errorRate).toBe(0);
  });

  it('fails a canary at 3% against a baseline at 0.5% when the increase is significant', () => {
    const result = judgeCanary(counts(1000, 30), counts(1000, 5), policy);
    expect(result.verdict).toBe('fail');
    expect(result.reasons).toHaveLength(1);
    expect(result.reasons[0]).toBe(
      "error rate 3.0% (30 of 1000) is 2.5 points above the baseline's 0.5% (5 of 1000), more than the 1.0-point " +
        'limit and significant at 99% confidence (z 4.26 > 2.33)',
    );
  });

  it('passes the same rates when there are too few requests for the increase to be significant', () => {
    // z is about 1.78 here, below the 2.33 needed at 99%: the same 2.5-point increase could be noise.
    const result = judgeCanary(counts(100, 3), counts(200, 1), policy);
    expect(result.verdict).toBe('pass');
    expect(result.canary.errorRate).toBe(0.03);
    expect(result.baseline.errorRate).toBe(0.005);
    // At a lower confidence the same window is significant (critical value 1.64).
    const lenient = judgeCanary(counts(100, 3), counts(200, 1), AnalysisPolicy.parse({ confidence: 0.95 }));
    expect(lenient.verdict).toBe('fail');
    expect(lenient.reasons[0]).toMatch(/significant at 95% confidence \(z 1\.78 > 1\.64\)/);
  });

  it('passes a canary at 1% against a baseline at 1%, summarising both sides', () => {
    const result = judgeCanary(counts(1000, 10), counts(1000, 10), policy);
    expect(result.verdict).toBe('pass');
    expect(result.reasons).toEqual([
      'error rate 1.0% (10 of 1000) vs baseline 1.0% (10 of 1000); p95 latency 48.8 ms vs baseline 48.8 ms; ' +
        'within the policy',
    ]);
  });

  it('passes when neither side had an error, without NaN anywhere', () => {
    const result = judgeCanary(counts(100, 0), counts(100, 0), policy);
    expect(result.verdict).toBe('pass');
    expect(result.canary).toEqual({ requests: 100, errors: 0, errorRate: 0, p95Ms: 48.75, meanMs: 50 });
    expect(result.reasons[0]).not.toMatch(/NaN/);
  });

  it('fails a canary whose p95 is 3x the baseline and 100 ms slower', () => {
    const result = judgeCanary(counts(1000, 0, { 100: 925, 250: 75 }), counts(1000, 0, { 50: 950, 100: 50 }), policy);
    expect(result.verdict).toBe('fail');
    expect(result.canary.p95Ms).toBe(150);
    expect(result.baseline.p95Ms).toBe(50);
    expect(result.reasons).toEqual([
      "p95 latency 150 ms is 3.0x the baseline's 50 ms (+100 ms), above the 1.5x and +25 ms limits",
    ]);
  });

  it('passes a canary whose p95 is 1.6x the baseline but only 3 ms slower', () => {
    const canary = counts(1000, 0, { 5: 875, 10: 125 });
    const baseline = counts(1000, 0, { 5: 950, 10: 50 });
    const result = judgeCanary(canary, baseline, policy);
    expect(result.verdict).toBe('pass');
    expect(result.canary.p95Ms).toBeCloseTo(8, 9);
    expect(result.baseline.p95Ms).toBe(5);
    expect(result.reasons[0]).toMatch(/p95 latency 8 ms vs baseline 5 ms/);
    // Without the absolute floor the same ratio fails: the floor is what lets it through.
    const strict = judgeCanary(canary, baseline, AnalysisPolicy.parse({ minLatencyIncreaseMs: 0 }));
    expect(strict.verdict).toBe('fail');
  });

  it('reports every rule that failed', () => {
    const result = judgeCanary(counts(1000, 300, { 500: 1000 }), counts(1000, 0, { 50: 1000 }), policy);
    expect(result.verdict).toBe('fail');
    expect(result.reasons).toHaveLength(3);
    expect(result.reasons[0]).toMatch(/above the 5\.0% ceiling/);
    expect(result.reasons[1]).toMatch(/30\.0 points above the baseline's 0\.0% \(0 of 1000\)/);
    expect(result.reasons[2]).toMatch(/^p95 latency 487\.5 ms is 10\.0x the baseline's 48\.8 ms/);
  });
});
