// The exec driver's contract, from both sides: what a step's command is given (JSON on stdin, RELEASE_* variables,
// nothing else of the agent's environment but what the catalog passes), and what its exit code and output mean.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExecFleetSpec } from '../../domain/catalog';
import { ExecFleetTarget } from '../../providers/fleet/exec-fleet';
import { FleetError } from '../../providers/fleet/fleet-target';

const STEP = [process.execPath, join(__dirname, '..', 'fixtures', 'exec-fleet', 'contract-step.mjs')];
const REF = { service: 'hello', region: 'eu-1' };

function target(mode: string, timeoutSeconds = 30) {
  const settings = ExecFleetSpec.parse({
    driver: 'exec',
    commands: { deploy: [...STEP, '--deploy'], setTraffic: STEP, promote: STEP, revert: STEP, status: STEP },
    timeoutSeconds,
    passEnv: ['CONTRACT_MODE'],
  });
  return new ExecFleetTarget(settings, {
    env: { PATH: process.env.PATH, CONTRACT_MODE: mode, SECRET_TOKEN: 'do-not-pass' },
    artifactUrl: (r) => `http://engine.test/artifacts/${r.digest}`,
  });
}

async function failure(promise: Promise<unknown>): Promise<FleetError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FleetError);
  return err as FleetError;
}

describe('exec fleet driver', () => {
  it('gives the command its step as JSON and RELEASE_* variables, and nothing of the agent but what is named', async () => {
    const fleet = target('echo');
    const request = { ...REF, version: '1.1.0', digest: 'sha256:ab', requestId: 'r-1' };
    const out = await fleet.run({ step: 'deploy', ...request, idempotencyKey: 'k', artifactUrl: 'http://a/b' });
    const given = out.given as { stdin: unknown; env: Record<string, string>; leaked: string[]; argv: string[] };
    expect(given.stdin).toEqual({
      step: 'deploy',
      service: 'hello',
      region: 'eu-1',
      version: '1.1.0',
      digest: 'sha256:ab',
      requestId: 'r-1',
      idempotencyKey: 'k',
      artifactUrl: 'http://a/b',
    });
    expect(given.env).toEqual({
      RELEASE_STEP: 'deploy',
      RELEASE_SERVICE: 'hello',
      RELEASE_REGION: 'eu-1',
      RELEASE_VERSION: '1.1.0',
      RELEASE_DIGEST: 'sha256:ab',
      RELEASE_REQUEST_ID: 'r-1',
      RELEASE_IDEMPOTENCY_KEY: 'k',
      RELEASE_ARTIFACT_URL: 'http://a/b',
    });
    expect(given.leaked).toEqual([]);
    // Arguments arrive as written, with no shell in between.
    expect(given.argv).toEqual(['--deploy']);

    // The deploy's result comes from the last line; every attempt of one step carries the same idempotency key.
    // What it printed before its result is the step's output (for the timeline and the audit trail).
    expect(await fleet.deploy(request)).toEqual({
      previousVersion: '1.0.0',
      alreadyRunning: false,
      output: 'working on it',
    });
    const keys = await Promise.all(
      [1, 2].map(async () => {
        const echoed = await fleet.run({ step: 'setTraffic', ...REF, version: '1.1.0', percent: 25, requestId: 'r-1' });
        return (echoed.given as { stdin: { idempotencyKey?: string } }).stdin.idempotencyKey;
      }),
    );
    expect(keys[0]).toBe(keys[1]);
  });

  it('exit 2 is a refusal, other exits and a timeout are retried, a result it cannot read is named', async () => {
    const request = { ...REF, version: '1.1.0', digest: 'sha256:ab', requestId: 'r-1' };
    const refused = await failure(target('refuse').deploy(request));
    expect(refused.retryable).toBe(false);
    expect(refused.message).toMatch(/^deploy of hello in eu-1 \(.*\) refused: no such image in the registry$/);

    const failed = await failure(target('fail').promote(request));
    expect(failed.retryable).toBe(true);
    expect(failed.message).toMatch(/promote of hello in eu-1 .* exited 1: connection reset by peer/);

    const slow = await failure(target('hang', 1).revert(request));
    expect(slow.retryable).toBe(true);
    expect(slow.message).toMatch(/ran past 1s and was stopped/);

    const garbage = await failure(target('garbage').promote(request));
    expect(garbage.retryable).toBe(false);
    expect(garbage.message).toMatch(/printed no JSON object on its last line: done!/);

    const missing = new ExecFleetTarget(
      ExecFleetSpec.parse({
        driver: 'exec',
        commands: { deploy: ['/no/such/deployer'], setTraffic: STEP, promote: STEP, revert: STEP, status: STEP },
      }),
    );
    const notThere = await failure(missing.deploy(request));
    expect(notThere.retryable).toBe(false);
    expect(notThere.message).toMatch(/could not start: ENOENT/);

    const noMetrics = await failure(target('echo').metrics(REF));
    expect(noMetrics.message).toMatch(/no metrics command: add commands.metrics .* or set METRICS_SOURCE=prometheus/);
  });

  it('a cancelled step stops its command', async () => {
    const abort = new AbortController();
    const running = target('hang').setTraffic(
      { ...REF, version: '1.1.0', percent: 50, requestId: 'r-1' },
      { signal: abort.signal },
    );
    setTimeout(() => abort.abort(), 200);
    const cancelled = await failure(running);
    expect(cancelled.message).toMatch(/was cancelled/);
  });
});
