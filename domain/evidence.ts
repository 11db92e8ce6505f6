// Evidence about an artifact from other tools (issue 16): security scans, test results, performance, licenses. This
// module reads the tools' own output formats into findings and judges them against a service's policy. Pure: no I/O,
// no clock; attestations (signed statements carrying these predicates) are checked elsewhere before their content is
// read here.
import { z } from 'zod';

// ---- what the tools say ----

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'unknown'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Vulnerability {
  id: string;
  severity: Severity;
  /** The package it was found in, when the scanner says. */
  pkg?: string;
}

export interface TestCase {
  name: string;
  /** The suite or class it belongs to, when the format says. */
  suite?: string;
  status: 'passed' | 'failed' | 'skipped';
  message?: string;
}

export interface PerfResult {
  /** p95 latency in milliseconds of the version the attestation is about. */
  p95Ms: number;
  /** p95 of the version it replaces, measured in the same run, when the tool compared them. */
  baselineP95Ms?: number;
}

/** Thrown for a predicate that is not in a format this engine reads; the message names the format expected. */
export class EvidenceFormatError extends Error {
  override readonly name = 'EvidenceFormatError';
}

function severityOf(value: unknown): Severity {
  const named = text(value, '').toLowerCase();
  if (named === 'critical' || named === 'high' || named === 'medium' || named === 'low') return named;
  if (named === 'moderate') return 'medium';
  if (named === 'negligible') return 'low';
  return 'unknown';
}

/** SARIF's numeric security-severity (CVSS) to a severity, as GitHub code scanning maps it. */
function severityOfScore(score: number): Severity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'unknown';
}

const asRecord = (value: unknown): Record<string, unknown> =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
/** A string or number field as text; anything else (absent, an object) as `fallback`. */
const text = (value: unknown, fallback = '?'): string =>
  typeof value === 'string' ? value : typeof value === 'number' ? text(value) : fallback;

/**
 * The vulnerabilities of a scanner's report: Trivy JSON (`Results[].Vulnerabilities[]`), Grype JSON
 * (`matches[].vulnerability`) or SARIF 2.1 (`runs[].results[]`, severity from the rule's `security-severity`).
 * Each id is listed once, at its highest severity.
 */
export function readVulnerabilities(report: unknown): Vulnerability[] {
  const root = asRecord(report);
  const found: Vulnerability[] = [];
  if (Array.isArray(root.Results)) {
    for (const result of asArray(root.Results)) {
      for (const v of asArray(asRecord(result).Vulnerabilities)) {
        const vuln = asRecord(v);
        found.push({
          id: text(vuln.VulnerabilityID),
          severity: severityOf(vuln.Severity),
          ...(vuln.PkgName ? { pkg: text(vuln.PkgName) } : {}),
        });
      }
    }
  } else if (Array.isArray(root.matches)) {
    for (const m of asArray(root.matches)) {
      const match = asRecord(m);
      const vuln = asRecord(match.vulnerability);
      const artifact = asRecord(match.artifact);
      found.push({
        id: text(vuln.id),
        severity: severityOf(vuln.severity),
        ...(artifact.name ? { pkg: text(artifact.name) } : {}),
      });
    }
  } else if (Array.isArray(root.runs)) {
    for (const r of asArray(root.runs)) {
      const run = asRecord(r);
      const rules = new Map<string, Record<string, unknown>>();
      for (const rule of asArray(asRecord(asRecord(run.tool).driver).rules)) {
        const record = asRecord(rule);
        rules.set(text(record.id, ''), record);
      }
      for (const res of asArray(run.results)) {
        const result = asRecord(res);
        const ruleId = text(result.ruleId);
        const properties = asRecord(rules.get(ruleId)?.properties);
        const score = Number(properties['security-severity']);
        const severity = Number.isFinite(score)
          ? severityOfScore(score)
          : result.level === 'error'
            ? 'high'
            : result.level === 'warning'
              ? 'medium'
              : 'low';
        found.push({ id: ruleId, severity });
      }
    }
  } else {
    throw new EvidenceFormatError(
      'the scan is not Trivy JSON (Results), Grype JSON (matches) or SARIF (runs); pass the scanner its JSON output option',
    );
  }
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  const byId = new Map<string, Vulnerability>();
  for (const v of found) {
    const seen = byId.get(v.id);
    if (!seen || rank(v.severity) < rank(seen.severity)) byId.set(v.id, v);
  }
  return [...byId.values()];
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescapeXml = (text: string) =>
  text.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => XML_ENTITIES[name] ?? '');

