// The sequential canary judge (issue 11): called at every look of a bake with what the look added, it answers fail,
// pass, continue, or (at the last planned look) inconclusive, with each test's numbers in plain words. Pure, so a
// workflow can keep JudgeState in its own state and call judgeLook directly. Not yet wired in; judgeCanary is unchanged.
//
// What is guaranteed, with looks taken at any times the workflow likes:
// - False fail. If the canary's error rate is no higher than the baseline's and its latency distribution is the same,
//   P(a "fail" at any look up to plannedLooks) <= alpha. alpha is split Bonferroni-style: (1 - latencyAlphaShare) *
//   alpha goes to the error mSPRT, which holds for any number of looks and needs no approximation; latencyAlphaShare *
//   alpha is spent on Mann-Whitney in equal parts of alpha_latency / plannedLooks per look (a union bound over looks,
//   which holds however correlated the cumulative looks are, resting only on the normal approximation of U). Looks
//   beyond plannedLooks have no latency alpha left, so latency cannot fail there; the error test still can.
// - False pass. P(a "pass" at any look while p_canary - p_baseline > maxErrorRateIncrease) <= passAlpha, exactly.
//   Latency takes part in a pass only through point estimates (both effect-size floors must not be exceeded); it is not
//   an equivalence test.
// Latency samples are assumed exchangeable within the bake for each version; canary and baseline share the windows, so
// load swings affect both.
import { z } from 'zod';
import { type MetricCounts } from './canary';
import {
  type ErrorCounts,
  type ErrorTestState,
  errorIncreaseUpperBound,
  errorLikelihoodRatio,
  formatNumber,
  formatPercent,
  formatRate,
  mannWhitneyBuckets,
  startErrorTest,
  updateErrorTest,
} from './canary-stats';

export const SequentialPolicy = z.strictObject({
  /** Chance, over a whole bake of up to plannedLooks looks, of failing a canary that is no worse than the baseline. */
  alpha: z.number().gt(0).lt(0.5).default(0.01),
  /** Part of alpha spent on latency (Mann-Whitney); the rest goes to the error-rate mSPRT. */
  latencyAlphaShare: z.number().min(0).max(1).default(0.5),
  /** Looks the bake is planned to take; latency alpha is spent in equal parts over them. */
  plannedLooks: z.number().int().min(1).default(20),
  /** A pass needs an always-valid bound showing the canary's error rate exceeds the baseline's by less than this. */
  maxErrorRateIncrease: z.number().gt(0).max(1).default(0.01),
  /** Chance of ever passing a canary whose error rate exceeds the baseline's by more than maxErrorRateIncrease. */
  passAlpha: z.number().gt(0).lt(0.5).default(0.05),
  /** No pass before the canary has served this many requests. */
  minRequests: z.number().int().min(1).default(200),
  /** Latency fails only if P(canary slower) (+ half the ties) reaches this ... */
  minProbabilityOfSuperiority: z.number().min(0.5).max(1).default(0.6),
  /** ... and the canary's median is at least this fraction slower (0.1 = 10%) ... */
  minMedianSlowdown: z.number().min(0).default(0.1),
  /** ... and each version has at least this many latency samples (also needed for a pass). */
  minLatencySamples: z.number().int().min(2).default(20),
});
export type SequentialPolicy = z.infer<typeof SequentialPolicy>;

export type SequentialDecision = 'fail' | 'pass' | 'continue' | 'inconclusive';

export interface ErrorRateEvidence {
  test: 'mSPRT error rate';
  canary: ErrorCounts;
  baseline: ErrorCounts;
  /** Mixture likelihood ratio "canary worse" against "canary no worse". */
  statistic: number;
  /** 1 / alpha. */
  threshold: number;
  alpha: number;
  outcome: 'fail' | 'no evidence of harm yet';
  line: string;
}

export interface ErrorIncreaseEvidence {
  test: 'error-rate confidence sequence';
  canary: ErrorCounts;
  baseline: ErrorCounts;
  /** Always-valid upper bound on p_canary - p_baseline. */
  statistic: number;
  /** maxErrorRateIncrease. */
  threshold: number;
  alpha: number;
  minRequests: number;
  outcome: 'within margin' | 'not shown yet';
  line: string;
}

