// Evidence gates (issue 16) over the real parts: a service whose policy asks for a vulnerability scan releases only an
// artifact whose signed scan passes it; a failing one is refused before anything changes, naming the CVE, unless an
// SRE waives it with a reason, which goes on the audit trail.
import { describe, expect, it } from 'vitest';
import { attest } from '../../providers/artifacts/attestations';
import { generateSigningKey } from '../../providers/artifacts/signing';
import { type TestEngine, useEngines, waitUntil } from '../support/engine';

const HEALTHY = { greeting: 'hi', failureRate: 0, latencyMs: 5 };
const scan = (vulnerabilities: { id: string; severity: string }[]) => ({
  SchemaVersion: 2,
  Results: [
    {
      Target: 'package-lock.json',
      Vulnerabilities: vulnerabilities.map((v) => ({ VulnerabilityID: v.id, PkgName: 'lib', Severity: v.severity })),
    },
  ],
});

/** Publishes `version` with a scan attestation signed by `key` (default: the engine's, which the service trusts). */
async function publishScanned(engine: TestEngine, version: string, report: unknown, key?: string) {
  const record = await engine.publish(version, HEALTHY);
  const envelope = attest(
    { service: engine.service, version, digest: record.digest },
    'vuln-scan',
    report,
    key ?? engine.signingKey.privateKeyPem,
  );
  await engine.artifacts.putAttestation(engine.service, version, envelope);
}

