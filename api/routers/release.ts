// release.*: plan, start and follow releases; decide on their gates; pause, resume, abort.
import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { activeFreeze } from '../../domain/calendar';
import { findService, type ServiceSpec } from '../../domain/catalog';
import { driftRefusal } from '../../domain/drift';
import { ReleaseId, ServiceName } from '../../domain/names';
import { ReleaseStage as ReleaseStageName } from '../../domain/release-status';
import { PrincipalId, READ_ROLES } from '../../domain/roles';
import { planRelease } from '../../domain/plan';
import { type ChangeClass, ReleaseRequest, ticketRefusal } from '../../domain/release-request';
import { controlRelease, decideGate, getReleaseStatus, startRelease } from '../../workflows/lifecycle';
import { inboxOf } from '../inbox';
import { watchRelease } from '../watch';
import { listReleases } from '../visibility';
import type { Context } from '../context';
import { serviceDrift } from '../drift';
import { refuseUnmetRequirements } from '../requirements';
import { toTRPCError, translated } from '../errors';
import { announcesChange, requireRole, router } from '../trpc';

/** A readable, unique release id for callers that do not bring their own: r-20261123-101500-3fa9. */
export function newId(prefix: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${prefix}-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The catalog entry of `service`, or a 400 that lists the services there are. */
export function serviceOrThrow(ctx: Pick<Context, 'catalog'>, service: string): ServiceSpec {
  const spec = findService(ctx.catalog, service);
  if (!spec) {
    const known = ctx.catalog.services.map((s) => s.name).join(', ') || 'none';
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `service: there is no service "${service}" in the catalog (known services: ${known})`,
    });
  }
  return spec;
}

/** The environments a plan goes through, in order. */
function environmentsOf(plan: { waves: { environment: string }[] }): string[] {
  return [...new Set(plan.waves.map((w) => w.environment))];
}

/** A 400 naming the field when the service's change-ticket policy refuses the release's ticket (or its absence). */
export function refuseTicket(
  service: ServiceSpec,
  changeClass: ChangeClass,
  ticket: string | undefined,
  field?: string,
) {
  const refusal = ticketRefusal(service, changeClass, ticket, field);
  if (refusal) throw new TRPCError({ code: 'BAD_REQUEST', message: refusal });
}

const ReleaseRef = z.strictObject({ service: ServiceName, releaseId: ReleaseId });

/** The release's status, or a 404 naming it. */
async function statusOrThrow(ctx: Context, input: z.infer<typeof ReleaseRef>) {
  const status = await translated(() => getReleaseStatus(ctx.temporal, input.service, input.releaseId));
  if (!status) {
    throw new TRPCError({ code: 'NOT_FOUND', message: `there is no release ${input.releaseId} of ${input.service}` });
  }
  return status;
}

const Comment = z.string().trim().min(1).max(2000);

/**
 * A 412 naming every region of the release that runs something the ledger does not record, unless an SRE acknowledged
 * that exact state. Not judged while a release of the service is in flight (it changes the fleet before the ledger;
 * this one queues behind it or is refused by the coordinator).
 */
async function refuseDrift(ctx: Context, service: string, regions: string[]) {
  if (!ctx.fleet) return;
  const running = await translated(() => listReleases(ctx.temporal, { service, outcome: 'running', limit: 1 }));
  if (running.length > 0) return;
  const drifted = (await serviceDrift(ctx, service, regions)).flatMap(({ region, drift }) =>
    drift.status === 'drifted' && !drift.acknowledged ? [{ region, drift }] : [],
  );
  if (drifted.length > 0) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: driftRefusal(service, drifted) });
}

