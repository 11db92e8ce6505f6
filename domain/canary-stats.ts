// Statistics for canary verdicts that hold up when someone looks at every interval of a bake (issue 11). Pure maths, no
// clock, randomness or I/O, so workflows may import it. domain/sequential-judge.ts combines these tests into one
// verdict per look; judgeCanary in canary.ts is the old fixed-window judge and is left as it was.
//
// ERROR RATE, FAIL: a mixture sequential probability ratio test (mSPRT) on how errors split between the two versions.
//   Why not the normal-mixture mSPRT on the difference of proportions (Johari et al., Optimizely)? That one rests on a
//   normal approximation of the difference, and with error rates of 0-2% and a few hundred requests per look the
//   approximation is far off: canary 2/200 against baseline 0/2000 gives it a likelihood ratio near 2,000 (a "fail" at
//   alpha 0.01), while the exact probability of all errors landing on the canary is (200/2200)^2 = 0.8%.
//   Instead, condition on the errors: in each look, given that k errors happened, each came from the canary with
//   probability s = canary's share of the look's requests if the two error rates are equal (Poisson thinning), and
//   with probability r*s / (r*s + 1 - s) if the canary's rate is r times the baseline's. The likelihood ratio of r
//   against r = 1, multiplied over looks and averaged over a prior on r, is a test supermartingale whenever the canary
//   is no worse than the baseline (p_canary <= p_baseline in every look, whatever the baseline rate is and however it
//   drifts): with binomial rather than Poisson requests the split is hypergeometric, which is smaller in convex order
//   than the binomial (Hoeffding 1963), so the expectation only goes down. Ville's inequality then gives
//   P(likelihood ratio ever >= 1/alpha) <= alpha however many looks are taken. No asymptotics are involved.
//   Prior: equal weight on 16 rate ratios spaced log-uniformly from 1.5x to 1000x. Ratios below 1.5x cannot be shown
//   in a bake of a few thousand requests anyway; the top of the grid lets "10 errors of 20 against 0 of 78" fail at once.
//
// ERROR RATE, PASS: an always-valid upper bound on p_canary - p_baseline. Each version's rate gets a confidence
//   sequence from the beta-binomial mixture martingale (Robbins' conjugate mixture; prior Beta(1, 50), i.e. "a few
//   percent"), each at alpha/2; on the event that both hold at every look, p_canary - p_baseline <= upper(canary) -
//   lower(baseline). So P(ever passing a canary worse than the margin) <= alpha, exactly, at any number of looks.
//
// LATENCY: one-sided Mann-Whitney U (canary slower?), normal approximation with tie correction and continuity
//   correction, plus effect-size floors as Kayenta's judge has: the probability of superiority P(canary > baseline)
//   (+ half the ties) must reach a floor AND the canary's median must be a given fraction slower, so a 3% slowdown on
//   huge samples, significant but harmless, does not fail. On histograms every bucket is a group of tied values. U
//   depends only on order, so which value stands for a bucket (midpoint or upper bound) does not change U, z or p;
//   what the coarsening loses is the order inside a bucket, which pulls U towards n1*n0/2 (conservative), and the tie
//   correction shrinks the variance to match. Medians on histograms are interpolated inside the bucket.
//   Mann-Whitney is a fixed-sample test; see sequential-judge.ts for how its alpha is spent across looks.
import { quantileFromBuckets } from './canary';

export interface ErrorCounts {
  requests: number;
  errors: number;
}

// ---------------------------------------------------------------------------------------------------------------------
// Numerical helpers

/** Complementary error function (Numerical Recipes' erfcc, relative error below 1.2e-7 everywhere). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** P(Z > z) for a standard normal Z, accurate in the far tail. */
export function normalUpperTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos, g = 7). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = LANCZOS[0] ?? 0;
  const t = y + 7.5;
  for (let i = 1; i < LANCZOS.length; i++) a += (LANCZOS[i] ?? 0) / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

function logMeanExp(values: readonly number[]): number {
  const max = Math.max(...values);
  if (max === -Infinity) return -Infinity;
  const sum = values.reduce((acc, v) => acc + Math.exp(v - max), 0);
  return max + Math.log(sum / values.length);
}

// ---------------------------------------------------------------------------------------------------------------------
// Error rate: mSPRT on the split of errors (fail)

const GRID_SIZE = 16;
const GRID_LOW = 1.5;
const GRID_HIGH = 1000;

/** Canary/baseline error-rate ratios the mixture weighs equally (log-uniform, 1.5x to 1000x). */
export const RATE_RATIO_GRID: readonly number[] = Array.from({ length: GRID_SIZE }, (_, i) =>
  Math.exp(Math.log(GRID_LOW) + (i * (Math.log(GRID_HIGH) - Math.log(GRID_LOW))) / (GRID_SIZE - 1)),
);

/** What the error test remembers between looks; plain numbers, so a workflow can keep it in its state. */
export interface ErrorTestState {
  looks: number;
  canary: ErrorCounts;
  baseline: ErrorCounts;
  /** log likelihood ratio of each RATE_RATIO_GRID entry against "equal rates", accumulated over looks. */
  logLikelihoodRatios: number[];
}

