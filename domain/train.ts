// Release trains: several `service@version` released together. The plan orders the members by the catalog's
// dependency graph (a member after the members it depends on; members that do not depend on each other in parallel),
// optionally in lockstep by environment (every member through one environment before any enters the next), and
// checks what each member requires: of another member, the version the train brings; of anything else, what runs
// where the member is going. Pure: the API gathers manifests and running versions first.
import { z } from 'zod';
import type { Gate } from './approval';
import { type ServiceCatalog, findService } from './catalog';
import { dependencyLevels, type RunningVersion, unmetRequirements } from './dependencies';
import { ReleaseId, ServiceName, Version } from './names';
import { ChangeClass, ChangeTicket } from './release-request';
import semver from 'semver';

export const TrainMember = z.strictObject({ service: ServiceName, version: Version });
export type TrainMember = z.infer<typeof TrainMember>;

export const TrainRequest = z
  .strictObject({
    /** Caller-chosen id; starting the same id twice yields the same train. */
    trainId: ReleaseId.refine((id) => id.length <= 48, {
      message: 'must be at most 48 characters (the release ids of its members add to it)',
    }).optional(),
    members: z.array(TrainMember).min(2, 'a train has at least two members').max(20, 'a train has at most 20 members'),
    /** Every member through one environment before any member enters the next (default: each member straight through). */
    lockstep: z.boolean().default(false),
    /** When a member fails: roll back the members already released, in reverse dependency order, or leave them. */
    onFailure: z.enum(['rollback', 'leave']).default('rollback'),
    changeClass: ChangeClass.default('standard'),
    reason: z.string().trim().min(1).max(2000).optional(),
    /** The change ticket the train carries out: on each member release, as for a release. */
    ticket: ChangeTicket.optional(),
  })
  .superRefine((request, ctx) => {
    const seen = new Set<string>();
    request.members.forEach((member, i) => {
      if (seen.has(member.service)) {
        ctx.addIssue({
          code: 'custom',
          path: ['members', i, 'service'],
          message: `${member.service} is in the train twice; a train releases one version of each service`,
        });
      }
      seen.add(member.service);
    });
    if (request.changeClass === 'emergency' && !request.reason) {
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'an emergency train needs a reason' });
    }
  });
export type TrainRequest = z.infer<typeof TrainRequest>;

/** One step of a train: members released side by side (in one environment, when in lockstep). */
export interface TrainStage {
  /** With lockstep, the environment this stage releases the members into; otherwise every environment. */
  environment?: string;
  members: TrainMember[];
}

export interface TrainPlan {
  trainId: string;
  members: TrainMember[];
  stages: TrainStage[];
  lockstep: boolean;
  onFailure: 'rollback' | 'leave';
  changeClass: ChangeClass;
  /** Members in the order they are undone when the train fails: the reverse of the order they were released. */
  rollbackOrder: string[];
}

export interface TrainFacts {
  catalog: ServiceCatalog;
  /** Each member's manifest `requires` (absent: requires nothing). */
  requires: (service: string) => Record<string, string> | undefined;
  /** What a service outside the train runs in an environment (as for a single release). */
  running: (service: string, environment: string) => RunningVersion[] | undefined;
}

