// DORA figures of a service over a period, from what its releases and rollbacks did. Pure: the API gathers the
// facts (Temporal visibility, workflow results, the artifact store) and this decides what they mean.
//
// Definitions (the four keys of the DORA research, applied to one service):
// - deployment frequency: releases that succeeded, per day of the period;
// - lead time for changes: from the artifact's creation (when the change was built) to the release's success,
//   median and 90th percentile;
// - change failure rate: of the releases that finished in the period, the share that failed or rolled back, or that
//   succeeded and were later undone by an emergency rollback. A release aborted before it changed anything
//   (`aborted`) delivered no change, so it is neither a deployment nor a failure; it is counted on its own;
// - time to restore: how long the service ran a bad change: a rolled-back release that had changed a region, from the
//   moment it started rolling back to its end, and an emergency rollback from its request to its end; median.

import type { ReleaseResult } from './release-status';

/** One release that finished in the period. */
export interface FinishedRelease {
  releaseId: string;
  version: string;
  result: ReleaseResult;
  startedAt: string;
  finishedAt: string;
  /** When the artifact was created; unknown artifacts are left out of lead time. */
  artifactCreatedAt?: string;
  /** When the release began to roll back (rolled-back and failed releases), if known. */
  rollbackStartedAt?: string;
  /** The train it was a member of (its ReleaseTrain search attribute), if any. */
  train?: string;
  /**
   * The post-incident record of its failure, when not its own release id: a lockstep train's merged release failed
   * in a later member release, which opened the record (see mergeTrainReleases).
   */
  incident?: string;
}

/**
 * A train in lockstep releases a member once per environment: those releases are one change of the service, as a
 * release through every environment would be. Merged into one: from the first start to the last end, and the first
 * result that was not a success (else succeeded). Releases outside trains are left as they are.
 */
export function mergeTrainReleases(releases: readonly FinishedRelease[]): FinishedRelease[] {
  const merged = new Map<string, FinishedRelease>();
  const out: FinishedRelease[] = [];
  for (const release of [...releases].sort((a, b) => a.startedAt.localeCompare(b.startedAt))) {
    if (!release.train) {
      out.push(release);
      continue;
    }
    const key = `${release.train} ${release.version}`;
    const seen = merged.get(key);
    if (!seen) {
      const first = { ...release };
      merged.set(key, first);
      out.push(first);
      continue;
    }
    seen.finishedAt = release.finishedAt > seen.finishedAt ? release.finishedAt : seen.finishedAt;
    if (seen.result === 'succeeded' && release.result !== 'succeeded') {
      seen.result = release.result;
      seen.incident = release.incident ?? release.releaseId;
      if (release.rollbackStartedAt) seen.rollbackStartedAt = release.rollbackStartedAt;
    }
  }
  return out;
}

/** One emergency rollback that finished in the period. */
export interface FinishedRollback {
  rollbackId: string;
  requestedAt: string;
  finishedAt: string;
  /** The versions it took regions away from. */
  undidVersions: string[];
}

export interface DoraPeriod {
  from: string;
  to: string;
}

export interface DoraFigures {
  service: string;
  period: DoraPeriod;
  releases: { finished: number; succeeded: number; rolledBack: number; failed: number; aborted: number };
  deploymentFrequency: { perDay: number; succeeded: number; days: number };
  leadTimeSeconds: { median: number | null; p90: number | null; samples: number };
  changeFailureRate: { rate: number | null; failures: number; finished: number };
  timeToRestoreSeconds: { median: number | null; samples: number };
  /**
   * The change failures counted above, each with the post-incident record it opened (incident.get with the service
   * and this id): its own release id for a release that rolled back or failed, the rollback's id for a release
   * undone by an emergency rollback.
   */
  changeFailures: { releaseId: string; version: string; result: ReleaseResult; incident: string }[];
  /** The restores counted above, each with its post-incident record: the release's, or the emergency rollback's. */
  restores: { incident: string; kind: 'release' | 'emergency-rollback'; seconds: number }[];
  /** The same figures in words, for people (CLI, web page). */
  summary: string[];
}

const DAY_MS = 86_400_000;

function seconds(from: string, to: string): number {
  return Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
}