/** The error test before the first look. */
export function startErrorTest(): ErrorTestState {
  return {
    looks: 0,
    canary: { requests: 0, errors: 0 },
    baseline: { requests: 0, errors: 0 },
    logLikelihoodRatios: RATE_RATIO_GRID.map(() => 0),
  };
}

function checkCounts(name: string, counts: ErrorCounts): void {
  const { requests, errors } = counts;
  if (!Number.isInteger(requests) || !Number.isInteger(errors) || requests < 0 || errors < 0 || errors > requests) {
    throw new RangeError(`${name} needs whole counts with 0 <= errors <= requests, got ${errors}/${requests}`);
  }
}

/** Adds one look's requests and errors (what the look added, not cumulative totals) to the error test. */
export function updateErrorTest(state: ErrorTestState, canary: ErrorCounts, baseline: ErrorCounts): ErrorTestState {
  checkCounts('canary', canary);
  checkCounts('baseline', baseline);
  const total = canary.requests + baseline.requests;
  const errors = canary.errors + baseline.errors;
  const share = total > 0 ? canary.requests / total : 0;
  const logLikelihoodRatios = state.logLikelihoodRatios.map((logLr, i) => {
    // A look without errors, or with one version idle, says nothing about how errors split.
    if (errors === 0 || share === 0 || share === 1) return logLr;
    const ratio = RATE_RATIO_GRID[i] ?? 1;
    return logLr + canary.errors * Math.log(ratio) - errors * Math.log(1 + (ratio - 1) * share);
  });
  return {
    looks: state.looks + 1,
    canary: { requests: state.canary.requests + canary.requests, errors: state.canary.errors + canary.errors },
    baseline: {
      requests: state.baseline.requests + baseline.requests,
      errors: state.baseline.errors + baseline.errors,
    },
    logLikelihoodRatios,
  };
}

/** The mixture likelihood ratio "canary worse" against "canary no worse"; fail when it reaches 1/alpha. */
export function errorLikelihoodRatio(state: ErrorTestState): number {
  return Math.exp(logMeanExp(state.logLikelihoodRatios));
}

// ---------------------------------------------------------------------------------------------------------------------
// Error rate: confidence sequences (pass)

const PRIOR_A = 1;
const PRIOR_B = 50;

function bisect(inside: (p: number) => boolean, insideEnd: number, outsideEnd: number): number {
  let a = insideEnd;
  let b = outsideEnd;
  // 45 halvings leave the bound within 3e-14 of the boundary.
  for (let i = 0; i < 45; i++) {
    const mid = (a + b) / 2;
    if (inside(mid)) a = mid;
    else b = mid;
  }
  return a;
}

/** Always-valid two-sided confidence sequence for one version's error rate: holds at every look with prob. 1 - alpha. */
export function errorRateConfidenceSequence(counts: ErrorCounts, alpha: number): { lower: number; upper: number } {
  checkCounts('counts', counts);
  const { requests, errors } = counts;
  // p is outside the sequence where the beta-binomial mixture martingale, B(a + x, b + n - x) / B(a, b) divided by
  // the likelihood p^x (1 - p)^(n - x), reaches 1/alpha.
  const logMixture = logBeta(PRIOR_A + errors, PRIOR_B + requests - errors) - logBeta(PRIOR_A, PRIOR_B);
  const threshold = Math.log(1 / alpha) - logMixture;
  const inside = (p: number): boolean => {
    const logLikelihood =
      (errors > 0 ? errors * Math.log(p) : 0) + (requests - errors > 0 ? (requests - errors) * Math.log(1 - p) : 0);
    return -logLikelihood < threshold;
  };
  const estimate = requests > 0 ? errors / requests : PRIOR_A / (PRIOR_A + PRIOR_B);
  const lower = errors === 0 || !inside(estimate) ? 0 : bisect(inside, estimate, 0);
  const upper = errors === requests ? 1 : bisect(inside, estimate, 1);
  return { lower, upper };
}

/** Always-valid upper bound on p_canary - p_baseline, holding at every look with probability 1 - alpha. */
export function errorIncreaseUpperBound(state: ErrorTestState, alpha: number): number {
  const canary = errorRateConfidenceSequence(state.canary, alpha / 2);
  const baseline = errorRateConfidenceSequence(state.baseline, alpha / 2);
  return canary.upper - baseline.lower;
}

// ---------------------------------------------------------------------------------------------------------------------
// Latency: Mann-Whitney U

export interface MannWhitneyResult {
  canaryCount: number;
  baselineCount: number;
  /** U of the canary: pairs where the canary is slower, plus half the ties. */
  u: number;
  /** U / (n_canary * n_baseline): P(canary slower) + P(tie)/2; 0.5 means no shift. */
  probabilityOfSuperiority: number;
  /** (U - n1*n0/2 - 0.5) / sd, with the tie-corrected sd; 0 when there is nothing to rank. */
  z: number;
  /** One-sided p-value for "the canary is slower". */
  pValue: number;
  canaryMedianMs: number | undefined;
  baselineMedianMs: number | undefined;
}

