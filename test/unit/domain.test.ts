import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { catalogRegions, fleetSpecFor, ServiceCatalog, ServiceSpec } from '../../domain/catalog';
import { parseArtifactRef, releaseWorkflowId } from '../../domain/names';
import { planRelease } from '../../domain/plan';
import { ReleaseRequest } from '../../domain/release-request';

const hello = ServiceSpec.parse({
  name: 'hello',
  environments: [
    { name: 'staging', waves: [['stg-1']] },
    { name: 'production', waves: [['eu-1'], ['us-1', 'us-2']] },
  ],
});

describe('planRelease', () => {
  it('orders waves by environment, then by wave, each region on its own task queue', () => {
    const plan = planRelease({ service: 'hello', version: '2.0.0', releaseId: 'r1', changeClass: 'standard' }, hello);
    expect(plan.waves.map((w) => [w.index, w.environment, w.regions.map((r) => r.region)])).toEqual([
      [0, 'staging', ['stg-1']],
      [1, 'production', ['eu-1']],
      [2, 'production', ['us-1', 'us-2']],
    ]);
    expect(plan.waves[2]?.regions.map((r) => r.taskQueue)).toEqual(['deploy.us-1', 'deploy.us-2']);
  });

  it('bakes each canary step for the request bake, else the step bake, else the service bake (default 30s)', () => {
    const base = { service: 'hello', version: '2.0.0', releaseId: 'r1', changeClass: 'standard' } as const;
    expect(planRelease(base, hello).canary.steps).toEqual([
      { percent: 10, bakeSeconds: 30 },
      { percent: 50, bakeSeconds: 30 },
    ]);
    const stepped = ServiceSpec.parse({
      ...hello,
      canary: { steps: [{ percent: 5, bakeSeconds: 600 }, { percent: 25 }] },
    });
    expect(planRelease(base, stepped).canary.steps).toEqual([
      { percent: 5, bakeSeconds: 600 },
      { percent: 25, bakeSeconds: 30 },
    ]);
    expect(planRelease({ ...base, bakeSeconds: 0 }, stepped).canary.steps.map((s) => s.bakeSeconds)).toEqual([0, 0]);
    // A region is flagged as stalled after its longest bake plus the service's margin (600s by default); the
    // sequential judge (the default) may extend a bake to maxBakeFactor (3) times its length after a 3 s warm-up.
    expect(planRelease(base, stepped).stallAlertSeconds).toBe(600 * 3 + 3 + 600);
    expect(planRelease({ ...base, judge: 'fixed-window' }, stepped).stallAlertSeconds).toBe(1200);
  });

  it('refuses a catalog entry of another service', () => {
    expect(() =>
      planRelease({ service: 'other', version: '1.0.0', releaseId: 'r1', changeClass: 'standard' }, hello),
    ).toThrow(/plan for other was given the catalog entry of hello/);
  });
});

