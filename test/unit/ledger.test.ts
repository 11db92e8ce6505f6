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

  it('leaves a region that runs its baseline or what a rollback put back, saying which', () => {
    expect(rollbackTarget([observed('1.0.0')], '1.0.0')).toEqual({
      kind: 'already-good',
      version: '1.0.0',
      why: 'it was running before any release changed it',
    });
    expect(rollbackTarget([observed('1.0.0'), released('1.1.0', 'r1'), rolledBack('1.0.0', '1.1.0')], '1.0.0')).toEqual(
      { kind: 'already-good', version: '1.0.0', why: 'rb put it back (from 1.1.0)' },
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

  it('never goes to an unsafe version (demoted, or the target of an aborted release), and says what it skipped', () => {
    // Production ran 1.0.0, then 1.1.0 and 1.3.0 were released; 1.1.0 was demoted since by a rolled-back release.
    const history = [observed('1.0.0'), released('1.1.0', 'r1'), released('1.3.0', 'r2')];
    const unsafe = new Map([['1.1.0', 'its artifact was demoted by release r3: canary failed']]);
    expect(rollbackTarget(history, '1.3.0')).toMatchObject({ kind: 'revert', to: { version: '1.1.0' } });
    const target = rollbackTarget(history, '1.3.0', unsafe);
    expect(target).toMatchObject({ kind: 'revert', to: { version: '1.0.0' } });
    expect(target.kind === 'revert' && target.why).toBe(
      'a release put 1.3.0 there; 1.0.0 is the newest known-good version in its ledger (found running before any release); not 1.1.0 (its artifact was demoted by release r3: canary failed)',
    );
  });

  it('has no target when every earlier version is unsafe, and says why', () => {
    const unsafe = new Map([['1.1.0', 'release r3 was moving to it when this rollback aborted it']]);
    expect(rollbackTarget([released('1.1.0', 'r1'), released('1.3.0', 'r2')], '1.3.0', unsafe)).toEqual({
      kind: 'none',
      reason:
        'no known-good version before 1.3.0 in the ledger; not 1.1.0 (release r3 was moving to it when this rollback aborted it)',
    });
  });

  it('treats a region running an unsafe version as the suspect, even if a rollback put it there', () => {
    const history = [observed('1.0.0'), released('1.1.0', 'r1'), rolledBack('1.0.5', '1.1.0')];
    const target = rollbackTarget(history, '1.0.5', new Map([['1.0.5', 'its artifact was demoted']]));
    expect(target).toMatchObject({ kind: 'revert', to: { version: '1.0.0' } });
  });
});