/** One value (or one bucket) shared by `canary` canary samples and `baseline` baseline samples. */
interface TiedGroup {
  canary: number;
  baseline: number;
}

function mannWhitneyFromGroups(
  groups: readonly TiedGroup[],
  canaryMedianMs: number | undefined,
  baselineMedianMs: number | undefined,
): MannWhitneyResult {
  let n1 = 0;
  let n0 = 0;
  for (const g of groups) {
    n1 += g.canary;
    n0 += g.baseline;
  }
  const n = n1 + n0;
  let u = 0;
  let baselineBelow = 0;
  let tieSum = 0;
  for (const g of groups) {
    // Counting pairs directly (rather than summing ranks) keeps U exact for large samples.
    u += g.canary * (baselineBelow + g.baseline / 2);
    baselineBelow += g.baseline;
    const t = g.canary + g.baseline;
    tieSum += t * t * t - t;
  }
  const pairs = n1 * n0;
  const variance = n > 1 ? (pairs / 12) * (n + 1 - tieSum / (n * (n - 1))) : 0;
  const z = variance > 0 ? (u - pairs / 2 - 0.5) / Math.sqrt(variance) : 0;
  return {
    canaryCount: n1,
    baselineCount: n0,
    u,
    probabilityOfSuperiority: pairs > 0 ? u / pairs : 0.5,
    z,
    pValue: variance > 0 ? normalUpperTail(z) : 1,
    canaryMedianMs,
    baselineMedianMs,
  };
}

function median(sorted: readonly number[]): number | undefined {
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? 0;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? 0) + hi) / 2;
}

/** Mann-Whitney U on raw latency samples (ms): is the canary slower than the baseline? */
export function mannWhitneySamples(canary: readonly number[], baseline: readonly number[]): MannWhitneyResult {
  const c = [...canary].sort((a, b) => a - b);
  const b = [...baseline].sort((x, y) => x - y);
  const groups: TiedGroup[] = [];
  let i = 0;
  let j = 0;
  while (i < c.length || j < b.length) {
    const value = Math.min(c[i] ?? Infinity, b[j] ?? Infinity);
    const group = { canary: 0, baseline: 0 };
    while (i < c.length && c[i] === value) {
      group.canary++;
      i++;
    }
    while (j < b.length && b[j] === value) {
      group.baseline++;
      j++;
    }
    groups.push(group);
  }
  return mannWhitneyFromGroups(groups, median(c), median(b));
}

const INF_BUCKET = '+Inf';

function bucketTotal(buckets: Record<string, number>): number {
  const finite = Object.entries(buckets)
    .filter(([key]) => key !== INF_BUCKET)
    .reduce((max, [, count]) => Math.max(max, count), 0);
  return buckets[INF_BUCKET] ?? finite;
}

/**
 * Mann-Whitney U on latency histograms (cumulative counts by upper bound in ms, "+Inf" for the rest, as MetricCounts
 * has them). Each bucket is one group of tied values. Only bounds present in both histograms are used (merging
 * buckets), so both versions are ranked on the same grid.
 */
export function mannWhitneyBuckets(
  canary: Record<string, number>,
  baseline: Record<string, number>,
): MannWhitneyResult {
  const bounds = Object.keys(canary)
    .filter((key) => key !== INF_BUCKET && key in baseline)
    .map((key) => ({ key, value: Number(key) }))
    .filter(({ value }) => Number.isFinite(value))
    .sort((a, b) => a.value - b.value);
  const groups: TiedGroup[] = [];
  let canaryBelow = 0;
  let baselineBelow = 0;
  for (const { key: bound } of bounds) {
    // Running max: a slightly inconsistent histogram must not produce a negative bucket.
    const c = Math.max(canary[bound] ?? 0, canaryBelow);
    const b = Math.max(baseline[bound] ?? 0, baselineBelow);
    groups.push({ canary: c - canaryBelow, baseline: b - baselineBelow });
    canaryBelow = c;
    baselineBelow = b;
  }
  groups.push({
    canary: Math.max(bucketTotal(canary) - canaryBelow, 0),
    baseline: Math.max(bucketTotal(baseline) - baselineBelow, 0),
  });
  return mannWhitneyFromGroups(groups, quantileFromBuckets(canary, 0.5), quantileFromBuckets(baseline, 0.5));
}

// ---------------------------------------------------------------------------------------------------------------------
// Plain words

const percent = (rate: number): string => `${Number((rate * 100).toFixed(2))}%`;

/** A number for a timeline line: 3 significant digits, scientific beyond 1e4 or below 1e-3. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e4 || abs < 1e-3)) return value.toExponential(1).replace('e+', 'e');
  return String(Number(value.toPrecision(3)));
}

/** "50% (10/20)". */
export function formatRate({ errors, requests }: ErrorCounts): string {
  return `${percent(requests > 0 ? errors / requests : 0)} (${errors}/${requests})`;
}

export { percent as formatPercent };
