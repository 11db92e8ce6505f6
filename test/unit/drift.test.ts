// Drift: a region running something the version ledger does not record, and what acknowledging it accepts.
import { describe, expect, it } from 'vitest';
import { describeRunning, driftRefusal, type ObservedRegion, regionDrift } from '../../domain/drift';
import { baselineLabel, runningFromState } from '../../providers/fleet/fleet-target';

const ledger = { version: '1.0.0', releaseId: 'r-1', recordedAt: '2026-01-01T00:00:00Z' };
const runs = (stable: string, traffic: Record<string, number>, deployed = Object.keys(traffic)): ObservedRegion => ({
  known: true,
  stableVersion: stable,
  traffic,
  deployed,
  changedAt: '2026-01-02T00:00:00Z',
});

describe('regionDrift', () => {
  it('is in sync when only the ledger version runs, with all the traffic', () => {
    expect(regionDrift(ledger, runs('1.0.0', { '1.0.0': 100 }))).toEqual({ status: 'in-sync', version: '1.0.0' });
  });

  it('calls 100% of traffic on a version nobody released drift, saying what runs and since when', () => {
    const drift = regionDrift(ledger, runs('1.0.0', { '1.3.0': 100 }, ['1.0.0', '1.3.0']));
    expect(drift).toMatchObject({
      status: 'drifted',
      ledgerVersion: '1.0.0',
      runs: '1.3.0 on 100% of traffic (stable 1.0.0) plus 1.0.0 deployed without traffic',
      since: '2026-01-02T00:00:00Z',
      acknowledged: null,
    });
  });

  it('calls a different stable version, or a canary left deployed at 0%, drift', () => {
    expect(regionDrift(ledger, runs('1.3.0', { '1.3.0': 100 })).status).toBe('drifted');
    expect(regionDrift(ledger, runs('1.0.0', { '1.0.0': 100 }, ['1.0.0', '1.3.0'])).status).toBe('drifted');
  });

  it('an acknowledgement covers that exact observed state only', () => {
    const observed = runs('1.0.0', { '1.0.0': 50, '1.3.0': 50 });
    const first = regionDrift(ledger, observed);
    if (first.status !== 'drifted') throw new Error('expected drift');
    const ack = {
      fingerprint: first.fingerprint,
      ledgerVersion: '1.0.0',
      runs: first.runs,
      by: 'sam',
      reason: 'x',
      at: 'now',
    };
    expect(regionDrift(ledger, observed, ack)).toMatchObject({ status: 'drifted', acknowledged: { by: 'sam' } });
    // The same split moved on, or a new ledger entry: not acknowledged any more.
    expect(regionDrift(ledger, runs('1.0.0', { '1.0.0': 10, '1.3.0': 90 }), ack)).toMatchObject({ acknowledged: null });
    expect(regionDrift({ ...ledger, releaseId: 'r-2' }, observed, ack)).toMatchObject({ acknowledged: null });
  });

  it('is unknown when the fleet cannot tell or the ledger has no entry', () => {
    expect(regionDrift(ledger, { known: false, reason: 'ssm cannot tell' })).toEqual({
      status: 'unknown',
      reason: 'ssm cannot tell',
    });
    expect(regionDrift(undefined, runs('1.0.0', { '1.0.0': 100 })).status).toBe('unknown');
  });
});

describe('describeRunning and the refusal', () => {
  it('says plainly what a region runs', () => {
    const known = runs('1.0.0', { '1.0.0': 100 });
    if (!known.known) throw new Error('known');
    expect(describeRunning(known)).toBe('1.0.0');
  });

  it('names every drifted region and the command that acknowledges it', () => {
    const drift = regionDrift(ledger, runs('1.0.0', { '1.3.0': 100 }, ['1.3.0']));
    if (drift.status !== 'drifted') throw new Error('expected drift');
    const message = driftRefusal('hello', [{ region: 'local-b', drift }]);
    expect(message).toContain('regions: local-b of hello');
    expect(message).toContain('the version ledger says 1.0.0, the region runs 1.3.0 on 100% of traffic (stable 1.0.0)');
    expect(message).toContain('relctl service ack-drift hello local-b --reason');
  });
});

describe("a canary's baseline in the fleet's running view", () => {
  const state = (weights: Record<string, number>, versions: string[]) => ({
    service: 'hello',
    region: 'a',
    stableVersion: '1.0.0',
    weights,
    instances: versions.map((version, port) => ({ version, port, healthy: true })),
    url: '',
  });

  it('counts baseline instances and their traffic as the stable version they run, never as a version of their own', () => {
    const observed = runningFromState(
      state({ '1.0.0': 50, '1.1.0': 25, [baselineLabel('1.0.0')]: 25 }, ['1.0.0', '1.1.0', baselineLabel('1.0.0')]),
    );
    expect(observed).toMatchObject({ traffic: { '1.0.0': 75, '1.1.0': 25 }, deployed: ['1.0.0', '1.1.0'] });
    expect(regionDrift(ledger, observed)).toMatchObject({
      status: 'drifted',
      runs: '1.0.0 on 75% of traffic, 1.1.0 on 25% of traffic (stable 1.0.0)',
    });
  });

  it('is in sync when only the stable version and a baseline at 0% are left', () => {
    const observed = runningFromState(
      state({ '1.0.0': 100, [baselineLabel('1.0.0')]: 0 }, ['1.0.0', baselineLabel('1.0.0')]),
    );
    expect(regionDrift(ledger, observed)).toEqual({ status: 'in-sync', version: '1.0.0' });
  });
});