function attributesOf(tag: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of tag.matchAll(/([\w:.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) {
    attributes[match[1] as string] = unescapeXml(match[3] ?? match[4] ?? '');
  }
  return attributes;
}

/**
 * The test cases of a JUnit XML report (`<testsuites>`/`<testsuite>` of `<testcase>`s, each passed, or with a
 * `<failure>`/`<error>`, or `<skipped>`). Only the elements JUnit reports use are read; anything else is ignored.
 */
export function readJUnit(xml: string): TestCase[] {
  if (!/<testsuites?[\s>]/.test(xml)) {
    throw new EvidenceFormatError('the test results are not JUnit XML (no <testsuite> element)');
  }
  const cases: TestCase[] = [];
  for (const match of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attributes = attributesOf(match[1] ?? '');
    const body = match[3] ?? '';
    const failure = /<(failure|error)\b([^>]*?)(\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    const status = failure ? 'failed' : /<skipped\b/.test(body) ? 'skipped' : 'passed';
    const message = failure ? (attributesOf(failure[2] ?? '').message ?? unescapeXml((failure[4] ?? '').trim())) : '';
    cases.push({
      name: attributes.name ?? '?',
      ...(attributes.classname ? { suite: attributes.classname } : {}),
      status,
      ...(message ? { message: message.split('\n')[0]?.slice(0, 200) } : {}),
    });
  }
  return cases;
}

/** The licenses of a CycloneDX SBOM (JSON): component name -> license ids or names (a component may have several). */
export function readLicenses(sbom: unknown): { component: string; licenses: string[] }[] {
  const root = asRecord(sbom);
  if (root.bomFormat !== 'CycloneDX') {
    throw new EvidenceFormatError('the license report is not a CycloneDX SBOM in JSON (bomFormat "CycloneDX")');
  }
  return asArray(root.components).map((c) => {
    const component = asRecord(c);
    const licenses = asArray(component.licenses).flatMap((entry) => {
      const record = asRecord(entry);
      if (typeof record.expression === 'string') return [record.expression];
      const license = asRecord(record.license);
      const name = license.id ?? license.name;
      return typeof name === 'string' ? [name] : [];
    });
    return {
      component: `${text(component.name)}${component.version ? `@${text(component.version)}` : ''}`,
      licenses,
    };
  });
}

/** A performance result: `{ "p95Ms": 120, "baselineP95Ms": 115 }` (k6 or another tool's summary, reduced to these). */
export function readPerf(predicate: unknown): PerfResult {
  const root = asRecord(predicate);
  const p95 = Number(root.p95Ms);
  if (!Number.isFinite(p95) || p95 < 0) {
    throw new EvidenceFormatError('the performance result needs p95Ms, a number of milliseconds');
  }
  const baseline = Number(root.baselineP95Ms);
  return { p95Ms: p95, ...(Number.isFinite(baseline) && baseline > 0 ? { baselineP95Ms: baseline } : {}) };
}

// ---- what a service asks for ----

export const EvidencePolicy = z.strictObject({
  vulnerabilities: z
    .strictObject({
      /** The most findings of each severity a release may carry (absent: any number). */
      maxCritical: z.number().int().min(0).default(0),
      maxHigh: z.number().int().min(0).optional(),
      maxMedium: z.number().int().min(0).optional(),
      /** Vulnerability ids that do not count (accepted risks, with the ticket that says why in the catalog). */
      ignore: z.array(z.string().min(1)).default([]),
    })
    .optional(),
  tests: z
    .strictObject({
      /** Every test passed (skipped ones do not count against it). */ allPass: z.boolean().default(true),
    })
    .optional(),
  perf: z
    .strictObject({
      /** p95 latency may grow at most this much against the version it replaces, in percent. */
      maxP95RegressionPercent: z.number().min(0).default(5),
    })
    .optional(),
  licenses: z.strictObject({ allow: z.array(z.string().min(1)).min(1) }).optional(),
  /** Roles whose approval, with a reason, waives a failed rule (on the audit trail). */
  waiverRoles: z
    .array(z.enum(['sre', 'approver']))
    .min(1)
    .default(['sre']),
  /**
   * How long a release whose evidence fails waits for a waiver, in seconds; 0 (the default) fails it at once, before
   * it changes anything in that environment.
   */
  waiverWaitSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .default(0),
});
export type EvidencePolicy = z.infer<typeof EvidencePolicy>;

/** The evidence about one artifact, as read from its trusted attestations (absent: none was attested). */
export interface Evidence {
  vulnerabilities?: Vulnerability[];
  tests?: TestCase[];
  perf?: PerfResult;
  licenses?: { component: string; licenses: string[] }[];
}

export interface RuleFailure {
  rule: 'vulnerabilities' | 'tests' | 'perf' | 'licenses';
  /** In words, naming the first few findings. */
  message: string;
  /** The findings (ids, test names, components), all of them. */
  findings: string[];
}

/** How many findings a message names before "and N more". */
const NAMED = 3;

function naming(items: string[]): string {
  const named = items.slice(0, NAMED).join(', ');
  return items.length > NAMED ? `${named} and ${items.length - NAMED} more` : named;
}

/** Judges the evidence against the policy: every rule that failed, or none. A rule without evidence fails, saying so. */
export function judgeEvidence(policy: EvidencePolicy, evidence: Evidence): RuleFailure[] {
  const failures: RuleFailure[] = [];
  if (policy.vulnerabilities) {
    const rule = policy.vulnerabilities;
    if (!evidence.vulnerabilities) {
      failures.push({
        rule: 'vulnerabilities',
        message: 'no trusted vulnerability scan of this artifact',
        findings: [],
      });
    } else {
      const counted = evidence.vulnerabilities.filter((v) => !rule.ignore.includes(v.id));
      const limits: [Severity, number | undefined][] = [
        ['critical', rule.maxCritical],
        ['high', rule.maxHigh],
        ['medium', rule.maxMedium],
      ];
      for (const [severity, max] of limits) {
        if (max === undefined) continue;
        const ids = counted.filter((v) => v.severity === severity).map((v) => v.id);
        if (ids.length > max) {
          failures.push({
            rule: 'vulnerabilities',
            message: `${ids.length} ${severity} vulnerabilit${ids.length === 1 ? 'y' : 'ies'} (at most ${max}): ${naming(ids)}`,
            findings: ids,
          });
        }
      }
    }
  }
  if (policy.tests?.allPass) {
    if (!evidence.tests) {
      failures.push({ rule: 'tests', message: 'no trusted test results for this artifact', findings: [] });
    } else {
      const failed = evidence.tests
        .filter((t) => t.status === 'failed')
        .map((t) => `${t.suite ? `${t.suite}.` : ''}${t.name}`);
      if (failed.length > 0) {
        failures.push({
          rule: 'tests',
          message: `${failed.length} of ${evidence.tests.length} tests failed: ${naming(failed)}`,
          findings: failed,
        });
      } else if (evidence.tests.length === 0) {
        failures.push({ rule: 'tests', message: 'the test results hold no tests', findings: [] });
      }
    }
  }
  if (policy.perf) {
    const max = policy.perf.maxP95RegressionPercent;
    if (!evidence.perf) {
      failures.push({ rule: 'perf', message: 'no trusted performance result for this artifact', findings: [] });
    } else if (evidence.perf.baselineP95Ms === undefined) {
      failures.push({
        rule: 'perf',
        message: 'the performance result has no baseline (baselineP95Ms) to compare with',
        findings: [],
      });
    } else {
      const { p95Ms, baselineP95Ms } = evidence.perf;
      const regression = ((p95Ms - baselineP95Ms) / baselineP95Ms) * 100;
      if (regression > max) {
        failures.push({
          rule: 'perf',
          message: `p95 latency ${p95Ms} ms against ${baselineP95Ms} ms for the version it replaces: +${regression.toFixed(1)}% (at most +${max}%)`,
          findings: [`p95 +${regression.toFixed(1)}%`],
        });
      }
    }
  }
  if (policy.licenses) {
    const allow = policy.licenses.allow;
    if (!evidence.licenses) {
      failures.push({ rule: 'licenses', message: 'no trusted license report (SBOM) for this artifact', findings: [] });
    } else {
      const outside = evidence.licenses
        .filter((c) => c.licenses.length === 0 || c.licenses.some((l) => !allow.includes(l)))
        .map((c) => `${c.component} (${c.licenses.join(' + ') || 'no license'})`);
      if (outside.length > 0) {
        failures.push({
          rule: 'licenses',
          message: `${outside.length} component${outside.length === 1 ? '' : 's'} with licenses outside the allow list: ${naming(outside)}`,
          findings: outside,
        });
      }
    }
  }
  return failures;
}

/** The rules of a policy, in words, for a plan or a gate's description. */
export function describePolicy(policy: EvidencePolicy): string {
  const rules: string[] = [];
  const v = policy.vulnerabilities;
  if (v) {
    const limits = [
      `at most ${v.maxCritical} critical`,
      ...(v.maxHigh !== undefined ? [`${v.maxHigh} high`] : []),
      ...(v.maxMedium !== undefined ? [`${v.maxMedium} medium`] : []),
    ];
    rules.push(`vulnerabilities: ${limits.join(', ')}`);
  }
  if (policy.tests?.allPass) rules.push('every test passed');
  if (policy.perf) rules.push(`p95 at most +${policy.perf.maxP95RegressionPercent}%`);
  if (policy.licenses) rules.push(`licenses from ${policy.licenses.allow.join(', ')}`);
  return rules.join('; ') || 'no rules';
}
