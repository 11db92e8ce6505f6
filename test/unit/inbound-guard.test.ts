// The worker's inbound guard: with payload keys set, what reaches the workflows must have been sealed with them.
// Anything else arrives as a refusal the workflows recognise, never as an error that would fail the workflow task
// again and again (a forged signal must not wedge a release).
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { refusedPayload } from '../../domain/signed-message';
import { AesGcmPayloadCodec } from '../../providers/codec/encryption-codec';
import { InboundGuardCodec } from '../../providers/codec/inbound-guard';

const codec = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });
const other = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });

describe('inbound guard codec', () => {
  it('opens what was sealed with the keys, and refuses the rest with the reason, without throwing', async () => {
    const refusals: string[] = [];
    const guard = new InboundGuardCodec(codec, (reason) => refusals.push(reason));
    const decision = { gate: 'production-approval', principal: { id: 'mallory', roles: ['approver'] } };
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(decision)]);
    const [sealedElsewhere] = await other.encode([defaultPayloadConverter.toPayload(decision)]);
    const clear = defaultPayloadConverter.toPayload(decision);

    const [opened, fromClear, fromOtherKey] = await guard.decode([sealed!, clear, sealedElsewhere!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(decision);
    expect(refusedPayload(defaultPayloadConverter.fromPayload(fromClear!))).toMatch(
      /was not encrypted with the engine's keys/,
    );
    expect(refusedPayload(defaultPayloadConverter.fromPayload(fromOtherKey!))).toMatch(/could not be decrypted/);
    expect(refusals).toHaveLength(2);
  });

  it('seals what the worker sends as the codec does', async () => {
    const guard = new InboundGuardCodec(codec, () => undefined);
    const [sealed] = await guard.encode([defaultPayloadConverter.toPayload({ ok: true })]);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ ok: true });
  });
});
