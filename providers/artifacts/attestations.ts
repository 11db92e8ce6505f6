// Attestations (issue 16): signed statements about an artifact's digest from other tools (a vulnerability scan, test
// results, a performance run, a license report), in the in-toto Statement v1 shape inside a DSSE envelope, so
// standard scanner output fits as the predicate. Signed with ed25519 keys (node's crypto), like artifacts; only keys
// the trust file names for the service count. Verification says why an attestation does not count.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { z } from 'zod';
import {
  EvidenceFormatError,
  readJUnit,
  readLicenses,
  readPerf,
  readVulnerabilities,
  type Evidence,
} from '../../domain/evidence';
import { keyIdOf, type TrustedKey } from './signing';

/** The kinds of evidence, and the predicate type URI each is stated with. */
export const ATTESTATION_TYPES = {
  'vuln-scan': 'https://cosign.sigstore.dev/attestation/vuln/v1',
  'test-results': 'https://release-engine.dev/attestation/junit/v1',
  perf: 'https://release-engine.dev/attestation/perf/v1',
  license: 'https://cyclonedx.org/bom',
} as const;
export type AttestationType = keyof typeof ATTESTATION_TYPES;

export const IN_TOTO_STATEMENT = 'https://in-toto.io/Statement/v1';
export const DSSE_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export const DsseEnvelope = z.strictObject({
  payloadType: z.string(),
  /** base64 of the statement's JSON. */
  payload: z.string(),
  signatures: z.array(z.strictObject({ keyid: z.string(), sig: z.string() })).min(1),
});
export type DsseEnvelope = z.infer<typeof DsseEnvelope>;

export interface Statement {
  _type: typeof IN_TOTO_STATEMENT;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: string;
  /** The tool's output: JSON as the tool wrote it, or for XML formats `{ "xml": "<...>" }`. */
  predicate: unknown;
}

/** DSSE's pre-authentication encoding: what a signature covers (the payload's type and its bytes). */
function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** The predicate a tool's output file becomes: parsed JSON, or XML kept as text (JUnit). */
export function predicateOf(type: AttestationType, content: string): unknown {
  if (type === 'test-results' && content.trimStart().startsWith('<')) return { xml: content };
  try {
    return JSON.parse(content) as unknown;
  } catch {
    throw new EvidenceFormatError(`the ${type} predicate is neither JSON nor (for test results) JUnit XML`);
  }
}

/** Signs a statement that `service@version`, whose artifact has `digest`, comes with this predicate. */
export function attest(
  subject: { service: string; version: string; digest: string },
  type: AttestationType,
  predicate: unknown,
  privateKeyPem: string,
): DsseEnvelope {
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`attestations are signed with ed25519 keys, not ${privateKey.asymmetricKeyType ?? 'unknown'} keys`);
  }
  const statement: Statement = {
    _type: IN_TOTO_STATEMENT,
    subject: [
      { name: `${subject.service}@${subject.version}`, digest: { sha256: subject.digest.replace(/^sha256:/, '') } },
    ],
    predicateType: ATTESTATION_TYPES[type],
    predicate,
  };
  const payload = Buffer.from(JSON.stringify(statement));
  const keyid = keyIdOf(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString());
  return {
    payloadType: DSSE_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid, sig: sign(null, pae(DSSE_PAYLOAD_TYPE, payload), privateKey).toString('base64') }],
  };
}

export type AttestationCheck =
  { ok: true; type: AttestationType; keyId: string; statement: Statement } | { ok: false; reason: string };

/** Whether an envelope counts for the artifact `digest`: signed by a trusted key, about that digest, of a known type. */
export function checkAttestation(envelope: unknown, digest: string, trusted: TrustedKey[]): AttestationCheck {
  const parsed = DsseEnvelope.safeParse(envelope);
  if (!parsed.success) return { ok: false, reason: 'it is not a DSSE envelope (payloadType, payload, signatures)' };
  const { payloadType, payload, signatures } = parsed.data;
  if (payloadType !== DSSE_PAYLOAD_TYPE)
    return { ok: false, reason: `its payload is ${payloadType}, not an in-toto statement` };
  const bytes = Buffer.from(payload, 'base64');
  const signed = signatures.find((s) => trusted.some((k) => k.id === s.keyid));
  if (!signed) {
    return {
      ok: false,
      reason: `it is signed with key ${signatures.map((s) => s.keyid).join(', ')}, which this service does not trust`,
    };
  }
  const key = trusted.find((k) => k.id === signed.keyid) as TrustedKey;
  let valid = false;
  try {
    valid = verify(null, pae(payloadType, bytes), createPublicKey(key.publicKeyPem), Buffer.from(signed.sig, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid)
    return { ok: false, reason: `its signature by key ${signed.keyid} does not match it (changed after signing)` };
  let statement: Statement;
  try {
    statement = JSON.parse(bytes.toString('utf8')) as Statement;
  } catch {
    return { ok: false, reason: 'its statement is not JSON' };
  }
  if (statement._type !== IN_TOTO_STATEMENT)
    return { ok: false, reason: 'its statement is not an in-toto Statement v1' };
  const hex = digest.replace(/^sha256:/, '');
  if (!Array.isArray(statement.subject) || !statement.subject.some((s) => s?.digest?.sha256 === hex)) {
    const named = Array.isArray(statement.subject)
      ? statement.subject.map((s) => `sha256:${s?.digest?.sha256}`).join(', ')
      : '?';
    return { ok: false, reason: `it is about ${named}, not this artifact (${digest})` };
  }
  const type = (Object.keys(ATTESTATION_TYPES) as AttestationType[]).find(
    (t) => ATTESTATION_TYPES[t] === statement.predicateType,
  );
  if (!type) return { ok: false, reason: `its predicate type ${statement.predicateType} is not one this engine reads` };
  return { ok: true, type, keyId: signed.keyid, statement };
}

/** The evidence the trusted attestations give (the latest of each type wins), and why the others do not count. */
export function evidenceFrom(
  envelopes: unknown[],
  digest: string,
  trusted: TrustedKey[],
): { evidence: Evidence; ignored: string[] } {
  const evidence: Evidence = {};
  const ignored: string[] = [];
  envelopes.forEach((envelope, i) => {
    const check = checkAttestation(envelope, digest, trusted);
    if (!check.ok) {
      ignored.push(`attestation ${i + 1} does not count: ${check.reason}`);
      return;
    }
    try {
      const { predicate } = check.statement;
      if (check.type === 'vuln-scan') evidence.vulnerabilities = readVulnerabilities(predicate);
      if (check.type === 'test-results') {
        const xml = (predicate as { xml?: unknown } | null)?.xml;
        if (typeof xml !== 'string') throw new EvidenceFormatError('the test results are not JUnit XML');
        evidence.tests = readJUnit(xml);
      }
      if (check.type === 'perf') evidence.perf = readPerf(predicate);
      if (check.type === 'license') evidence.licenses = readLicenses(predicate);
    } catch (err) {
      if (!(err instanceof EvidenceFormatError)) throw err;
      ignored.push(`attestation ${i + 1} (${check.type}) does not count: ${err.message}`);
    }
  });
  return { evidence, ignored };
}
