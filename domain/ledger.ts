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

/**
 * The newest entry of `history` (oldest first) that is neither the version running now nor a version that a later
 * rollback moved away from. A version released again after its rollback counts as good again.
 */
export function lastKnownGood(
  history: readonly LedgerRecord[],
  runningVersion: string | undefined,
): LedgerRecord | undefined {
  const bad = new Set<string>(runningVersion ? [runningVersion] : []);
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i];
    if (!entry) continue;
    if (!bad.has(entry.version)) return entry;
    if (entry.rolledBackFrom) bad.add(entry.rolledBackFrom);
  }
  return undefined;
}

export type RollbackTarget =
  { kind: 'revert'; to: LedgerRecord } | { kind: 'already-good'; version: string } | { kind: 'none'; reason: string };

/**
 * Where an emergency rollback takes a region that runs `runningVersion`. The running version is the suspect when a
 * release put it there (or the ledger does not know it); a region that runs the version found before any release, or
 * one an earlier rollback put back, is already on its known-good version and is left alone.
 */
export function rollbackTarget(history: readonly LedgerRecord[], runningVersion: string | undefined): RollbackTarget {
  const latest = history.at(-1);
  if (runningVersion && latest?.version === runningVersion) {
    const putThereByRelease = latest.releaseId !== 'observed' && !latest.rolledBackFrom;
    if (!putThereByRelease) return { kind: 'already-good', version: runningVersion };
  }
  const target = lastKnownGood(history, runningVersion);
  return target
    ? { kind: 'revert', to: target }
    : { kind: 'none', reason: `no known-good version before ${runningVersion ?? 'nothing'} in the ledger` };
}
