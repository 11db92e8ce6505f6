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
