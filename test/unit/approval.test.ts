import { describe, expect, it } from 'vitest';
import { checkDecision, productionGatePolicy, type Gate } from '../../domain/approval';
import { ServiceSpec } from '../../domain/catalog';
import { planRelease } from '../../domain/plan';

const waiting: Gate = {
  id: 'production-approval',
  kind: 'approval',
  description: '1 approval before the first production wave',
  status: 'waiting',
  quorum: 2,
  roles: ['approver'],
  decisions: [{ by: 'alice', decision: 'approve', at: '2026-01-01T00:00:00Z' }],
};
const request = { gates: [waiting], gateId: 'production-approval', requestedBy: 'dana', decision: 'approve' as const };

describe('who may decide on a gate', () => {
  it('lets a second approver decide', () => {
    expect(checkDecision({ ...request, principal: { id: 'bob', roles: ['approver'] } })).toBeUndefined();
    expect(checkDecision({ ...request, principal: { id: 'root', roles: ['admin'] } })).toBeUndefined();
  });

  it('refuses each case with its own code and plain words', () => {
    const bob = { id: 'bob', roles: ['approver' as const] };
    expect(checkDecision({ ...request, gateId: 'nope', principal: bob })).toEqual({
      code: 'UnknownGate',
      message: 'there is no gate "nope" in this release (its gates: production-approval)',
    });
    expect(checkDecision({ ...request, gates: [{ ...waiting, status: 'pending' }], principal: bob })?.code).toBe(
      'GateNotWaiting',
    );
    expect(checkDecision({ ...request, gates: [{ ...waiting, status: 'rejected' }], principal: bob })?.message).toBe(
      'gate production-approval is not waiting for decisions: it is already rejected',
    );
    expect(checkDecision({ ...request, principal: { id: 'ci', roles: ['pipeline'] } })).toEqual({
      code: 'MissingRole',
      message: 'ci cannot approve gate production-approval: it needs the approver role',
    });
    // An approver who requested the release is refused for separation of duties, admin or not.
    expect(checkDecision({ ...request, principal: { id: 'dana', roles: ['pipeline', 'admin'] } })?.code).toBe(
      'SelfApproval',
    );
    expect(checkDecision({ ...request, principal: { id: 'alice', roles: ['approver'] } })?.code).toBe(
      'DuplicateDecision',
    );
  });
});

describe('gates in the plan', () => {
  const settings = { timeoutSeconds: 3600, normalQuorum: 1, emergencyQuorum: 2 };
  const service = ServiceSpec.parse({
    name: 'shop',
    environments: [
      { name: 'staging', waves: [['stg']] },
      { name: 'production', waves: [['eu'], ['us', 'ap']] },
    ],
  });

  it('standard changes have no human gate, normal one approver, emergency two', () => {
    expect(productionGatePolicy('standard', settings)).toBeUndefined();
    expect(productionGatePolicy('normal', settings)).toEqual({ quorum: 1, roles: ['approver'], timeoutSeconds: 3600 });
    expect(productionGatePolicy('emergency', settings)?.quorum).toBe(2);
  });

  it('puts the promotion check and the approval before the first production wave', () => {
    const plan = planRelease({ service: 'shop', version: '1.0.0', releaseId: 'r', changeClass: 'normal' }, service);
    expect(plan.gates.map((g) => [g.id, g.kind, g.beforeWave])).toEqual([
      ['promote-to-production', 'promotion', 1],
      ['production-approval', 'approval', 1],
    ]);
    const standard = planRelease(
      { service: 'shop', version: '1.0.0', releaseId: 'r', changeClass: 'standard' },
      service,
    );
    expect(standard.gates.map((g) => g.kind)).toEqual(['promotion']);
    expect(standard.freeze).toEqual({ onFreeze: 'wait', override: false });
    const emergency = planRelease(
      { service: 'shop', version: '1.0.0', releaseId: 'r', changeClass: 'emergency' },
      service,
    );
    expect(emergency.freeze.override).toBe(true);
  });
});