export const releaseRouter = router({
  /** Dry run: the plan a start would execute, and whether a freeze holds the first environment now. */
  plan: requireRole('pipeline', 'approver', 'operator', 'sre', 'viewer')
    .input(ReleaseRequest)
    .query(async ({ ctx, input }) => {
      const service = serviceOrThrow(ctx, input.service);
      refuseTicket(service, input.changeClass, input.ticket);
      const plan = planRelease({ ...input, releaseId: input.releaseId ?? 'dry-run' }, service);
      await refuseUnmetRequirements(ctx, service, input.version, environmentsOf(plan));
      const calendar = ctx.calendar ? await ctx.calendar.load() : { windows: [] };
      const firstEnvironment = plan.waves[0]?.environment ?? '';
      const freeze = activeFreeze(calendar, new Date(), { service: plan.service, environment: firstEnvironment });
      return {
        plan,
        freeze: freeze
          ? { environment: firstEnvironment, windows: freeze.windows, endsAt: freeze.endsAt.toISOString() }
          : null,
      };
    }),

  start: requireRole('pipeline')
    .use(announcesChange)
    .input(ReleaseRequest)
    .mutation(async ({ ctx, input }) => {
      const service = serviceOrThrow(ctx, input.service);
      refuseTicket(service, input.changeClass, input.ticket);
      if (ctx.artifacts && !(await ctx.artifacts.resolve(input.service, input.version))) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `version: there is no artifact ${input.service}@${input.version} in the artifact store; publish it first`,
        });
      }
      const releaseId = input.releaseId ?? newId('r');
      const plan = planRelease({ ...input, releaseId }, service);
      await refuseUnmetRequirements(ctx, service, input.version, environmentsOf(plan));
      await refuseDrift(ctx, plan.service, [
        ...new Set(plan.waves.flatMap((wave) => wave.regions.map((r) => r.region))),
      ]);
      const started = await translated(() =>
        startRelease(
          ctx.temporal,
          {
            plan,
            requestedBy: ctx.principal.id,
            ...(input.reason ? { reason: input.reason } : {}),
            ...(input.authors?.length ? { authors: [...new Set(input.authors)] } : {}),
            ...(input.ticket ? { ticket: input.ticket } : {}),
          },
          { signer: ctx.signer, taskQueue: ctx.releaseTaskQueue, queue: input.queue },
        ),
      );
      return { ...started, plan };
    }),

  /** Releases from Temporal visibility, newest first; every filter is optional. */
  list: requireRole(...READ_ROLES)
    .input(
      z.strictObject({
        service: ServiceName.optional(),
        stage: ReleaseStageName.optional(),
        outcome: z.enum(['running', 'succeeded', 'rolled-back', 'failed', 'aborted']).optional(),
        requestedBy: PrincipalId.optional(),
        startedAfter: z.iso.datetime({ offset: true }).optional(),
        startedBefore: z.iso.datetime({ offset: true }).optional(),
        limit: z.number().int().min(1).max(500).default(50),
      }),
    )
    .query(({ ctx, input }) => translated(() => listReleases(ctx.temporal, input))),

  /** Gates waiting for a decision the caller's roles allow, oldest first: the web console's inbox. */
  inbox: requireRole(...READ_ROLES).query(({ ctx }) => translated(() => inboxOf(ctx.temporal, ctx.principal))),

  get: requireRole(...READ_ROLES)
    .input(ReleaseRef)
    .query(({ ctx, input }) => statusOrThrow(ctx, input)),

  /**
   * The release's status now, then each time it changes, until it has finished (server-sent events). Temporal says
   * when the release's history grows; nothing polls.
   */
  watch: requireRole(...READ_ROLES)
    .input(ReleaseRef)
    .subscription(async function* ({ ctx, input, signal }) {
      try {
        yield* watchRelease(ctx.temporal, input.service, input.releaseId, signal);
      } catch (err) {
        throw toTRPCError(err);
      }
    }),

  /**
   * Which releases changed (started, moved to another stage, ended, decided, paused...), as they change: the console's
   * inbox and release list reload on it (server-sent events; see api/changes.ts).
   */
  changes: requireRole(...READ_ROLES).subscription(async function* ({ ctx, signal }) {
    if (!ctx.changes) throw new TRPCError({ code: 'NOT_IMPLEMENTED', message: 'this API has no change stream' });
    yield* ctx.changes.subscribe(signal);
  }),

  /** Approve a waiting gate as the caller. The release refuses self-approval, missing roles and duplicates. */
  approve: requireRole('approver', 'sre')
    .use(announcesChange)
    .input(ReleaseRef.extend({ gate: z.string().min(1).max(200), comment: Comment.optional() }))
    .mutation(({ ctx, input }) =>
      translated(() =>
        decideGate(
          ctx.temporal,
          input.service,
          input.releaseId,
          'approve',
          {
            gate: input.gate,
            principal: ctx.principal,
            ...(input.comment ? { comment: input.comment } : {}),
          },
          ctx.signer,
        ),
      ),
    ),

  /** Reject a waiting gate as the caller: the release rolls back. A reason is required. */
  reject: requireRole('approver', 'sre')
    .use(announcesChange)
    .input(ReleaseRef.extend({ gate: z.string().min(1).max(200), comment: Comment }))
    .mutation(({ ctx, input }) =>
      translated(() =>
        decideGate(
          ctx.temporal,
          input.service,
          input.releaseId,
          'reject',
          {
            gate: input.gate,
            principal: ctx.principal,
            comment: input.comment,
          },
          ctx.signer,
        ),
      ),
    ),

  pause: requireRole('operator', 'sre')
    .use(announcesChange)
    .input(ReleaseRef.extend({ reason: Comment.optional() }))
    .mutation(async ({ ctx, input }) => {
      await translated(() =>
        controlRelease(
          ctx.temporal,
          input.service,
          input.releaseId,
          {
            kind: 'pause',
            by: ctx.principal.id,
            ...(input.reason ? { reason: input.reason } : {}),
          },
          ctx.signer,
        ),
      );
      return { ok: true };
    }),

  resume: requireRole('operator', 'sre')
    .use(announcesChange)
    .input(ReleaseRef)
    .mutation(async ({ ctx, input }) => {
      await translated(() =>
        controlRelease(
          ctx.temporal,
          input.service,
          input.releaseId,
          { kind: 'resume', by: ctx.principal.id },
          ctx.signer,
        ),
      );
      return { ok: true };
    }),

  /** Stop the release and roll back everything it did. A reason is required. */
  abort: requireRole('sre')
    .use(announcesChange)
    .input(ReleaseRef.extend({ reason: Comment }))
    .mutation(async ({ ctx, input }) => {
      await translated(() =>
        controlRelease(
          ctx.temporal,
          input.service,
          input.releaseId,
          {
            kind: 'abort',
            by: ctx.principal.id,
            reason: input.reason,
          },
          ctx.signer,
        ),
      );
      return { ok: true };
    }),

  timeline: requireRole('pipeline', 'approver', 'operator', 'sre', 'viewer')
    .input(ReleaseRef)
    .query(async ({ ctx, input }) => (await statusOrThrow(ctx, input)).timeline),
});
