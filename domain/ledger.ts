// Reading the version ledger: which version of a region is the last known-good one to roll back to.

export interface LedgerRecord {
  version: string;
  releaseId: string;
  recordedAt: string;
  digest?: string;
  /** Set on entries written by a rollback: the version that was rolled back from (known bad). */
  rolledBackFrom?: string;
  reason?: string;
}

/** Versions a rollback must not go to, each with why (e.g. its artifact was demoted by a rolled-back release). */
export type UnsafeVersions = ReadonlyMap<string, string>;

const NONE: UnsafeVersions = new Map();

/**
 * The newest entry of `history` (oldest first) that is neither the version running now, nor a version that a later
 * rollback moved away from, nor one of the `unsafe` versions. A version released again after its rollback counts as
 * good again.
 */
export function lastKnownGood(
  history: readonly LedgerRecord[],
  runningVersion: string | undefined,
  unsafe: UnsafeVersions = NONE,
): LedgerRecord | undefined {
  const bad = new Set<string>(runningVersion ? [runningVersion] : []);
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i];
    if (!entry) continue;
    if (!bad.has(entry.version) && !unsafe.has(entry.version)) return entry;
    if (entry.rolledBackFrom) bad.add(entry.rolledBackFrom);
  }
  return undefined;
}

export type RollbackTarget =
  | { kind: 'revert'; to: LedgerRecord; why: string }
  | { kind: 'already-good'; version: string; why: string }
  | { kind: 'none'; reason: string };

/**
 * Where an emergency rollback takes a region that runs `runningVersion`, and why, in words for the timeline. The
 * running version is the suspect when a release put it there (or the ledger does not know it, or it is unsafe); a
 * region that runs the version found before any release, or one an earlier rollback put back, is already on its
 * known-good version and is left alone. A target is never an `unsafe` version.
 */
export function rollbackTarget(
  history: readonly LedgerRecord[],
  runningVersion: string | undefined,
  unsafe: UnsafeVersions = NONE,
): RollbackTarget {
  const latest = history.at(-1);
  if (runningVersion && latest?.version === runningVersion && !unsafe.has(runningVersion)) {
    if (latest.releaseId === 'observed') {
      return { kind: 'already-good', version: runningVersion, why: 'it was running before any release changed it' };
    }
    if (latest.rolledBackFrom) {
      return {
        kind: 'already-good',
        version: runningVersion,
        why: `${latest.releaseId} put it back (from ${latest.rolledBackFrom})`,
      };
    }
  }
  const skipped = [...unsafe].filter(([version]) =>
    history.some((e) => e.version === version && version !== runningVersion),
  );
  const avoided =
    skipped.length > 0 ? `; not ${skipped.map(([version, why]) => `${version} (${why})`).join(', ')}` : '';
  const target = lastKnownGood(history, runningVersion, unsafe);
  if (!target) {
    return {
      kind: 'none',
      reason: `no known-good version before ${runningVersion ?? 'nothing'} in the ledger${avoided}`,
    };
  }
  const source =
    target.releaseId === 'observed'
      ? 'found running before any release'
      : target.rolledBackFrom
        ? `put back by ${target.releaseId}`
        : `released by ${target.releaseId}`;
  const suspect = runningVersion
    ? unsafe.has(runningVersion)
      ? `${runningVersion} is unsafe (${unsafe.get(runningVersion)})`
      : `a release put ${runningVersion} there`
    : 'nothing runs there';
  return {
    kind: 'revert',
    to: target,
    why: `${suspect}; ${target.version} is the newest known-good version in its ledger (${source})${avoided}`,
  };
}
