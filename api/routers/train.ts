// train.*: several services released together, in dependency order (issue 15): plan (the dry run), start, get, list,
// approve, reject, abort. The API signs the train's request and, at the same time, every member's release and every
// undo the train may need (workflows/train.ts): the train forwards them and can start nothing else.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { productionGatePolicy } from '../../domain/approval';
import { findService, isProduction } from '../../domain/catalog';
import { ReleaseId } from '../../domain/names';
import { planRelease } from '../../domain/plan';
import { READ_ROLES } from '../../domain/roles';
import { planTrain, TrainRefusal, TrainRequest, trainReleaseId, trainUndoId, type TrainPlan } from '../../domain/train';
import { releaseWorkflowId, rollbackWorkflowId } from '../../domain/workflow-ids';
import {
  abortTrain,
  controlRelease,
  decideTrain,
  getServiceState,
  listTrains,
  startTrain,
  trainStatus,
} from '../../workflows/lifecycle';
import type { EmergencyRollbackInput, ReleaseInput, TrainInput, TrainStepRequest } from '../../workflows/messages';
import type { Context } from '../context';
import { translated } from '../errors';
import { EngineError } from '../../domain/errors';
import { runningLookup } from '../requirements';
import { announcesChange, requireRole, router } from '../trpc';
import { newId, refuseTicket } from './release';

/**
 * How long the member requests a train carries stay valid: a member whose turn comes later than this (a train held
 * at its approval or by freezes for two weeks) is refused by its coordinator, and the train fails in words.
 */
export const TRAIN_SIGNATURE_DAYS = 14;
/** The longest a train's approval waits: a day less than its member requests stay valid. */
const APPROVAL_CAP_SECONDS = (TRAIN_SIGNATURE_DAYS - 1) * 24 * 3600;

/** The train's plan, or a 400/412 naming the member and the problem. */
async function planOrThrow(ctx: Context, input: TrainRequest, trainId: string): Promise<TrainPlan> {
  const requires = new Map<string, Record<string, string>>();
  for (const [i, member] of input.members.entries()) {
    if (!findService(ctx.catalog, member.service)) {
      const known = ctx.catalog.services.map((s) => s.name).join(', ') || 'none';
      throw new TRPCError({
        code: 'BAD_REQUEST',
        message: `members[${i}].service: there is no service "${member.service}" in the catalog (known services: ${known})`,
      });
    }
    if (ctx.artifacts && !(await ctx.artifacts.resolve(member.service, member.version))) {
      throw new TRPCError({
        code: 'BAD_REQUEST',
        message: `members[${i}].version: there is no artifact ${member.service}@${member.version} in the artifact store; publish it first`,
      });
    }
    const manifest = await ctx.artifacts?.manifest?.(member.service, member.version).catch((err: unknown) => {
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: `members[${i}]: ${member.service}@${member.version} cannot be read: ${(err as Error).message}`,
      });
    });
    if (manifest?.requires) requires.set(member.service, manifest.requires);
  }
  const dependencies = [...new Set([...requires.values()].flatMap((r) => Object.keys(r)))];
  const environments = [
    ...new Set(
      input.members.flatMap((m) => findService(ctx.catalog, m.service)?.environments.map((e) => e.name) ?? []),
    ),
  ];
  const running = await runningLookup(ctx, dependencies, environments);
  try {
    return planTrain(
      { ...input, trainId },
      { catalog: ctx.catalog, requires: (service) => requires.get(service), running },
    );
  } catch (err) {
    if (err instanceof TrainRefusal) {
      throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `${err.message}; nothing was started` });
    }
    throw err;
  }
}

/** A 409 naming the member services that have a release or rollback in progress (unless the train queues). */
async function refuseBusyServices(ctx: Context, plan: TrainPlan): Promise<void> {
  const states = await Promise.all(
    plan.members.map((member) => translated(() => getServiceState(ctx.temporal, member.service))),
  );
  // The train's own members (a repeated start of the same train) are not in its way.
  const busy = states.flatMap(({ service, active }) =>
    active && active.id !== plan.trainId && !active.id.startsWith(`${plan.trainId}.`)
      ? [`${service} (${active.kind} ${active.id})`]
      : [],
  );
  if (busy.length > 0) {
    throw new TRPCError({
      code: 'CONFLICT',
      message: `a train cannot start while one of its services has a release in progress: ${busy.join(', ')}; start it with queue: true to wait for them, or once they end; nothing was started`,
    });
  }
}