export interface LatencyEvidence {
  test: 'Mann-Whitney latency';
  canary: { samples: number; medianMs: number | undefined };
  baseline: { samples: number; medianMs: number | undefined };
  /** z of U (tie- and continuity-corrected). */
  statistic: number;
  pValue: number;
  probabilityOfSuperiority: number;
  /** canary median / baseline median - 1; undefined without medians or with a zero baseline median. */
  medianSlowdown: number | undefined;
  /** This look's share of the latency alpha. */
  alpha: number;
  threshold: { minProbabilityOfSuperiority: number; minMedianSlowdown: number; minSamples: number };
  outcome: 'fail' | 'too few samples' | 'within floors' | 'slower, not shown yet';
  line: string;
}

export interface SequentialVerdict {
  decision: SequentialDecision;
  /** 1-based number of this look. */
  look: number;
  /** One plain-words line per test, the deciding ones first. */
  reasons: string[];
  evidence: { errorRate: ErrorRateEvidence; errorIncrease: ErrorIncreaseEvidence; latency: LatencyEvidence };
}

export interface JudgeState {
  errors: ErrorTestState;
  /** Cumulative latency histograms over the bake so far (count at or below each bound, as in MetricCounts). */
  canaryLatency: Record<string, number>;
  baselineLatency: Record<string, number>;
}

/** The judge before the first look of a bake. */
export function startJudge(): JudgeState {
  return { errors: startErrorTest(), canaryLatency: {}, baselineLatency: {} };
}

function addBuckets(total: Record<string, number>, window: Record<string, number>): Record<string, number> {
  const sum = { ...total };
  for (const [bound, count] of Object.entries(window)) sum[bound] = (sum[bound] ?? 0) + count;
  return sum;
}

const ms = (value: number | undefined): string => (value === undefined ? 'unknown' : `${formatNumber(value)} ms`);
const points = (rate: number): string => `${formatNumber(rate * 100)} points`;

function judgeErrorRate(state: ErrorTestState, alpha: number): ErrorRateEvidence {
  const statistic = errorLikelihoodRatio(state);
  const threshold = 1 / alpha;
  const fail = statistic >= threshold;
  return {
    test: 'mSPRT error rate',
    canary: state.canary,
    baseline: state.baseline,
    statistic,
    threshold,
    alpha,
    outcome: fail ? 'fail' : 'no evidence of harm yet',
    line:
      `error rate ${formatRate(state.canary)} vs ${formatRate(state.baseline)}: mSPRT likelihood ratio ` +
      `${formatNumber(statistic)} ${fail ? '≥' : '<'} 1/α = ${formatNumber(threshold)}` +
      (fail ? ' → fail' : ' (no evidence the canary errs more)'),
  };
}

function judgeErrorIncrease(state: ErrorTestState, policy: SequentialPolicy): ErrorIncreaseEvidence {
  const statistic = errorIncreaseUpperBound(state, policy.passAlpha);
  const enough = state.canary.requests >= policy.minRequests;
  const within = enough && statistic < policy.maxErrorRateIncrease;
  const confidence = `${formatNumber((1 - policy.passAlpha) * 100)}%`;
  const bound = `${points(Math.max(statistic, 0))} (always-valid ${confidence} bound)`;
  return {
    test: 'error-rate confidence sequence',
    canary: state.canary,
    baseline: state.baseline,
    statistic,
    threshold: policy.maxErrorRateIncrease,
    alpha: policy.passAlpha,
    minRequests: policy.minRequests,
    outcome: within ? 'within margin' : 'not shown yet',
    line: !enough
      ? `error-rate increase: canary served ${state.canary.requests} requests, fewer than the ${policy.minRequests} a pass needs`
      : `error-rate increase at most ${bound} ${within ? '<' : '≥'} the ${points(policy.maxErrorRateIncrease)} ` +
        `tolerated` +
        (within ? ' → within margin' : ' (not yet shown to be within margin)'),
  };
}

