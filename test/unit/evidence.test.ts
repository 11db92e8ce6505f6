// Evidence from other tools (issue 16): scanner, test and SBOM output read as the tools write it, and judged
// against a service's policy, naming the rule and the first findings.
import { describe, expect, it } from 'vitest';
import { ServiceCatalog } from '../../domain/catalog';
import { planRelease } from '../../domain/plan';
import {
  EvidenceFormatError,
  EvidencePolicy,
  judgeEvidence,
  readJUnit,
  readLicenses,
  readPerf,
  readVulnerabilities,
} from '../../domain/evidence';

const trivy = {
  SchemaVersion: 2,
  ArtifactName: 'hello',
  Results: [
    {
      Target: 'package-lock.json',
      Vulnerabilities: [
        { VulnerabilityID: 'CVE-2026-0001', PkgName: 'left-pad', Severity: 'CRITICAL' },
        { VulnerabilityID: 'CVE-2026-0002', PkgName: 'tar', Severity: 'HIGH' },
        { VulnerabilityID: 'CVE-2026-0003', PkgName: 'tar', Severity: 'MEDIUM' },
      ],
    },
    { Target: 'os', Vulnerabilities: [{ VulnerabilityID: 'CVE-2026-0002', PkgName: 'tar', Severity: 'LOW' }] },
  ],
};

describe('reading what the tools write', () => {
  it('reads Trivy, Grype and SARIF scans alike, each id once at its highest severity', () => {
    expect(readVulnerabilities(trivy)).toEqual([
      { id: 'CVE-2026-0001', severity: 'critical', pkg: 'left-pad' },
      { id: 'CVE-2026-0002', severity: 'high', pkg: 'tar' },
      { id: 'CVE-2026-0003', severity: 'medium', pkg: 'tar' },
    ]);
    const grype = {
      matches: [
        { vulnerability: { id: 'GHSA-aaaa', severity: 'High' }, artifact: { name: 'express' } },
        { vulnerability: { id: 'CVE-2026-0009', severity: 'Negligible' }, artifact: { name: 'zlib' } },
      ],
    };
    expect(readVulnerabilities(grype).map((v) => `${v.id} ${v.severity}`)).toEqual([
      'GHSA-aaaa high',
      'CVE-2026-0009 low',
    ]);
    const sarif = {
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: { name: 'scanner', rules: [{ id: 'CVE-2026-0100', properties: { 'security-severity': '9.8' } }] },
          },
          results: [
            { ruleId: 'CVE-2026-0100', level: 'error' },
            { ruleId: 'js/unsafe', level: 'warning' },
          ],
        },
      ],
    };
    expect(readVulnerabilities(sarif).map((v) => `${v.id} ${v.severity}`)).toEqual([
      'CVE-2026-0100 critical',
      'js/unsafe medium',
    ]);
    expect(() => readVulnerabilities({ vulns: [] })).toThrow(EvidenceFormatError);
  });

  it('reads JUnit XML: passed, failed (with its message), errored and skipped cases', () => {
    const xml = `<?xml version="1.0"?>
<testsuites><testsuite name="api" tests="4">
  <testcase classname="api.release" name="starts a release" time="0.1"/>
  <testcase classname="api.release" name="refuses &quot;bad&quot; input"><failure message="expected 400, got 500">stack</failure></testcase>
  <testcase classname="api.train" name="orders members"><error>boom
at x</error></testcase>
  <testcase classname="api.train" name="not yet"><skipped/></testcase>
</testsuite></testsuites>`;
    expect(readJUnit(xml)).toEqual([
      { name: 'starts a release', suite: 'api.release', status: 'passed' },
      { name: 'refuses "bad" input', suite: 'api.release', status: 'failed', message: 'expected 400, got 500' },
      { name: 'orders members', suite: 'api.train', status: 'failed', message: 'boom' },
      { name: 'not yet', suite: 'api.train', status: 'skipped' },
    ]);
    expect(() => readJUnit('{"tests": []}')).toThrow(/not JUnit XML/);
  });

  it('reads CycloneDX licenses and a performance summary', () => {
    const sbom = {
      bomFormat: 'CycloneDX',
      components: [
        { name: 'express', version: '5.3.0', licenses: [{ license: { id: 'MIT' } }] },
        { name: 'odd', licenses: [{ expression: 'GPL-3.0-only OR MIT' }] },
        { name: 'bare' },
      ],
    };
    expect(readLicenses(sbom)).toEqual([
      { component: 'express@5.3.0', licenses: ['MIT'] },
      { component: 'odd', licenses: ['GPL-3.0-only OR MIT'] },
      { component: 'bare', licenses: [] },
    ]);
    expect(() => readLicenses({ spdxVersion: 'SPDX-2.3' })).toThrow(/CycloneDX/);
    expect(readPerf({ p95Ms: 120, baselineP95Ms: 100 })).toEqual({ p95Ms: 120, baselineP95Ms: 100 });
    expect(() => readPerf({ p99: 3 })).toThrow(/p95Ms/);
  });
});

