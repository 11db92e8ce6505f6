// When the sequential judge looks, and what a watched region's error rate may reach: the numbers an operator reads in
// a verdict ("pass at look 5 after 13s", "ceiling 2.5% (its 0.5% before the release + 2 points)").
import { describe, expect, it } from 'vitest';
import { lookSchedule } from '../../activities/canary-judging';
import { watchCeiling } from '../../activities/promoted-watch';
import { WatchSpec } from '../../domain/catalog';
import { SequentialPolicy } from '../../domain/sequential-judge';

const plan = { policy: SequentialPolicy.parse({}), lookSeconds: 2, warmupSeconds: 3, maxBakeFactor: 3 };

describe('the look schedule', () => {
  it('looks every lookSeconds over the extended bake while that stays within plannedLooks', () => {
    // 10 s bake, up to 30 s: 15 looks 2 s apart; a pass is possible from look 5 (the bake is over).
    expect(lookSchedule(10, plan)).toEqual({ looks: 15, intervalMs: 2000, warmupMs: 3000 });
  });

  it('spreads a long bake over plannedLooks looks, so the latency alpha is split as the judge assumes', () => {
    // An hour's bake, up to three hours: 20 looks, 9 minutes apart.
    expect(lookSchedule(3600, plan)).toEqual({ looks: 20, intervalMs: 540_000, warmupMs: 3000 });
  });

  it('takes one look at least, even for a bake of 0 s', () => {
    expect(lookSchedule(0, plan)).toEqual({ looks: 1, intervalMs: 2000, warmupMs: 3000 });
  });
});

describe('the ceiling of a watched region', () => {
  const watch = WatchSpec.parse({});

  it('is the SLO when the region had no measured rate before the release', () => {
    expect(watchCeiling(watch, undefined)).toEqual({ rate: 0.05, why: 'the 5% SLO' });
  });

  it("is the region's own rate before the release plus the tolerated increase, when that is tighter", () => {
    const ceiling = watchCeiling(watch, { requests: 1000, errors: 5 });
    expect(ceiling.rate).toBeCloseTo(0.025);
    expect(ceiling.why).toBe('its 0.5% (5/1000) before the release + 2 points');
  });

  it('never exceeds the SLO, however bad the region was before', () => {
    expect(watchCeiling(watch, { requests: 100, errors: 10 })).toEqual({ rate: 0.05, why: 'the 5% SLO' });
  });
});
