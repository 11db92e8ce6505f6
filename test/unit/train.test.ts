// A train's plan: members after what they depend on, side by side otherwise, optionally in lockstep by environment;
// what a member requires of another member is checked against the version the train brings.
import { describe, expect, it } from 'vitest';
import { ServiceCatalog } from '../../domain/catalog';
import { planRelease } from '../../domain/plan';
import { planTrain, TrainRefusal, TrainRequest, trainReleaseId, trainUndoId } from '../../domain/train';

const envs = [
  { name: 'staging', waves: [['stg-1']] },
  { name: 'production', waves: [['eu-1']] },
];
const catalog = ServiceCatalog.parse({
  services: [
    { name: 'hello', environments: envs },
    { name: 'greeter', dependsOn: ['hello'], environments: envs },
    { name: 'web', dependsOn: ['greeter'], environments: envs },
    { name: 'billing', environments: [{ name: 'production', waves: [['eu-2']] }] },
  ],
});
const request = (members: string[], extra: Record<string, unknown> = {}) =>
  TrainRequest.parse({
    trainId: 't-1',
    members: members.map((m) => ({ service: m.split('@')[0], version: m.split('@')[1] })),
    ...extra,
  }) as TrainRequest & { trainId: string };
const facts = (requires: Record<string, Record<string, string>> = {}) => ({
  catalog,
  requires: (service: string) => requires[service],
  running: () => [{ region: 'x', version: '1.0.0' }],
});

describe('planTrain', () => {
  it('orders members by the dependency graph (through services outside the train too), independent ones side by side, and undoes them in reverse', () => {
    const plan = planTrain(request(['web@3.0.0', 'billing@1.1.0', 'hello@1.5.0', 'greeter@2.1.0']), facts());
    expect(plan.stages.map((s) => s.members.map((m) => m.service))).toEqual([
      ['billing', 'hello'],
      ['greeter'],
      ['web'],
    ]);
    expect(plan.rollbackOrder).toEqual(['web', 'greeter', 'hello', 'billing']);
    expect(plan.onFailure).toBe('rollback');
  });

  it('in lockstep, every member goes through staging before any enters production', () => {
    const plan = planTrain(request(['web@3.0.0', 'billing@1.1.0', 'hello@1.5.0'], { lockstep: true }), facts());
    expect(plan.stages.map((s) => `${s.environment}: ${s.members.map((m) => m.service).join(' ')}`)).toEqual([
      'staging: hello',
      'staging: web',
      'production: billing hello',
      'production: web',
    ]);
  });

  it('checks a requirement on another member against the version the train brings', () => {
    const requires = { greeter: { hello: '>=1.5.0' }, web: { greeter: '^2.1.0' } };
    expect(() => planTrain(request(['hello@1.5.0', 'greeter@2.1.0', 'web@3.0.0']), facts(requires))).not.toThrow();
    expect(() => planTrain(request(['hello@1.4.0', 'greeter@2.0.0', 'web@3.0.0']), facts(requires))).toThrow(
      new TrainRefusal([
        'greeter@2.0.0 needs hello >=1.5.0, but the train brings hello@1.4.0',
        'web@3.0.0 needs greeter ^2.1.0, but the train brings greeter@2.0.0',
      ]),
    );
    // A dependency outside the train: what runs where the member goes.
    expect(() => planTrain(request(['greeter@2.1.0', 'web@3.0.0']), facts(requires))).toThrow(
      'greeter@2.1.0 needs hello >=1.5.0 in staging, which runs 1.0.0; greeter@2.1.0 needs hello >=1.5.0 in production, which runs 1.0.0',
    );
  });

  it('refuses unknown services and a service twice, naming them', () => {
    expect(() => planTrain(request(['hello@1.5.0', 'nowhere@1.0.0']), facts())).toThrow(
      'nowhere is not in the catalog',
    );
    const twice = TrainRequest.safeParse({
      members: [
        { service: 'hello', version: '1.0.0' },
        { service: 'hello', version: '1.1.0' },
      ],
    });
    expect(twice.error?.issues[0]).toMatchObject({
      path: ['members', 1, 'service'],
      message: 'hello is in the train twice; a train releases one version of each service',
    });
    expect(
      TrainRequest.safeParse({ members: [{ service: 'hello', version: '1.0.0' }] }).error?.issues[0]?.message,
    ).toBe('a train has at least two members');
  });
});

describe('lockstep with members whose environments differ', () => {
  it('merges their orders, and refuses when no one order suits every member', () => {
    const catalogOf = (b: string[]) =>
      ServiceCatalog.parse({
        services: [
          { name: 'a', environments: envs },
          { name: 'b', environments: b.map((name, i) => ({ name, waves: [[`b-${i}`]] })) },
        ],
      });
    const merged = planTrain(request(['a@1.0.0', 'b@1.0.0'], { lockstep: true }), {
      ...facts(),
      catalog: catalogOf(['canary', 'production']),
    });
    expect(merged.stages.map((s) => `${s.environment}: ${s.members.map((m) => m.service).join(', ')}`)).toEqual([
      'staging: a',
      'canary: b',
      'production: a, b',
    ]);
    expect(() =>
      planTrain(request(['a@1.0.0', 'b@1.0.0'], { lockstep: true }), {
        ...facts(),
        catalog: catalogOf(['production', 'staging']),
      }),
    ).toThrow(
      'lockstep needs one order of environments for every member, but a goes staging > production and b goes production > staging',
    );
  });
});

describe("a train member's release plan", () => {
  const hello = catalog.services.find((s) => s.name === 'hello');
  if (!hello) throw new Error('no hello in the test catalog');
  const planFor = (extra: Parameters<typeof planRelease>[2]) =>
    planRelease({ service: 'hello', version: '1.5.0', releaseId: 't-1', changeClass: 'normal' }, hello, extra);

  it('asks for no approval of its own: the train asks once for all its members', () => {
    expect(planFor(undefined).gates.map((g) => g.id)).toEqual(['promote-to-production', 'production-approval']);
    expect(planFor({ approvedByTrain: true }).gates.map((g) => g.id)).toEqual(['promote-to-production']);
  });

  it('in lockstep goes through one environment, with no promotion gate into it (the train released staging before)', () => {
    const production = planFor({ approvedByTrain: true, environments: ['production'] });
    expect(production.waves.map((w) => [w.environment, w.index])).toEqual([['production', 0]]);
    expect(production.environments).toEqual(['production']);
    expect(production.gates).toEqual([]);
    expect(planFor({ approvedByTrain: true, environments: ['staging'] }).waves.map((w) => w.environment)).toEqual([
      'staging',
    ]);
  });

  it('gets a release id from the train, within the 64 characters a release id may have', () => {
    expect(trainReleaseId('t-1')).toBe('t-1');
    expect(trainReleaseId('t-1', 'production', 1)).toBe('t-1.production');
    const long = 'x'.repeat(48);
    expect(trainReleaseId(long, 'a-very-long-environment-name', 2)).toBe(`${long}.3`);
    expect(trainUndoId('t-1', 3)).toBe('t-1.undo3');
    expect(TrainRequest.safeParse({ trainId: 'y'.repeat(49), members: [] }).error?.issues[0]?.message).toMatch(
      /at most 48 characters/,
    );
  });
});