/** Everything the train will hand on, signed now: each member's release(s), each member's undo, the approval. */
function trainInput(
  ctx: Context,
  plan: TrainPlan,
  request: TrainRequest & { queue: boolean; authors?: string[] | undefined },
  requestedBy: string,
): TrainInput {
  const ttlMs = TRAIN_SIGNATURE_DAYS * 24 * 3600_000;
  const signedAt = Date.now();
  const train = { trainId: plan.trainId };
  let stepIndex = 0;
  const environmentOrder = plan.stages.flatMap((s) => (s.environment ? [s.environment] : []));
  const steps: TrainStepRequest[] = plan.stages.flatMap((stage, index) =>
    stage.members.map((member): TrainStepRequest => {
      const service = findService(ctx.catalog, member.service);
      if (!service) throw new Error(`${member.service} left the catalog while the train was planned`);
      const releaseId = trainReleaseId(
        plan.trainId,
        stage.environment,
        stage.environment ? environmentOrder.indexOf(stage.environment) : 0,
      );
      const releasePlan = planRelease(
        {
          service: member.service,
          version: member.version,
          releaseId,
          changeClass: plan.changeClass,
          // Each member validates the train's ticket (its window must be open when the member starts) and reports.
          ...(request.ticket ? { ticket: request.ticket } : {}),
        },
        service,
        { approvedByTrain: true, ...(stage.environment ? { environments: [stage.environment] } : {}) },
      );
      const release: ReleaseInput = ctx.signer.sign(
        releaseWorkflowId(member.service, releaseId),
        'release',
        {
          plan: releasePlan,
          requestedBy,
          ...(request.reason ? { reason: request.reason } : {}),
          ...(request.authors?.length ? { authors: [...new Set(request.authors)] } : {}),
          ...(request.ticket ? { ticket: request.ticket } : {}),
          train,
        },
        signedAt,
        ttlMs,
      );
      // Its undo, signed whatever onFailure says (an abort undoes what the train released in any case): the regions
      // of this release only, and only where they run the version the train brought.
      stepIndex += 1;
      const rollbackId = trainUndoId(plan.trainId, stepIndex);
      const undo: EmergencyRollbackInput = ctx.signer.sign(
        rollbackWorkflowId(member.service, rollbackId),
        'rollback',
        {
          service: member.service,
          rollbackId,
          regions: [...new Set(releasePlan.waves.flatMap((w) => w.regions.map((r) => r.region)))],
          reason: `train ${plan.trainId} did not complete: what it released goes back to the versions before it`,
          requestedBy,
          train: { ...train, version: member.version },
        },
        signedAt,
        ttlMs,
      );
      return {
        stage: index,
        service: member.service,
        version: member.version,
        ...(stage.environment ? { environment: stage.environment } : {}),
        release,
        undo,
      };
    }),
  );
  // One approval for the whole train, by its change class, before its first production stage (the strictest quorum
  // and the longest timeout of its members' services). Without lockstep a member goes through every environment in
  // one release, so the train asks before its first stage.
  const specs = plan.members.map((m) => findService(ctx.catalog, m.service)).filter((s) => s !== undefined);
  const policies = specs.map((s) => productionGatePolicy(plan.changeClass, s.approvals)).filter((p) => p !== undefined);
  const production = new Set(specs.flatMap((s) => s.environments.filter(isProduction).map((e) => e.name)));
  const beforeStage = plan.lockstep
    ? plan.stages.findIndex((s) => s.environment !== undefined && production.has(s.environment))
    : production.size > 0
      ? 0
      : -1;
  const approval =
    policies.length > 0 && beforeStage >= 0
      ? {
          beforeStage,
          quorum: Math.max(...policies.map((p) => p.quorum)),
          roles: policies[0]?.roles ?? ['approver'],
          // Decided before the member requests it carries expire (a policy without a timeout gets that bound).
          timeoutSeconds: Math.min(
            Math.max(...policies.map((p) => p.timeoutSeconds || APPROVAL_CAP_SECONDS)),
            APPROVAL_CAP_SECONDS,
          ),
          description: `${Math.max(...policies.map((p) => p.quorum))} approval(s) of the whole train before ${plan.lockstep ? 'its first production stage' : 'it starts'} (${plan.changeClass} change)`,
        }
      : undefined;
  return {
    plan,
    requestedBy,
    ...(request.reason ? { reason: request.reason } : {}),
    ...(request.authors?.length ? { authors: [...new Set(request.authors)] } : {}),
    queue: request.queue,
    steps,
    undo: [],
    ...(approval ? { approval } : {}),
  };
}