describe('evidence gates', () => {
  const engines = useEngines();

  it('refuse an artifact whose trusted scan has a critical vulnerability before anything changes, naming the CVE; a clean one passes', async () => {
    const engine = await engines.start({
      record: 'evidence-refused',
      waves: [['a']],
      service: { evidence: { vulnerabilities: { maxCritical: 0, maxHigh: 3 } } },
    });
    await publishScanned(engine, '1.5.0', scan([{ id: 'CVE-2026-0001', severity: 'CRITICAL' }]));
    // A clean scan signed by a key the service does not trust does not count, and the release says so.
    const stranger = generateSigningKey();
    const record = await engine.artifacts.resolve(engine.service, '1.5.0');
    await engine.artifacts.putAttestation(
      engine.service,
      '1.5.0',
      attest(
        { service: engine.service, version: '1.5.0', digest: record?.digest ?? '' },
        'vuln-scan',
        scan([]),
        stranger.privateKeyPem,
      ),
    );
    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.5.0', releaseId: 'critical' });
    const refused = await engine.waitForOutcome('critical');
    expect(refused.outcome?.result).toBe('failed');
    expect(refused.outcome?.reason).toBe(
      'the evidence for production fails its policy: vulnerabilities: 1 critical vulnerability (at most 0): CVE-2026-0001',
    );
    expect(refused.timeline.map((e) => e.message)).toContain(
      `evidence for production: attestation 2 does not count: it is signed with key ${stranger.keyId}, which this service does not trust`,
    );
    expect(await engine.fleetEvents('critical')).toEqual([]);
    expect((await engine.artifacts.promotion(engine.service, '1.5.0')).status).toBe('candidate');
    const judged = (await engine.auditTrail.list({ releaseId: 'critical' })).find(
      (r) => r.action === 'evidence.judged',
    );
    expect(judged?.details).toMatchObject({ environment: 'production', passed: false, findings: ['CVE-2026-0001'] });

    await publishScanned(engine, '1.6.0', scan([{ id: 'CVE-2026-0002', severity: 'HIGH' }]));
    await engine.trpc('ci').release.start.mutate({ service: engine.service, version: '1.6.0', releaseId: 'clean' });
    const passed = await engine.waitForOutcome('clean');
    expect(passed.outcome?.result).toBe('succeeded');
    expect(passed.timeline.map((e) => e.message)).toContain(
      `gate evidence-production passed: the attestations of ${engine.service}@1.6.0 meet the production policy (vulnerabilities: at most 0 critical, 3 high) (attested: vulnerabilities)`,
    );
  }, 120_000);

  it('wait, when the policy allows it, for a waiver by an SRE with a reason, which goes on the audit trail', async () => {
    const engine = await engines.start({
      record: 'evidence-waived',
      waves: [['a']],
      service: { evidence: { vulnerabilities: { maxCritical: 0 }, waiverWaitSeconds: 120 } },
    });
    await publishScanned(engine, '1.5.0', scan([{ id: 'CVE-2026-0001', severity: 'CRITICAL' }]));
    const ref = { service: engine.service, releaseId: 'waived' };
    await engine.trpc('ci').release.start.mutate({ ...ref, version: '1.5.0' });
    const waiting = await engine.waitForStatus('waived', (s) => s.gates.some((g) => g.status === 'waiting'));
    expect(waiting.stage).toBe('needs-decision');
    expect(waiting.gates[0]).toMatchObject({ id: 'evidence-production', kind: 'evidence', roles: ['sre'] });
    expect(await engine.fleetEvents('waived')).toEqual([]);

    const gate = { ...ref, gate: 'evidence-production' };
    const byApprover = await engine.rawCall('release.approve', { ...gate, comment: 'fine' }, engine.tokens.alice);
    expect(byApprover.status).toBe(403);
    expect(byApprover.body.error?.message).toMatch(/needs the sre role/);
    const noReason = await engine.rawCall('release.approve', gate, engine.tokens.sam);
    expect(noReason.status).toBe(400);
    expect(noReason.body.error?.message).toBe(
      'a waiver of gate evidence-production needs a reason: approve it with a comment saying why the release may go on',
    );
    await engine
      .trpc('sam')
      .release.approve.mutate({ ...gate, comment: 'not reachable: the parser is unused (SEC-123)' });

    const done = await engine.waitForOutcome('waived');
    expect(done.outcome?.result).toBe('succeeded');
    const waiver = (await engine.auditTrail.list({ releaseId: 'waived' })).find((r) => r.action === 'evidence.waived');
    expect(waiver).toMatchObject({ actor: 'sam', reason: 'not reachable: the parser is unused (SEC-123)' });
    expect(waiver?.details).toMatchObject({ environment: 'production', rules: ['vulnerabilities'] });
  }, 120_000);

  it('a ticket policy refuses a normal change without a ticket, naming the field; with one, the ticket is on record', async () => {
    const engine = await engines.start({
      record: 'change-ticket',
      waves: [['a']],
      service: { changeTickets: { requiredFor: ['normal'], pattern: '^CHG-[0-9]+$' } },
    });
    const request = { service: engine.service, version: '1.3.0', releaseId: 'ticketed', changeClass: 'normal' };
    const without = await engine.rawCall('release.start', request, engine.tokens.ci);
    expect(without.status).toBe(400);
    expect(without.body.error?.message).toBe(
      `ticket: a normal change of ${engine.service} needs a change ticket (the catalog's changeTickets.requiredFor); pass its reference, e.g. CHG-1234`,
    );
    const malformed = await engine.rawCall('release.start', { ...request, ticket: 'JIRA-7' }, engine.tokens.ci);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error?.message).toBe(
      `ticket: "JIRA-7" is not a ticket reference of ${engine.service}'s ticketing system (it must match ^CHG-[0-9]+$)`,
    );
    expect(
      await engine.rawCall(
        'release.get',
        { service: engine.service, releaseId: 'ticketed' },
        engine.tokens.viewer,
        'GET',
      ),
    ).toMatchObject({ status: 404 });
    const standard = await engine.rawCall(
      'release.plan',
      { ...request, changeClass: 'standard' },
      engine.tokens.ci,
      'GET',
    );
    expect(standard.status).toBe(200);

    await engine.trpc('ci').release.start.mutate({ ...request, changeClass: 'normal', ticket: 'CHG-42' });
    await engine.waitForStatus('ticketed', (s) => s.stage === 'awaiting-approval');
    await engine
      .trpc('bob')
      .release.approve.mutate({ service: engine.service, releaseId: 'ticketed', gate: 'production-approval' });
    const done = await engine.waitForOutcome('ticketed');
    expect(done.outcome?.result).toBe('succeeded');
    expect(done.ticket).toBe('CHG-42');
    const requested = (await engine.auditTrail.list({ releaseId: 'ticketed' })).find(
      (r) => r.action === 'release.requested',
    );
    expect(requested?.details).toMatchObject({ ticket: 'CHG-42' });
    await waitUntil(async () => {
      const found = [];
      for await (const e of engine.client.workflow.list({
        query: `ReleaseTicket = "CHG-42" AND ReleaseService = "${engine.service}"`,
      }))
        found.push(e);
      return found.length === 1;
    }, 30_000);
  }, 120_000);
});
