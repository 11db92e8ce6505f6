// What a region's report does to the release: what people see on the status, the timeline and the audit trail.
import { describe, expect, it } from 'vitest';
import type { CanaryVerdict } from '../../domain/canary';
import type { RegionProgress } from '../../domain/release-status';
import { regionEventEffects } from '../../workflows/release/region-events';

const progress = (extra: Partial<RegionProgress> = {}): RegionProgress => ({
  region: 'eu-1',
  environment: 'production',
  wave: 0,
  status: 'deploying',
  version: '1.1.0',
  trafficPercent: 0,
  verdicts: [],
  ...extra,
});

const verdict = (kind: CanaryVerdict['verdict'], reasons: string[]): CanaryVerdict =>
  ({
    verdict: kind,
    reasons,
    canary: { requests: 40, errors: kind === 'fail' ? 12 : 0 },
    baseline: { requests: 120, errors: 0 },
  }) as unknown as CanaryVerdict;

describe('a region report', () => {
  it('deployed: the region is in canary, with the version it replaces on record', () => {
    const effects = regionEventEffects(
      { region: 'eu-1', kind: 'deployed' },
      progress({ previousVersion: '1.0.0' }),
      '1.1.0',
    );
    expect(effects.change).toEqual({ status: 'canary' });
    expect(effects.note).toBe('eu-1: 1.1.0 started at 0% of traffic');
    expect(effects.audit).toEqual({
      action: 'region.canary-started',
      fields: { region: 'eu-1', afterVersion: '1.1.0', beforeVersion: '1.0.0' },
    });
  });

  it('deployed in a region that ran nothing: no before version is invented', () => {
    const effects = regionEventEffects({ region: 'eu-1', kind: 'deployed' }, progress(), '1.1.0');
    expect(effects.audit?.fields).not.toHaveProperty('beforeVersion');
  });

  it('traffic: the share and the step are shown', () => {
    const effects = regionEventEffects({ region: 'eu-1', kind: 'traffic', step: 1, percent: 25 }, progress(), '1.1.0');
    expect(effects.change).toEqual({ trafficPercent: 25, canaryStep: 1 });
    expect(effects.note).toBe('eu-1: 25% of traffic on 1.1.0');
  });

  it('a failing verdict is kept with its numbers, audited and announced', () => {
    const earlier = { ...verdict('pass', ['fine']), step: 0, percent: 10 };
    const effects = regionEventEffects(
      { region: 'eu-1', kind: 'verdict', step: 1, percent: 25, verdict: verdict('fail', ['error rate 30%', 'p95 2x']) },
      progress({ verdicts: [earlier] }),
      '1.1.0',
    );
    expect(effects.change.verdicts).toHaveLength(2);
    expect(effects.change.verdicts?.[1]).toMatchObject({ verdict: 'fail', step: 1, percent: 25 });
    expect(effects.note).toBe('eu-1: analysis at 25%: fail (error rate 30%; p95 2x)');
    expect(effects.audit?.fields.details).toEqual({
      verdict: 'fail',
      percent: 25,
      canaryRequests: 40,
      canaryErrors: 12,
      baselineRequests: 120,
      baselineErrors: 0,
    });
    expect(effects.notify).toEqual({
      kind: 'canary.failed',
      extra: { region: 'eu-1', reason: 'error rate 30%; p95 2x' },
    });
  });

  it('a passing verdict is not announced', () => {
    const effects = regionEventEffects(
      { region: 'eu-1', kind: 'verdict', step: 0, percent: 10, verdict: verdict('pass', ['fine']) },
      progress(),
      '1.1.0',
    );
    expect(effects.notify).toBeUndefined();
  });

  it('needs-decision: the region waits and a decision is asked for, nothing audited yet', () => {
    const effects = regionEventEffects(
      { region: 'eu-1', kind: 'needs-decision', step: 2, percent: 50, verdict: verdict('inconclusive', ['too few']) },
      progress(),
      '1.1.0',
    );
    expect(effects.change).toEqual({ status: 'needs-decision' });
    expect(effects.decision).toEqual({ region: 'eu-1', step: 2, percent: 50, reasons: ['too few'] });
    expect(effects.note).toBeUndefined();
    expect(effects.audit).toBeUndefined();
  });

  it('promoted, smoke-tested and reverted read as people expect', () => {
    const promoted = regionEventEffects({ region: 'eu-1', kind: 'promoted' }, progress(), '1.1.0');
    expect(promoted.change).toEqual({ status: 'smoke-testing', trafficPercent: 100 });
    const smoke = regionEventEffects(
      { region: 'eu-1', kind: 'smoke-test', passed: false, failures: 3, requests: 5 },
      progress(),
      '1.1.0',
    );
    expect(smoke.note).toBe('eu-1: smoke test failed (3 of 5 failed)');
    const reverted = regionEventEffects(
      { region: 'eu-1', kind: 'reverted', to: '1.0.0', reason: 'canary failed' },
      progress(),
      '1.1.0',
    );
    expect(reverted.change).toEqual({ status: 'reverted', trafficPercent: 0 });
    expect(reverted.audit).toEqual({
      action: 'region.reverted',
      fields: { region: 'eu-1', beforeVersion: '1.1.0', afterVersion: '1.0.0', reason: 'canary failed' },
    });
  });
});
