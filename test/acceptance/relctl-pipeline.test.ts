// A pipeline and its people using nothing but relctl against a real engine: start --wait follows the release region
// by region and exits 0 on success; a second principal approves from another shell; a failing version exits non-zero
// after its rollback; then the read commands (list, service, audit, DORA) tell the story.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { useEngines, waitUntil } from '../support/engine';
import { RELCTL, runRelctl, startRelctl } from '../support/relctl';

const relctl = startRelctl;
const run = runRelctl;

describe('relctl as a pipeline uses it', () => {
  const engines = useEngines();

  it('start --wait, approve as a second principal, a failing version exits non-zero, then list/service/audit/dora', async () => {
    const engine = await engines.start({ record: 'relctl-pipeline', waves: [['a'], ['b']] });
    const { service } = engine;
    const [a, b] = engine.regions as [string, string];

    // 1. The pipeline starts a normal change and waits; it stops at the production approval gate.
    const pipeline = relctl(engine, 'ci', [
      'release',
      'start',
      `${service}@1.1.0`,
      '--change-class',
      'normal',
      '--release-id',
      'pipe-1',
      '--wait',
    ]);
    // The waiting pipeline tells whoever reads its log what is needed next.
    await waitUntil(
      () =>
        Promise.resolve(
          pipeline.output().includes(`relctl release approve|reject ${service} pipe-1 production-approval`),
        ),
      30_000,
    );

    // 2. The pipeline's own principal cannot approve; an approver can, from another shell.
    const self = await run(engine, 'ci', ['release', 'approve', service, 'pipe-1', 'production-approval']);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/needs the approver or sre role/);
    const approved = await run(engine, 'alice', [
      'release',
      'approve',
      service,
      'pipe-1',
      'production-approval',
      '--comment',
      'looks good',
    ]);
    expect(approved).toMatchObject({ code: 0, stdout: 'gate production-approval: approved (1 of 1 approvals)\n' });

    // 3. The waiting pipeline followed every region and exits 0.
    const succeeded = await pipeline.done;
    expect(succeeded.code).toBe(0);
    expect(succeeded.stdout).toContain(`${a}: 50% of traffic on 1.1.0`);
    expect(succeeded.stdout).toContain(`${b}: 1.1.0 promoted to 100%`);
    expect(succeeded.stdout).toMatch(/release pipe-1: succeeded after \d+s/);

    // 4. The failing version: the pipeline exits 1 once the release has rolled back.
    const failing = await run(engine, 'ci', [
      'release',
      'start',
      `${service}@1.2.0`,
      '--release-id',
      'pipe-2',
      '--wait',
    ]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/release pipe-2: rolled-back after \d+s: canary of 1\.2\.0 failed in/);

    // 5. What SREs and auditors read afterwards.
    const list = await run(engine, 'viewer', ['release', 'list', '--service', service, '--json']);
    expect(list.code).toBe(0);
    expect(
      (JSON.parse(list.stdout) as { releaseId: string; stage: string }[]).map((r) => [r.releaseId, r.stage]),
    ).toEqual([
      ['pipe-2', 'rolled-back'],
      ['pipe-1', 'succeeded'],
    ]);
    const rolledBack = await run(engine, 'viewer', [
      'release',
      'list',
      '--service',
      service,
      '--outcome',
      'rolled-back',
    ]);
    expect(rolledBack.stdout).toContain('pipe-2');
    expect(rolledBack.stdout).not.toContain('pipe-1');

    const serviceView = await run(engine, 'viewer', ['service', 'get', service, '--json']);
    const regions = (JSON.parse(serviceView.stdout) as { regions: { region: string; version: string }[] }).regions;
    expect(regions.map((r) => [r.region, r.version])).toEqual([
      [a, '1.1.0'],
      [b, '1.1.0'],
    ]);

    const audit = await run(engine, 'sam', ['audit', 'list', '--release-id', 'pipe-1']);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/alice\s+gate\.approved\s+.*pipe-1 production-approval: looks good/);
    const verify = await run(engine, 'sam', ['audit', 'verify']);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(
      /^audit trail intact: \d+ records, head [0-9a-f]{64}\n {2}anchoring: \d+ records anchored by \d+ signed checkpoints; latest checkpoint \d+ up to record \d+\n$/,
    );

    const dora = await run(engine, 'viewer', ['metrics', 'dora', service, '--days', '1']);
    expect(dora.code).toBe(0);
    expect(dora.stdout).toContain('deployment frequency: 1 successful releases per day (1 in 1 days)');
    expect(dora.stdout).toContain('change failure rate: 50.0% (1 of 2 releases)');
    expect(dora.stdout).toMatch(/lead time for changes: median \d+(s|m), p90 \d+(s|m) \(1 releases\)/);
    expect(dora.stdout).toMatch(/time to restore: median \d+s \(1 restores\)/);
  }, 180_000);

  it('bad usage and a wrong token are told apart by exit code, with a readable message', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const usage = await run(engine, 'ci', ['release', 'start', 'not-a-ref']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^relctl: release start needs <service>@<version>, e\.g\. hello@1\.1\.0/);
    const limit = await run(engine, 'viewer', ['release', 'list', '--limit', 'lots']);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toMatch(/--limit must be a whole number above 0, not "lots"/);
    const refused = await run(engine, 'ci', ['audit', 'verify']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/needs the approver or operator or sre or viewer role/);
    const child = spawn(process.execPath, [RELCTL, 'service', 'list'], {
      env: { ...process.env, RELCTL_URL: engine.apiUrl, RELCTL_TOKEN: 'wrong' },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(code).toBe(3);
    expect(stderr).toMatch(/the bearer token is not valid/);
  });
});
