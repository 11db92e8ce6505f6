import { describe, expect, it } from 'vitest';
import { computeDora, type FinishedRelease, humanDuration, mergeTrainReleases, quantile } from '../../domain/dora';

const period = { from: '2026-11-01T00:00:00Z', to: '2026-11-11T00:00:00Z' };

function release(id: string, result: FinishedRelease['result'], extra: Partial<FinishedRelease> = {}): FinishedRelease {
  return {
    releaseId: id,
    version: '1.0.0',
    result,
    startedAt: '2026-11-02T10:00:00Z',
    finishedAt: '2026-11-02T11:00:00Z',
    ...extra,
  };
}

describe('DORA figures', () => {
  it('counts successful releases per day of the period', () => {
    const figures = computeDora(
      'hello',
      period,
      [release('a', 'succeeded'), release('b', 'succeeded'), release('c', 'rolled-back')],
      [],
    );
    expect(figures.deploymentFrequency).toEqual({ perDay: 0.2, succeeded: 2, days: 10 });
    expect(figures.releases).toEqual({ finished: 3, succeeded: 2, rolledBack: 1, failed: 0, aborted: 0 });
  });

  it('does not count a release aborted before it changed anything as a change, nor as a change failure', () => {
    const figures = computeDora(
      'hello',
      period,
      [release('a', 'succeeded'), release('b', 'rolled-back'), release('c', 'aborted'), release('d', 'aborted')],
      [],
    );
    expect(figures.releases).toMatchObject({ finished: 4, aborted: 2 });
    expect(figures.changeFailureRate).toEqual({ rate: 0.5, failures: 1, finished: 2 });
    expect(figures.deploymentFrequency.succeeded).toBe(1);
    expect(figures.summary).toContain(
      'change failure rate: 50.0% (1 of 2 releases); 2 aborted before changing anything, not counted',
    );
  });

  it('measures lead time from the artifact to the successful release, leaving out unknown artifacts', () => {
    const figures = computeDora(
      'hello',
      period,
      [
        release('a', 'succeeded', { artifactCreatedAt: '2026-11-02T10:00:00Z' }), // 1h
        release('b', 'succeeded', { artifactCreatedAt: '2026-11-02T08:00:00Z' }), // 3h
        release('c', 'succeeded', { artifactCreatedAt: '2026-11-01T11:00:00Z' }), // 24h
        release('d', 'succeeded'),
        release('e', 'rolled-back', { artifactCreatedAt: '2026-11-01T00:00:00Z' }),
      ],
      [],
    );
    expect(figures.leadTimeSeconds).toEqual({ median: 3 * 3600, p90: 24 * 3600, samples: 3 });
    expect(figures.summary[1]).toBe('lead time for changes: median 3.0h, p90 24.0h (3 releases)');
  });

  it('counts rolled-back, failed, and later emergency-rolled-back releases as change failures', () => {
    const figures = computeDora(
      'hello',
      period,
      [
        release('ok', 'succeeded'),
        release('undone', 'succeeded', { version: '1.1.0' }),
        // The same version released again after the rollback is not undone by it.
        release('again', 'succeeded', { version: '1.1.0', finishedAt: '2026-11-04T00:00:00Z' }),
        release('bad', 'rolled-back', { rollbackStartedAt: '2026-11-02T10:50:00Z' }), // 10 min to restore
        release('worse', 'failed'),
      ],
      [
        {
          rollbackId: 'rb-1',
          requestedAt: '2026-11-03T00:00:00Z',
          finishedAt: '2026-11-03T00:02:00Z', // 2 min
          undidVersions: ['1.1.0'],
        },
      ],
    );
    expect(figures.changeFailureRate).toEqual({ rate: 0.6, failures: 3, finished: 5 });
    expect(figures.timeToRestoreSeconds).toEqual({ median: 120, samples: 2 });
    expect(figures.summary).toContain('change failure rate: 60.0% (3 of 5 releases)');
  });

  it('links each change failure and each restore to its post-incident record, the figures as they were', () => {
    const releases = [
      release('ok', 'succeeded'),
      release('undone', 'succeeded', { version: '1.1.0' }),
      release('bad', 'rolled-back', { rollbackStartedAt: '2026-11-02T10:50:00Z' }),
      release('worse', 'failed'),
      release('stopped', 'aborted'),
    ];
    const rollbacks = [
      {
        rollbackId: 'rb-1',
        requestedAt: '2026-11-03T00:00:00Z',
        finishedAt: '2026-11-03T00:02:00Z',
        undidVersions: ['1.1.0'],
      },
    ];
    const figures = computeDora('hello', period, releases, rollbacks);
    // The numbers are those of the definitions, links or not.
    expect(figures.changeFailureRate).toEqual({ rate: 0.75, failures: 3, finished: 4 });
    expect(figures.timeToRestoreSeconds).toEqual({ median: 120, samples: 2 });
    expect(figures.releases).toEqual({ finished: 5, succeeded: 2, rolledBack: 1, failed: 1, aborted: 1 });
    // Every failure counted has its record, and they add up to the rate's count; so do the restores.
    expect(figures.changeFailures).toEqual([
      { releaseId: 'undone', version: '1.1.0', result: 'succeeded', incident: 'rb-1' },
      { releaseId: 'bad', version: '1.0.0', result: 'rolled-back', incident: 'bad' },
      { releaseId: 'worse', version: '1.0.0', result: 'failed', incident: 'worse' },
    ]);
    expect(figures.changeFailures).toHaveLength(figures.changeFailureRate.failures);
    expect(figures.restores).toEqual([
      { incident: 'bad', kind: 'release', seconds: 600 },
      { incident: 'rb-1', kind: 'emergency-rollback', seconds: 120 },
    ]);
    expect(figures.restores).toHaveLength(figures.timeToRestoreSeconds.samples);
  });

  it('says plainly when there is nothing to measure', () => {
    const figures = computeDora('hello', period, [], []);
    expect(figures.changeFailureRate.rate).toBeNull();
    expect(figures.summary).toEqual([
      'deployment frequency: 0 successful releases per day (0 in 10 days)',
      'lead time for changes: no successful release with a known artifact',
      'change failure rate: no finished release',
      'time to restore: nothing needed restoring',
    ]);
  });

  it('quantiles by nearest rank, and durations read like people write them', () => {
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4], 0.9)).toBe(4);
    expect(quantile([], 0.5)).toBeNull();
    expect([45, 600, 3 * 3600, 3 * 86_400].map(humanDuration)).toEqual(['45s', '10m', '3.0h', '3.0d']);
  });
});