export class TrainRefusal extends Error {
  override readonly name = 'TrainRefusal';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** The train's plan, or a TrainRefusal listing every problem (unknown services, unmet requirements, a cycle). */
export function planTrain(request: TrainRequest & { trainId: string }, facts: TrainFacts): TrainPlan {
  const problems: string[] = [];
  const specs = request.members.map((m) => {
    const spec = findService(facts.catalog, m.service);
    if (!spec) problems.push(`${m.service} is not in the catalog`);
    return spec;
  });
  if (problems.length > 0) throw new TrainRefusal(problems);
  const members = new Map(request.members.map((m) => [m.service, m]));
  // A member goes after every member it depends on, directly or through services outside the train.
  const graph = new Map(
    request.members.map((m) => [m.service, [...reachable(facts.catalog, m.service)].filter((d) => members.has(d))]),
  );
  let levels: string[][];
  try {
    levels = dependencyLevels(graph);
  } catch (err) {
    throw new TrainRefusal([(err as Error).message]);
  }

  for (const [i, member] of request.members.entries()) {
    const spec = specs[i];
    if (!spec) continue;
    const requires = facts.requires(member.service) ?? {};
    const environments = spec.environments.map((e) => e.name);
    // Requirements on another member: the version the train brings.
    for (const [dependency, range] of Object.entries(requires)) {
      const brought = members.get(dependency);
      if (!brought) continue;
      if (!spec.dependsOn.includes(dependency)) {
        problems.push(
          `${member.service}@${member.version} requires ${dependency} ${range}, but the catalog does not list ${dependency} in ${member.service}'s dependsOn`,
        );
      } else if (!semver.satisfies(brought.version, range, { includePrerelease: true })) {
        problems.push(
          `${member.service}@${member.version} needs ${dependency} ${range}, but the train brings ${dependency}@${brought.version}`,
        );
      }
    }
    // Requirements on anything else: what runs where the member is going.
    const outside = Object.fromEntries(Object.entries(requires).filter(([d]) => !members.has(d)));
    problems.push(
      ...unmetRequirements({
        service: member.service,
        version: member.version,
        requires: outside,
        dependsOn: spec.dependsOn,
        environments,
        running: facts.running,
      }),
    );
  }
  if (problems.length > 0) throw new TrainRefusal(problems);

  const byLevel = levels.map((level) => level.map((s) => members.get(s) as TrainMember));
  let stages: TrainStage[];
  if (request.lockstep) {
    // Environments in an order every member promotes through (merged: each member's order is kept; ties go to the
    // environment seen first). A member without one skips that stage. No such order: refused.
    const seen: string[] = [];
    const after = new Map<string, Set<string>>();
    for (const spec of specs) {
      const names = (spec?.environments ?? []).map((e) => e.name);
      names.forEach((name, i) => {
        if (!seen.includes(name)) seen.push(name);
        if (i > 0) after.set(name, new Set([...(after.get(name) ?? []), names[i - 1] as string]));
      });
    }
    const order: string[] = [];
    while (order.length < seen.length) {
      const next = seen.find(
        (name) => !order.includes(name) && [...(after.get(name) ?? [])].every((p) => order.includes(p)),
      );
      if (!next) {
        throw new TrainRefusal([
          `lockstep needs one order of environments for every member, but ${specs
            .map((spec) => `${spec?.name} goes ${(spec?.environments ?? []).map((e) => e.name).join(' > ')}`)
            .join(' and ')}; release them without lockstep`,
        ]);
      }
      order.push(next);
    }
    stages = order.flatMap((environment) =>
      byLevel
        .map((level) =>
          level.filter((m) => findService(facts.catalog, m.service)?.environments.some((e) => e.name === environment)),
        )
        .filter((level) => level.length > 0)
        .map((level) => ({ environment, members: level })),
    );
  } else {
    stages = byLevel.map((level) => ({ members: level }));
  }
  return {
    trainId: request.trainId,
    members: byLevel.flat(),
    stages,
    lockstep: request.lockstep,
    onFailure: request.onFailure,
    changeClass: request.changeClass,
    rollbackOrder: byLevel
      .flat()
      .map((m) => m.service)
      .reverse(),
  };
}

/** Every service `service` depends on, directly or not (the catalog has no cycles). */
function reachable(catalog: ServiceCatalog, service: string): Set<string> {
  const found = new Set<string>();
  const visit = (name: string) => {
    for (const dependency of findService(catalog, name)?.dependsOn ?? []) {
      if (found.has(dependency)) continue;
      found.add(dependency);
      visit(dependency);
    }
  };
  visit(service);
  return found;
}

/** How one release of a member went, as the train sees it. */
export type TrainStepState = 'pending' | 'starting' | 'running' | 'succeeded' | 'failed' | 'rolled-back' | 'aborted';

export interface TrainStepStatus {
  stage: number;
  service: string;
  version: string;
  environment?: string;
  releaseId: string;
  workflowId: string;
  state: TrainStepState;
  /** The release's own reason when it did not succeed. */
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
}

/** Undoing a member the train released, when a later member failed. */
export interface TrainUndoStatus {
  service: string;
  rollbackId: string;
  workflowId: string;
  state: 'pending' | 'undoing' | 'done' | 'failed' | 'left';
  reason?: string;
}

export type TrainOutcome = 'succeeded' | 'rolled-back' | 'failed' | 'aborted';

export interface TrainStatus {
  trainId: string;
  requestedBy: string;
  reason?: string;
  changeClass: ChangeClass;
  lockstep: boolean;
  onFailure: 'rollback' | 'leave';
  members: TrainMember[];
  stage: 'releasing' | 'waiting-approval' | 'rolling-back' | 'succeeded' | 'rolled-back' | 'failed' | 'aborted';
  /** The stage of the plan the train is at (0-based; stages.length once every stage passed). */
  currentStage: number;
  stages: TrainStage[];
  steps: TrainStepStatus[];
  undo: TrainUndoStatus[];
  /** The train's approval, for normal and emergency trains. */
  gate?: Gate;
  timeline: { at: string; message: string; service?: string }[];
  /** Set when an SRE aborted the train: no member starts after it. */
  aborted?: { by: string; reason: string };
  startedAt: string;
  outcome?: { result: TrainOutcome; reason?: string; finishedAt: string };
}

/** Release id of a member's release: the train's id, with the environment's when the train goes in lockstep. */
export function trainReleaseId(trainId: string, environment?: string, environmentIndex = 0): string {
  if (!environment) return trainId;
  const named = `${trainId}.${environment}`;
  return named.length <= 64 ? named : `${trainId}.${environmentIndex + 1}`.slice(-64);
}

/** Id of the emergency rollback that undoes the train's `step`th release (1-based). */
export function trainUndoId(trainId: string, step: number): string {
  return `${trainId}.undo${step}`;
}
