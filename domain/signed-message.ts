// Signed messages: what proves that a message acting for a person (a release request, a decision, a pause, an
// abort, an emergency rollback) came through the API. The API signs a canonical encoding of the message with its
// ed25519 key; the workflows verify it with the public keys compiled into their bundle (workflows/trusted-keys.ts).
// This module is pure and deterministic (no clock, no randomness, no node:crypto), so the same code runs in the API,
// in tests, and inside the workflow sandbox.
import { ed25519 } from '@noble/curves/ed25519';
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils';

/** The messages that act for a person. */
export type SignedMessageName =
  | 'release'
  | 'rollback'
  | 'train'
  | 'approve'
  | 'reject'
  | 'pause'
  | 'resume'
  | 'abort'
  | 'alert'
  | 'check'
  | 'incident';

/** What a signature covers besides the message's fields: where it may be delivered, and what it is. */
export interface MessageScope {
  namespace: string;
  /** The workflow the message is for (a release request: the release's own id, not its coordinator's). */
  workflowId: string;
  message: SignedMessageName;
}

/** The API's signature on a message, carried inside the message. */
export interface Authorization {
  keyId: string;
  /** ISO times: a message is accepted from `issuedAt` (less a minute of clock skew) until `expiresAt`. */
  issuedAt: string;
  expiresAt: string;
  /** Random per message: a signed message is accepted once. */
  nonce: string;
  /** ed25519 signature over signedBytes(), hex. */
  signature: string;
}

/** Trusted public keys: key id -> raw ed25519 public key, hex. */
export type TrustedKeys = Readonly<Record<string, string>>;

/** How much the API's clock may run ahead of the worker's. */
export const CLOCK_SKEW_MS = 60_000;
/** How long a signed decision stays valid: long enough for a slow round trip, short enough to be useless later. */
export const DEFAULT_TTL_MS = 5 * 60_000;

/** Free-text fields are signed by their sha256 (the signature stays small whatever a comment holds). */
const HASHED_FIELDS = new Set(['comment', 'reason']);

/**
 * JSON with object keys sorted and `undefined` left out, as JSON.stringify leaves it out: the same value gives the
 * same bytes in the API and in the workflow, whatever order its keys were built in.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/** Key id of a public key: the first 16 hex digits of its sha256. */
export function keyIdOf(publicKeyHex: string): string {
  return bytesToHex(sha256(hexToBytes(publicKeyHex))).slice(0, 16);
}

/** The message's fields as signed: free text replaced by its hash, the authorization itself left out. */
function signedFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'authorization' || value === undefined) continue;
    out[key] = HASHED_FIELDS.has(key) && typeof value === 'string' ? { sha256: sha256Hex(value) } : value;
  }
  return out;
}

/** The bytes an authorization signs. */
export function signedBytes(
  scope: MessageScope,
  fields: Record<string, unknown>,
  auth: Omit<Authorization, 'signature'>,
): Uint8Array {
  return utf8ToBytes(
    canonicalJson({
      v: 1,
      namespace: scope.namespace,
      workflowId: scope.workflowId,
      message: scope.message,
      fields: signedFields(fields),
      keyId: auth.keyId,
      issuedAt: auth.issuedAt,
      expiresAt: auth.expiresAt,
      nonce: auth.nonce,
    }),
  );
}

export type Verification = { ok: true; nonce: string } | { ok: false; reason: string };

const HEX = /^[0-9a-f]+$/;

/**
 * Checks that `fields` carry a valid authorization for `scope` at time `at`: a trusted key, an unexpired window, a
 * signature that matches every field. The reason of a refusal is written for the person who tried.
 */
export function verifyAuthorization(
  keys: TrustedKeys,
  scope: MessageScope,
  fields: Record<string, unknown> | undefined,
  at: number,
): Verification {
  if (!fields || typeof fields !== 'object') return { ok: false, reason: 'the message is empty or could not be read' };
  const refused = refusedPayload(fields);
  if (refused) return { ok: false, reason: refused };
  const auth = (fields as { authorization?: Partial<Authorization> }).authorization;
  if (!auth || typeof auth !== 'object') {
    return {
      ok: false,
      reason: `the ${scope.message} message is not signed; only the release engine's API can send it`,
    };
  }
  const { keyId, issuedAt, expiresAt, nonce, signature } = auth;
  if (
    typeof keyId !== 'string' ||
    typeof issuedAt !== 'string' ||
    typeof expiresAt !== 'string' ||
    typeof nonce !== 'string' ||
    typeof signature !== 'string'
  ) {
    return { ok: false, reason: `the ${scope.message} message's authorization is incomplete` };
  }
  const publicKey = Object.prototype.hasOwnProperty.call(keys, keyId) ? keys[keyId] : undefined;
  if (!publicKey)
    return {
      ok: false,
      reason: `the ${scope.message} message is signed with key ${keyId}, which this engine does not trust`,
    };
  const from = Date.parse(issuedAt);
  const until = Date.parse(expiresAt);
  if (!Number.isFinite(from) || !Number.isFinite(until)) {
    return { ok: false, reason: `the ${scope.message} message's authorization has unreadable times` };
  }
  if (at < from - CLOCK_SKEW_MS)
    return { ok: false, reason: `the ${scope.message} message was signed for later (${issuedAt})` };
  if (at > until) return { ok: false, reason: `the ${scope.message} message's authorization expired at ${expiresAt}` };
  if (signature.length !== 128 || !HEX.test(signature)) {
    return { ok: false, reason: `the ${scope.message} message's signature is malformed` };
  }
  let valid = false;
  try {
    valid = ed25519.verify(
      hexToBytes(signature),
      signedBytes(scope, fields, { keyId, issuedAt, expiresAt, nonce }),
      hexToBytes(publicKey),
    );
  } catch {
    valid = false;
  }
  if (!valid) {
    return {
      ok: false,
      reason: `the ${scope.message} message's signature does not match it (changed after signing, or signed for another workflow)`,
    };
  }
  return { ok: true, nonce };
}

/** Marker the worker's codec puts in place of an inbound payload it refused (see workers/data-converter.ts). */
export const REFUSED_PAYLOAD_FIELD = '$refusedPayload';

/** Why a payload was refused by the worker's codec, when `value` is its marker. */
export function refusedPayload(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const reason = (value as Record<string, unknown>)[REFUSED_PAYLOAD_FIELD];
  return typeof reason === 'string' ? reason : undefined;
}