describe('DORA of release trains', () => {
  const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();
  const member = (
    releaseId: string,
    start: number,
    end: number,
    result: FinishedRelease['result'],
  ): FinishedRelease => ({
    releaseId,
    version: '2.0.0',
    result,
    startedAt: at(start),
    finishedAt: at(end),
    train: 't-1',
  });

  it("counts a lockstep member's releases (one per environment) as one change of its service", () => {
    const alone: FinishedRelease = { ...member('r-1', 0, 5, 'succeeded'), version: '1.9.0' };
    delete alone.train;
    const merged = mergeTrainReleases([
      member('t-1.production', 20, 30, 'succeeded'),
      member('t-1.staging', 10, 15, 'succeeded'),
      alone,
    ]);
    expect(merged.map((r) => [r.releaseId, r.startedAt, r.finishedAt, r.result])).toEqual([
      ['r-1', at(0), at(5), 'succeeded'],
      ['t-1.staging', at(10), at(30), 'succeeded'],
    ]);
  });

  it('a member that went through staging and rolled back in production is one failed change', () => {
    const merged = mergeTrainReleases([
      member('t-1.staging', 10, 15, 'succeeded'),
      { ...member('t-1.production', 20, 30, 'rolled-back'), rollbackStartedAt: at(25) },
    ]);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({ result: 'rolled-back', rollbackStartedAt: at(25), finishedAt: at(30) });
    // The record is the one the failing member release opened, not the staging release the change is named by.
    const figures = computeDora('web', { from: at(0), to: at(60) }, merged, []);
    expect(figures.changeFailures.map((f) => [f.releaseId, f.incident])).toEqual([['t-1.staging', 't-1.production']]);
    expect(figures.restores).toEqual([{ incident: 't-1.production', kind: 'release', seconds: 300 }]);
  });
});