function judgeLatency(state: JudgeState, look: number, policy: SequentialPolicy): LatencyEvidence {
  const result = mannWhitneyBuckets(state.canaryLatency, state.baselineLatency);
  const alpha = look <= policy.plannedLooks ? (policy.alpha * policy.latencyAlphaShare) / policy.plannedLooks : 0;
  const { canaryMedianMs, baselineMedianMs, probabilityOfSuperiority, z: statistic, pValue } = result;
  const medianSlowdown =
    canaryMedianMs !== undefined && baselineMedianMs !== undefined && baselineMedianMs > 0
      ? canaryMedianMs / baselineMedianMs - 1
      : undefined;
  const enough = Math.min(result.canaryCount, result.baselineCount) >= policy.minLatencySamples;
  const aboveFloors =
    probabilityOfSuperiority >= policy.minProbabilityOfSuperiority &&
    medianSlowdown !== undefined &&
    medianSlowdown >= policy.minMedianSlowdown;
  const significant = pValue < alpha;
  const outcome: LatencyEvidence['outcome'] = !enough
    ? 'too few samples'
    : !aboveFloors
      ? 'within floors'
      : significant
        ? 'fail'
        : 'slower, not shown yet';

  const slowdown =
    medianSlowdown === undefined ? '' : ` (${medianSlowdown >= 0 ? '+' : ''}${formatPercent(medianSlowdown)})`;
  const head = `median latency ${ms(canaryMedianMs)} vs ${ms(baselineMedianMs)}${slowdown}`;
  const mw =
    `Mann-Whitney z ${formatNumber(statistic)}, p ${formatNumber(pValue)} ${significant ? '<' : '≥'} α ${formatNumber(alpha)}` +
    (look > policy.plannedLooks ? ' (latency alpha spent: look beyond the planned ' + policy.plannedLooks + ')' : '');
  const floors =
    `P(canary slower) ${formatNumber(probabilityOfSuperiority)} vs floor ${policy.minProbabilityOfSuperiority}, ` +
    `median slowdown floor ${formatPercent(policy.minMedianSlowdown)}`;
  const tail: Record<LatencyEvidence['outcome'], string> = {
    fail: ' → fail',
    'too few samples': ` (fewer than ${policy.minLatencySamples} samples on one side)`,
    'within floors': ' → within the effect-size floors',
    'slower, not shown yet': ' (slower beyond the floors, not yet significant)',
  };
  return {
    test: 'Mann-Whitney latency',
    canary: { samples: result.canaryCount, medianMs: canaryMedianMs },
    baseline: { samples: result.baselineCount, medianMs: baselineMedianMs },
    statistic,
    pValue,
    probabilityOfSuperiority,
    medianSlowdown,
    alpha,
    threshold: {
      minProbabilityOfSuperiority: policy.minProbabilityOfSuperiority,
      minMedianSlowdown: policy.minMedianSlowdown,
      minSamples: policy.minLatencySamples,
    },
    outcome,
    line: `${head}: ${mw}; ${floors}${tail[outcome]}`,
  };
}

/**
 * Judges one look of a bake. `canary` and `baseline` are what this look added (windowCounts of the look's snapshots);
 * `final` marks the last look, where neither fail nor pass gives "inconclusive" (also implied at plannedLooks).
 */
export function judgeLook(
  state: JudgeState,
  canary: MetricCounts,
  baseline: MetricCounts,
  policy: SequentialPolicy,
  options: { final?: boolean } = {},
): { state: JudgeState; verdict: SequentialVerdict } {
  const next: JudgeState = {
    errors: updateErrorTest(state.errors, canary, baseline),
    canaryLatency: addBuckets(state.canaryLatency, canary.latencyBuckets),
    baselineLatency: addBuckets(state.baselineLatency, baseline.latencyBuckets),
  };
  const look = next.errors.looks;
  const errorRate = judgeErrorRate(next.errors, policy.alpha * (1 - policy.latencyAlphaShare));
  const errorIncrease = judgeErrorIncrease(next.errors, policy);
  const latency = judgeLatency(next, look, policy);

  const failing = [errorRate, latency].filter((e) => e.outcome === 'fail');
  const pass = errorIncrease.outcome === 'within margin' && latency.outcome === 'within floors';
  const final = options.final === true || look >= policy.plannedLooks;
  const decision: SequentialDecision =
    failing.length > 0 ? 'fail' : pass ? 'pass' : final ? 'inconclusive' : 'continue';

  const all = [errorRate, errorIncrease, latency];
  const deciding = decision === 'fail' ? failing : all;
  const reasons = [...deciding, ...all.filter((e) => !deciding.includes(e))].map((e) => e.line);
  return { state: next, verdict: { decision, look, reasons, evidence: { errorRate, errorIncrease, latency } } };
}
