// Signed messages as the workflows check them: what a signature binds (every field, the workflow, the message, the
// namespace), how long it lasts, which keys count, and the refusal each forgery gets.
import { describe, expect, it } from 'vitest';
import { checkDecision, type Gate } from '../../domain/approval';
import {
  canonicalJson,
  keyIdOf,
  REFUSED_PAYLOAD_FIELD,
  verifyAuthorization,
  type MessageScope,
} from '../../domain/signed-message';
import { DecisionSigner } from '../../providers/keys/decision-keys';

const signer = DecisionSigner.generate('default');
const keys = signer.trustedKeys;
const at = Date.parse('2026-12-01T10:00:00Z');
const scope: MessageScope = { namespace: 'default', workflowId: 'release/hello/r1', message: 'approve' };
const decision = {
  gate: 'production-approval',
  principal: { id: 'alice', roles: ['approver'] },
  comment: 'CHG-7',
};
const signed = signer.sign(scope.workflowId, 'approve', decision, at);

describe('signed messages', () => {
  it('a message signed by the API verifies, with its nonce', () => {
    expect(verifyAuthorization(keys, scope, signed, at + 1000)).toEqual({
      ok: true,
      nonce: signed.authorization.nonce,
    });
    expect(signed.authorization.keyId).toBe(keyIdOf(signer.publicKeyHex));
  });

  it('changing any field, the workflow, the message or the namespace breaks the signature', () => {
    const forged = [
      [scope, { ...signed, principal: { id: 'mallory', roles: ['approver'] } }],
      [scope, { ...signed, principal: { id: 'alice', roles: ['approver', 'sre'] } }],
      [scope, { ...signed, comment: 'another comment' }],
      [scope, { ...signed, gate: 'staging-approval' }],
      [scope, { ...signed, authorization: { ...signed.authorization, expiresAt: '2027-01-01T00:00:00.000Z' } }],
      [{ ...scope, workflowId: 'release/hello/r2' }, signed],
      [{ ...scope, message: 'reject' as const }, signed],
      [{ ...scope, namespace: 'staging' }, signed],
    ] as const;
    for (const [where, message] of forged) {
      expect(verifyAuthorization(keys, where, message, at)).toEqual({
        ok: false,
        reason: expect.stringMatching(/signature does not match it/) as string,
      });
    }
  });

  it('an unsigned message, an unknown key, an expired or future authorization are refused in plain words', () => {
    expect(verifyAuthorization(keys, scope, decision, at)).toMatchObject({
      reason: "the approve message is not signed; only the release engine's API can send it",
    });
    const other = DecisionSigner.generate('default');
    expect(verifyAuthorization(other.trustedKeys, scope, signed, at)).toMatchObject({
      reason: `the approve message is signed with key ${signer.keyId}, which this engine does not trust`,
    });
    expect(verifyAuthorization(keys, scope, signed, at + 6 * 60_000)).toMatchObject({
      reason: expect.stringMatching(/authorization expired at/) as string,
    });
    expect(verifyAuthorization(keys, scope, signed, at - 2 * 60_000)).toMatchObject({
      reason: expect.stringMatching(/was signed for later/) as string,
    });
    // A minute of clock skew between the API and the worker is tolerated.
    expect(verifyAuthorization(keys, scope, signed, at - 30_000).ok).toBe(true);
  });

  it('a payload the worker refused (sent in clear) is refused with the reason the worker gave', () => {
    expect(verifyAuthorization(keys, scope, { [REFUSED_PAYLOAD_FIELD]: 'not encrypted' }, at)).toEqual({
      ok: false,
      reason: 'not encrypted',
    });
  });

  it('key order and undefined fields do not change the signed bytes', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }] })).toBe('{"a":[1,{"c":"x"}],"b":1}');
    const reordered = {
      comment: 'CHG-7',
      principal: { roles: ['approver'], id: 'alice' },
      gate: 'production-approval',
    };
    expect(verifyAuthorization(keys, scope, { ...reordered, authorization: signed.authorization }, at).ok).toBe(true);
  });
});

describe('separation of duties by person', () => {
  const gate: Gate = {
    id: 'production-approval',
    kind: 'approval',
    description: 'production',
    status: 'waiting',
    quorum: 1,
    roles: ['approver'],
    decisions: [],
  };
  it('an author of the change may not approve it, even when a shared pipeline token requested it', () => {
    const refusal = checkDecision({
      gates: [gate],
      gateId: gate.id,
      principal: { id: 'alice', roles: ['approver'] },
      requestedBy: 'ci-pipeline',
      authors: ['alice', 'bob'],
      decision: 'approve',
    });
    expect(refusal).toEqual({
      code: 'SelfApproval',
      message:
        'you cannot approve a change you wrote (alice is among its authors: alice, bob); another person must decide',
    });
    expect(
      checkDecision({
        gates: [gate],
        gateId: gate.id,
        principal: { id: 'carol', roles: ['approver'] },
        requestedBy: 'ci-pipeline',
        authors: ['alice', 'bob'],
        decision: 'approve',
      }),
    ).toBeUndefined();
  });
});
