import { describe, expect, it } from 'vitest';
import { lastKnownGood, rollbackTarget, type LedgerRecord } from '../../domain/ledger';

const at = '2026-01-01T00:00:00.000Z';
const observed = (version: string): LedgerRecord => ({ version, releaseId: 'observed', recordedAt: at });
const released = (version: string, releaseId: string): LedgerRecord => ({ version, releaseId, recordedAt: at });
const rolledBack = (version: string, from: string): LedgerRecord => ({
  version,
  releaseId: 'rb',
  recordedAt: at,
  rolledBackFrom: from,
});

describe('last known-good version', () => {
  it('is the newest version other than the one running', () => {
    expect(lastKnownGood([observed('1.0.0'), released('1.1.0', 'r1')], '1.1.0')?.version).toBe('1.0.0');
    expect(lastKnownGood([observed('1.0.0'), released('1.1.0', 'r1')], '1.2.0')?.version).toBe('1.1.0');
  });

  it('skips versions that a rollback moved away from, unless released again later', () => {
    const history = [observed('1.0.0'), released('1.1.0', 'r1'), rolledBack('1.0.0', '1.1.0'), released('1.2.0', 'r2')];
    expect(lastKnownGood(history, '1.2.0')?.version).toBe('1.0.0');
    const rereleased = [...history.slice(0, 3), released('1.1.0', 'r3'), released('1.2.0', 'r4')];
    expect(lastKnownGood(rereleased, '1.2.0')?.version).toBe('1.1.0');
  });

  it('is nothing for an empty ledger or a single version', () => {
    expect(lastKnownGood([], '1.0.0')).toBeUndefined();
    expect(lastKnownGood([observed('1.0.0')], '1.0.0')).toBeUndefined();
  });
});

describe('emergency rollback target', () => {
  it('moves a region off a version a release put there', () => {
    expect(rollbackTarget([observed('1.0.0'), released('1.1.0', 'r1')], '1.1.0')).toMatchObject({
      kind: 'revert',
      to: { version: '1.0.0' },
    });
  });

  it('leaves a region that runs its baseline or what a rollback put back', () => {
    expect(rollbackTarget([observed('1.0.0')], '1.0.0')).toEqual({ kind: 'already-good', version: '1.0.0' });
    expect(rollbackTarget([observed('1.0.0'), released('1.1.0', 'r1'), rolledBack('1.0.0', '1.1.0')], '1.0.0')).toEqual(
      {
        kind: 'already-good',
        version: '1.0.0',
      },
    );
  });

  it('treats a version the ledger does not know (mid-release canary, manual change) as the suspect', () => {
    expect(rollbackTarget([observed('1.0.0')], '1.1.0')).toMatchObject({ kind: 'revert', to: { version: '1.0.0' } });
  });

  it('says so when there is nothing to go back to', () => {
    expect(rollbackTarget([released('1.1.0', 'r1')], '1.1.0')).toEqual({
      kind: 'none',
      reason: 'no known-good version before 1.1.0 in the ledger',
    });
  });
});