describe('judging evidence against a policy', () => {
  const policy = EvidencePolicy.parse({
    vulnerabilities: { maxCritical: 0, maxHigh: 3 },
    tests: {},
    perf: {},
    licenses: { allow: ['MIT', 'Apache-2.0'] },
  });

  it('passes evidence within every rule', () => {
    expect(
      judgeEvidence(policy, {
        vulnerabilities: [{ id: 'CVE-1', severity: 'high' }],
        tests: [
          { name: 'a', status: 'passed' },
          { name: 'b', status: 'skipped' },
        ],
        perf: { p95Ms: 104, baselineP95Ms: 100 },
        licenses: [{ component: 'x', licenses: ['MIT'] }],
      }),
    ).toEqual([]);
  });

  it('names the rule and the first findings of each that failed', () => {
    const failures = judgeEvidence(policy, {
      vulnerabilities: readVulnerabilities(trivy),
      tests: [
        { name: 'a', suite: 's', status: 'failed' },
        { name: 'b', suite: 's', status: 'failed' },
        { name: 'c', suite: 's', status: 'failed' },
        { name: 'd', suite: 's', status: 'failed' },
      ],
      perf: { p95Ms: 130, baselineP95Ms: 100 },
      licenses: [{ component: 'gpl-thing@1.0.0', licenses: ['GPL-3.0-only'] }],
    });
    expect(failures.map((f) => `${f.rule}: ${f.message}`)).toEqual([
      'vulnerabilities: 1 critical vulnerability (at most 0): CVE-2026-0001',
      'tests: 4 of 4 tests failed: s.a, s.b, s.c and 1 more',
      'perf: p95 latency 130 ms against 100 ms for the version it replaces: +30.0% (at most +5%)',
      'licenses: 1 component with licenses outside the allow list: gpl-thing@1.0.0 (GPL-3.0-only)',
    ]);
    expect(failures[1]?.findings).toHaveLength(4);
  });

  it('counts no ignored id, and fails a rule that has no evidence, saying so', () => {
    const lenient = EvidencePolicy.parse({ vulnerabilities: { ignore: ['CVE-2026-0001'] }, tests: {} });
    expect(judgeEvidence(lenient, { vulnerabilities: readVulnerabilities(trivy), tests: [] })).toEqual([
      { rule: 'tests', message: 'the test results hold no tests', findings: [] },
    ]);
    expect(judgeEvidence(lenient, {}).map((f) => f.message)).toEqual([
      'no trusted vulnerability scan of this artifact',
      'no trusted test results for this artifact',
    ]);
  });
});

describe('evidence gates in a plan', () => {
  it("puts one before each environment whose policy (its own, else the service's) asks for evidence", () => {
    const catalog = ServiceCatalog.parse({
      services: [
        {
          name: 'hello',
          evidence: { tests: {} },
          environments: [
            { name: 'staging', waves: [['s-1']] },
            {
              name: 'production',
              waves: [['p-1'], ['p-2']],
              evidence: { vulnerabilities: { maxHigh: 3 }, waiverWaitSeconds: 600 },
            },
          ],
        },
      ],
    });
    const hello = catalog.services[0];
    if (!hello) throw new Error('no service');
    const plan = planRelease({ service: 'hello', version: '1.5.0', releaseId: 'r', changeClass: 'standard' }, hello);
    expect(
      plan.gates
        .filter((g) => g.kind === 'evidence')
        .map((g) => [g.id, g.beforeWave, g.roles, g.timeoutSeconds, g.description]),
    ).toEqual([
      [
        'evidence-staging',
        0,
        ['sre'],
        0,
        'the attestations of hello@1.5.0 meet the staging policy (every test passed)',
      ],
      [
        'evidence-production',
        1,
        ['sre'],
        600,
        'the attestations of hello@1.5.0 meet the production policy (vulnerabilities: at most 0 critical, 3 high)',
      ],
    ]);
    const without = ServiceCatalog.parse({
      services: [{ name: 'hello', environments: [{ name: 'production', waves: [['p-1']] }] }],
    });
    expect(
      planRelease({ service: 'hello', version: '1.5.0', releaseId: 'r', changeClass: 'standard' }, without.services[0]!)
        .gates,
    ).toEqual([]);
  });
});