/** The q-quantile (0..1) of `values` by the nearest-rank method; null when there are none. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? null;
}

/** A duration for people: 45s, 12m, 3.5h, 2.1d. */
export function humanDuration(totalSeconds: number): string {
  if (totalSeconds < 90) return `${Math.round(totalSeconds)}s`;
  if (totalSeconds < 90 * 60) return `${Math.round(totalSeconds / 60)}m`;
  if (totalSeconds < 36 * 3600) return `${(totalSeconds / 3600).toFixed(1)}h`;
  return `${(totalSeconds / 86_400).toFixed(1)}d`;
}

export function computeDora(
  service: string,
  period: DoraPeriod,
  releases: readonly FinishedRelease[],
  rollbacks: readonly FinishedRollback[],
): DoraFigures {
  const days = Math.max((Date.parse(period.to) - Date.parse(period.from)) / DAY_MS, 1 / 24);
  const succeeded = releases.filter((r) => r.result === 'succeeded');
  // A rollback undoes the latest successful release of each version it took regions away from (release id -> the
  // first rollback that undid it, whose record is the failure's).
  const undone = new Map<string, string>();
  for (const rb of rollbacks) {
    for (const version of rb.undidVersions) {
      const before = succeeded.filter((r) => r.version === version && r.finishedAt <= rb.requestedAt);
      const latest = before.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt)).at(-1);
      if (latest && !undone.has(latest.releaseId)) undone.set(latest.releaseId, rb.rollbackId);
    }
  }
  // An aborted release changed nothing: not a change, so not a change failure either.
  const changes = releases.filter((r) => r.result !== 'aborted');
  const failures = changes.filter((r) => r.result !== 'succeeded' || undone.has(r.releaseId));

  const leadTimes = succeeded.flatMap((r) => (r.artifactCreatedAt ? [seconds(r.artifactCreatedAt, r.finishedAt)] : []));
  const restored = [
    ...changes.flatMap((r) =>
      r.result !== 'succeeded' && r.rollbackStartedAt
        ? [
            {
              incident: r.incident ?? r.releaseId,
              kind: 'release' as const,
              seconds: seconds(r.rollbackStartedAt, r.finishedAt),
            },
          ]
        : [],
    ),
    ...rollbacks.map((rb) => ({
      incident: rb.rollbackId,
      kind: 'emergency-rollback' as const,
      seconds: seconds(rb.requestedAt, rb.finishedAt),
    })),
  ];
  const restores = restored.map((r) => r.seconds);

  const figures: Omit<DoraFigures, 'summary'> = {
    service,
    period,
    releases: {
      finished: releases.length,
      succeeded: succeeded.length,
      rolledBack: releases.filter((r) => r.result === 'rolled-back').length,
      failed: releases.filter((r) => r.result === 'failed').length,
      aborted: releases.length - changes.length,
    },
    deploymentFrequency: { perDay: round(succeeded.length / days), succeeded: succeeded.length, days: round(days) },
    leadTimeSeconds: { median: quantile(leadTimes, 0.5), p90: quantile(leadTimes, 0.9), samples: leadTimes.length },
    changeFailureRate: {
      rate: changes.length > 0 ? round(failures.length / changes.length) : null,
      failures: failures.length,
      finished: changes.length,
    },
    timeToRestoreSeconds: { median: quantile(restores, 0.5), samples: restores.length },
    changeFailures: failures.map((r) => ({
      releaseId: r.releaseId,
      version: r.version,
      result: r.result,
      incident: undone.get(r.releaseId) ?? r.incident ?? r.releaseId,
    })),
    restores: restored,
  };
  return { ...figures, summary: summarize(figures) };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function summarize(f: Omit<DoraFigures, 'summary'>): string[] {
  const { deploymentFrequency: df, leadTimeSeconds: lt, changeFailureRate: cfr, timeToRestoreSeconds: ttr } = f;
  const aborted = f.releases.aborted > 0 ? `; ${f.releases.aborted} aborted before changing anything, not counted` : '';
  return [
    `deployment frequency: ${df.perDay} successful releases per day (${df.succeeded} in ${df.days} days)`,
    lt.median === null
      ? 'lead time for changes: no successful release with a known artifact'
      : `lead time for changes: median ${humanDuration(lt.median)}, p90 ${humanDuration(lt.p90 ?? lt.median)} (${lt.samples} releases)`,
    cfr.rate === null
      ? 'change failure rate: no finished release'
      : `change failure rate: ${(cfr.rate * 100).toFixed(1)}% (${cfr.failures} of ${cfr.finished} releases)${aborted}`,
    ttr.median === null
      ? 'time to restore: nothing needed restoring'
      : `time to restore: median ${humanDuration(ttr.median)} (${ttr.samples} restores)`,
  ];
}
