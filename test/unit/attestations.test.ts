// Attestations (issue 16): in-toto statements in DSSE envelopes, signed by a key the service trusts and about this
// very digest, or they do not count, and the release says why.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactCommand } from '../../cli/artifact-commands';
import { LocalArtifactStore } from '../../providers/artifacts/local-artifact-store';
import { attest, checkAttestation, evidenceFrom, predicateOf } from '../../providers/artifacts/attestations';
import { generateSigningKey, keyIdOf } from '../../providers/artifacts/signing';

const digest = `sha256:${'a'.repeat(64)}`;
const subject = { service: 'hello', version: '1.5.0', digest };
const scan = { Results: [{ Vulnerabilities: [{ VulnerabilityID: 'CVE-2026-0001', Severity: 'CRITICAL' }] }] };

describe('attestations', () => {
  const key = generateSigningKey();
  const trusted = [{ id: key.keyId, publicKeyPem: key.publicKeyPem }];

  it('counts a statement signed by a trusted key about this digest, and reads its predicate', () => {
    const envelope = attest(subject, 'vuln-scan', scan, key.privateKeyPem);
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as { subject: unknown };
    expect(statement.subject).toEqual([{ name: 'hello@1.5.0', digest: { sha256: 'a'.repeat(64) } }]);
    const junit = attest(
      subject,
      'test-results',
      predicateOf('test-results', '<testsuite><testcase name="t"/></testsuite>'),
      key.privateKeyPem,
    );
    const { evidence, ignored } = evidenceFrom([envelope, junit], digest, trusted);
    expect(ignored).toEqual([]);
    expect(evidence.vulnerabilities).toEqual([{ id: 'CVE-2026-0001', severity: 'critical' }]);
    expect(evidence.tests).toEqual([{ name: 't', status: 'passed' }]);
  });

  it('ignores, saying why, one by an untrusted key, one for another digest, and one changed after signing', () => {
    const stranger = generateSigningKey();
    const untrusted = attest(subject, 'vuln-scan', scan, stranger.privateKeyPem);
    const other = attest({ ...subject, digest: `sha256:${'b'.repeat(64)}` }, 'vuln-scan', scan, key.privateKeyPem);
    const changed = attest(subject, 'vuln-scan', scan, key.privateKeyPem);
    changed.payload = Buffer.from(
      Buffer.from(changed.payload, 'base64').toString().replace('CRITICAL', 'LOW'),
    ).toString('base64');
    const { evidence, ignored } = evidenceFrom([untrusted, other, changed, { hello: 1 }], digest, trusted);
    expect(evidence).toEqual({});
    expect(ignored).toEqual([
      `attestation 1 does not count: it is signed with key ${stranger.keyId}, which this service does not trust`,
      `attestation 2 does not count: it is about sha256:${'b'.repeat(64)}, not this artifact (${digest})`,
      `attestation 3 does not count: its signature by key ${key.keyId} does not match it (changed after signing)`,
      'attestation 4 does not count: it is not a DSSE envelope (payloadType, payload, signatures)',
    ]);
    expect(checkAttestation(untrusted, digest, []).ok).toBe(false);
  });

  it('ignores a predicate in a format it cannot read, naming the format expected', () => {
    const envelope = attest(subject, 'vuln-scan', { vulns: [] }, key.privateKeyPem);
    expect(evidenceFrom([envelope], digest, trusted).ignored[0]).toMatch(
      /attestation 1 \(vuln-scan\) does not count: the scan is not Trivy JSON/,
    );
  });
});

describe('relctl artifact attest', () => {
  it('signs a statement about the packed artifact, keeps it in the store once, and refuses what it cannot read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'attest-'));
    try {
      const lines: string[] = [];
      const print = (line: string) => lines.push(line);
      await writeFile(join(dir, 'server.mjs'), 'export {};\n');
      const file = join(dir, 'hello.tgz');
      await artifactCommand('pack', [dir], { service: 'hello', version: '1.5.0', out: file }, print);
      await artifactCommand('keygen', [], { out: join(dir, 'ci') }, print);
      const store = join(dir, 'store');
      await artifactCommand('publish', [file], { store }, print);
      await writeFile(join(dir, 'trivy.json'), JSON.stringify(scan));
      const options = { type: 'vuln-scan', predicate: join(dir, 'trivy.json'), key: join(dir, 'ci.key'), store };
      await artifactCommand('attest', [file], options, print);
      await artifactCommand('attest', [file], options, print);
      expect(lines.at(-1)).toMatch(
        /hello\.tgz\.vuln-scan\.intoto\.json: vuln-scan of hello@1\.5\.0 \(sha256:[0-9a-f]{64}\) signed by key [0-9a-f]{16}; kept with hello@1\.5\.0 in /,
      );
      const kept = await new LocalArtifactStore(store).attestations('hello', '1.5.0');
      expect(kept).toHaveLength(1);
      const publicKeyPem = await readFile(join(dir, 'ci.pub'), 'utf8');
      const record = await new LocalArtifactStore(store).resolve('hello', '1.5.0');
      const { evidence } = evidenceFrom(kept, record?.digest ?? '', [{ id: keyIdOf(publicKeyPem), publicKeyPem }]);
      expect(evidence.vulnerabilities?.map((v) => v.id)).toEqual(['CVE-2026-0001']);

      await expect(artifactCommand('attest', [file], { ...options, type: 'sbom' }, print)).rejects.toThrow(
        '--type must be one of vuln-scan, test-results, perf, license, not "sbom"',
      );
      await writeFile(join(dir, 'junk.txt'), 'not json');
      await expect(
        artifactCommand('attest', [file], { ...options, predicate: join(dir, 'junk.txt') }, print),
      ).rejects.toThrow(/junk\.txt: the vuln-scan predicate is neither JSON nor/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