describe('service catalog', () => {
  it('rejects a region listed twice, pointing at the second occurrence', () => {
    const result = ServiceSpec.safeParse({
      name: 'hello',
      environments: [
        { name: 'staging', waves: [['eu-1']] },
        { name: 'production', waves: [['eu-1']] },
      ],
    });
    expect(result.success).toBe(false);
    expect(z.prettifyError(result.error!)).toMatch(
      /region eu-1 appears more than once[\s\S]*environments\[1\]\.waves\[0\]\[0\]/,
    );
  });

  it('rejects a service listed twice and an empty wave', () => {
    const twice = ServiceCatalog.safeParse({ services: [hello, hello] });
    expect(z.prettifyError(twice.error!)).toMatch(/service hello is listed twice/);
    const empty = ServiceSpec.safeParse({ name: 'x', environments: [{ name: 'p', waves: [[]] }] });
    expect(z.prettifyError(empty.error!)).toMatch(/a wave needs at least one region/);
  });

  it('takes a fleet per service and per environment; a bad one is named by its field', () => {
    const exec = {
      driver: 'exec',
      commands: {
        deploy: ['deploy.sh'],
        setTraffic: ['traffic.sh'],
        promote: ['promote.sh'],
        revert: ['revert.sh'],
        status: ['status.sh', '--json'],
      },
    };
    const mixed = ServiceSpec.parse({
      name: 'hello',
      fleet: 'local',
      environments: [
        { name: 'staging', waves: [['stg-1']] },
        { name: 'production', fleet: exec, waves: [['eu-1']] },
      ],
    });
    expect(fleetSpecFor(mixed, 'stg-1')).toEqual({ driver: 'local' });
    expect(fleetSpecFor(mixed, 'eu-1')).toMatchObject({ driver: 'exec', timeoutSeconds: 300, sameAgeBaseline: false });
    expect(ServiceSpec.parse({ name: 'x', environments: [{ name: 'p', waves: [['a']] }] }).fleet).toEqual({
      driver: 'local',
    });

    const problems = (fleet: unknown) =>
      z.prettifyError(
        ServiceSpec.safeParse({ name: 'x', environments: [{ name: 'p', fleet, waves: [['a']] }] }).error!,
      );
    expect(problems('kubernetes')).toMatch(/environments\[0\]\.fleet\.driver/);
    expect(problems({ driver: 'exec', commands: { ...exec.commands, deploy: [] } })).toMatch(
      /a command is \[program, \.\.\.arguments\][\s\S]*environments\[0\]\.fleet\.commands\.deploy/,
    );
    expect(problems({ driver: 'exec', commands: { deploy: ['d'] } })).toMatch(/fleet\.commands\.setTraffic/);
    expect(problems({ ...exec, timeoutSeconds: 0 })).toMatch(/fleet\.timeoutSeconds/);
    // ssm: the artifact bucket, checked by field; the prefix defaults.
    expect(problems({ driver: 'ssm', artifactBucket: { bucket: 'Bad_Bucket' } })).toMatch(
      /must be an S3 bucket name[\s\S]*fleet\.artifactBucket\.bucket/,
    );
    expect(problems({ driver: 'ssm', artifactBucket: { bucket: 'ok-bucket', prefix: 'no-slash' } })).toMatch(
      /fleet\.artifactBucket\.prefix/,
    );
    const ssm = ServiceSpec.parse({
      name: 'x',
      fleet: { driver: 'ssm', artifactBucket: { bucket: 'acme-artifacts' } },
      environments: [{ name: 'p', waves: [['a']] }],
    });
    expect(ssm.fleet).toEqual({
      driver: 'ssm',
      artifactBucket: { bucket: 'acme-artifacts', prefix: 'release-engine/artifacts/' },
      sameAgeBaseline: false,
    });
  });

  it('lists every region once, in release order', () => {
    expect(catalogRegions({ services: [hello] })).toEqual(['stg-1', 'eu-1', 'us-1', 'us-2']);
  });
});

describe('release request', () => {
  it('defaults to a standard change that does not queue, and trims the reason', () => {
    expect(ReleaseRequest.parse({ service: 'hello', version: '1.2.3-rc.1+build.5', reason: '  hotfix ' })).toEqual({
      service: 'hello',
      version: '1.2.3-rc.1+build.5',
      changeClass: 'standard',
      reason: 'hotfix',
      queue: false,
    });
  });

  it('names every bad field', () => {
    const result = ReleaseRequest.safeParse({ service: 'Hello World', version: '1.2', bakeSeconds: -1, extra: 1 });
    const message = z.prettifyError(result.error!);
    for (const field of ['service', 'version', 'bakeSeconds']) expect(message).toContain(`at ${field}`);
    expect(message).toMatch(/Unrecognized key: "extra"/);
  });
});

describe('names', () => {
  it('parses service@version and builds the workflow id', () => {
    expect(parseArtifactRef('hello@1.1.0')).toEqual({ service: 'hello', version: '1.1.0' });
    expect(parseArtifactRef('hello')).toBeUndefined();
    expect(parseArtifactRef('@1.0.0')).toBeUndefined();
    expect(releaseWorkflowId('hello', 'r1')).toBe('release/hello/r1');
  });
});