const TrainRef = z.strictObject({ trainId: ReleaseId });
const Comment = z.string().trim().min(1).max(2000);

export const trainRouter = router({
  /** Dry run: the train's stages in order, or a 412 naming every member whose requirements are not met. */
  plan: requireRole(...READ_ROLES)
    .input(TrainRequest)
    .query(({ ctx, input }) => planOrThrow(ctx, input, input.trainId ?? newId('t'))),

  /** Starts the train: 409 while a member's service has a release in progress, unless `queue`. */
  start: requireRole('pipeline')
    .use(announcesChange)
    .input(
      TrainRequest.safeExtend({
        /** Members wait behind a release of their service in progress instead of the start being refused. */
        queue: z.boolean().default(false),
        /** The people who wrote the changes: none of them may approve the train (as for a release). */
        authors: z.array(z.string().min(1).max(200)).max(50).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const trainId = input.trainId ?? newId('t');
      for (const member of input.members) {
        const service = findService(ctx.catalog, member.service);
        if (service) refuseTicket(service, input.changeClass, input.ticket);
      }
      const plan = await planOrThrow(ctx, input, trainId);
      if (!input.queue) await refuseBusyServices(ctx, plan);
      const started = await translated(() =>
        startTrain(ctx.temporal, trainInput(ctx, plan, input, ctx.principal.id), {
          signer: ctx.signer,
          ...(ctx.releaseTaskQueue ? { taskQueue: ctx.releaseTaskQueue } : {}),
        }),
      );
      return { trainId, ...started, plan };
    }),

  get: requireRole(...READ_ROLES)
    .input(TrainRef)
    .query(({ ctx, input }) => translated(() => trainStatus(ctx.temporal, input.trainId))),

  /** Trains from Temporal visibility, newest first. */
  list: requireRole(...READ_ROLES)
    .input(z.strictObject({ running: z.boolean().optional(), limit: z.number().int().min(1).max(500).default(50) }))
    .query(({ ctx, input }) => translated(() => listTrains(ctx.temporal, input))),

  /** Approves the train's one approval as the caller (not its requester, nor an author). */
  approve: requireRole('approver', 'sre')
    .use(announcesChange)
    .input(TrainRef.extend({ comment: Comment.optional() }))
    .mutation(({ ctx, input }) =>
      translated(() =>
        decideTrain(
          ctx.temporal,
          input.trainId,
          'approve',
          { gate: 'train-approval', principal: ctx.principal, ...(input.comment ? { comment: input.comment } : {}) },
          ctx.signer,
        ),
      ),
    ),

  /** Rejects the train: the members it released go back. A reason is required. */
  reject: requireRole('approver', 'sre')
    .use(announcesChange)
    .input(TrainRef.extend({ comment: Comment }))
    .mutation(({ ctx, input }) =>
      translated(() =>
        decideTrain(
          ctx.temporal,
          input.trainId,
          'reject',
          { gate: 'train-approval', principal: ctx.principal, comment: input.comment },
          ctx.signer,
        ),
      ),
    ),

  /**
   * Stops the train: no member starts after this, the members in flight are aborted (each rolls itself back), and the
   * members it released go back, in reverse order. A reason is required.
   */
  abort: requireRole('sre')
    .use(announcesChange)
    .input(TrainRef.extend({ reason: Comment }))
    .mutation(async ({ ctx, input }) => {
      await translated(() =>
        abortTrain(ctx.temporal, input.trainId, { by: ctx.principal.id, reason: input.reason }, ctx.signer),
      );
      const status = await translated(() => trainStatus(ctx.temporal, input.trainId));
      const aborted: string[] = [];
      const notAborted: string[] = [];
      for (const step of status.steps.filter((s) => s.state === 'running' || s.state === 'starting')) {
        try {
          await controlRelease(
            ctx.temporal,
            step.service,
            step.releaseId,
            { kind: 'abort', by: ctx.principal.id, reason: `train ${input.trainId} aborted: ${input.reason}` },
            ctx.signer,
          );
          aborted.push(`${step.service}/${step.releaseId}`);
        } catch (err) {
          // Ended or not started yet: the train sees its end, or the release is refused by the aborted train.
          if (err instanceof EngineError && (err.code === 'RELEASE_FINISHED' || err.code === 'RELEASE_NOT_FOUND'))
            continue;
          // Anything else is said: the member runs on to its end, and the train undoes it after.
          notAborted.push(`${step.service}/${step.releaseId}: ${(err as Error).message}`);
        }
      }
      return { ok: true, abortedReleases: aborted, notAborted };
    }),
});
