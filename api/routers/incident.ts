// incident.*: post-incident records (issue 16). A release that rolls back or fails, and every emergency rollback, opens
// one on the audit trail; people list and read them, add action items, close each with a resolution, reassign the
// record and close it once every item is closed. Reads fold the audit trail (domain/incident.ts); each change is
// checked against the record as it stands, then recorded by a short signed workflow (workflows/incident-note.ts),
// since only workflows write the trail.
import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { AuditFilter } from '../../domain/audit';
import { EngineError } from '../../domain/errors';
import {
  foldIncidents,
  INCIDENT_ACTIONS,
  type Incident,
  type IncidentNote,
  openItems,
  refuseNote,
} from '../../domain/incident';
import { ReleaseId, ServiceName } from '../../domain/names';
import { PrincipalId, type Role } from '../../domain/roles';
import { recordIncidentNote } from '../../workflows/lifecycle';
import type { Context } from '../context';
import { toTRPCError, translated } from '../errors';
import { readAuditTrail } from '../visibility';
import { requireRole, router } from '../trpc';
import { AUDIT_ROLES } from './audit';
import { serviceOrThrow } from './release';

/** Who may change a record: the people who run releases and answer for them (pipelines and viewers only read). */
const INCIDENT_WRITE_ROLES: Role[] = ['operator', 'sre', 'approver'];

const ActionId = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,31}$/,
    'must be 1-32 lowercase letters, digits or dashes, starting with a letter or digit',
  );
const Words = z.string().trim().min(3, 'must say something (at least 3 characters)').max(2000);
const Ref = { service: ServiceName, id: ReleaseId };

type Principal = NonNullable<Context['principal']>;

async function readIncidents(ctx: Context, principal: Principal, filter: AuditFilter): Promise<Incident[]> {
  const result = await translated(() =>
    readAuditTrail(ctx.temporal, { kind: 'list', filter }, principal.id, { taskQueue: ctx.releaseTaskQueue }),
  );
  if (result.kind !== 'list') throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'unexpected answer' });
  return foldIncidents(result.records);
}

/** The incident with its whole story (every audit record of its release or rollback), or a 404 naming the id. */
async function incidentOrThrow(ctx: Context, principal: Principal, service: string, id: string): Promise<Incident> {
  serviceOrThrow(ctx, service);
  const [incident] = await readIncidents(ctx, principal, { service, releaseId: id });
  if (!incident) {
    throw toTRPCError(
      new EngineError(
        'INCIDENT_NOT_FOUND',
        `id: there is no incident ${id} of ${service} (a release that rolls back or fails, and every emergency rollback, opens one under its release or rollback id)`,
      ),
    );
  }
  return incident;
}

/** Checks `note` against the record, records it, and returns the record as the trail now tells it. */
async function change(
  ctx: Context,
  principal: Principal,
  incident: Incident,
  note: IncidentNote,
  noteId: string,
): Promise<Incident> {
  const refusal = refuseNote(incident, note);
  if (refusal) throw toTRPCError(new EngineError(refusal.code, refusal.message));
  await translated(() =>
    recordIncidentNote(
      ctx.temporal,
      { service: incident.service, incidentId: incident.id, by: principal.id, note },
      noteId,
      { signer: ctx.signer, taskQueue: ctx.releaseTaskQueue },
    ),
  );
  return incidentOrThrow(ctx, principal, incident.service, incident.id);
}

/** How many notes of `action` the record has had: the next one's id counts on from it. */
function count(incident: Incident, action: string): number {
  return incident.timeline.filter((e) => e.action === action).length;
}

export const incidentRouter = router({
  /** Incidents, open ones first, newest first; without their timelines (incident.get has them). */
  list: requireRole(...AUDIT_ROLES)
    .input(
      z.strictObject({
        service: ServiceName.optional(),
        status: z.enum(['open', 'closed']).optional(),
        /** How far back, in days (default 90): the read stays bounded however many incidents the trail holds. */
        days: z.number().int().min(1).max(3660).default(90),
        limit: z.number().int().min(1).max(1000).default(200),
      }),
    )
    .query(async ({ ctx, input }) => {
      if (input.service) serviceOrThrow(ctx, input.service);
      const incidents = await readIncidents(ctx, ctx.principal, {
        ...(input.service ? { service: input.service } : {}),
        actions: [...INCIDENT_ACTIONS],
        since: new Date(Date.now() - input.days * 86_400_000).toISOString(),
      });
      return incidents
        .filter((i) => !input.status || i.status === input.status)
        .slice(0, input.limit)
        .map(({ timeline: _timeline, ...incident }) => ({ ...incident, openActions: openItems(incident).length }));
    }),

  /** One incident: what led there (verdicts, decisions), its timeline from the audit trail, and its action items. */
  get: requireRole(...AUDIT_ROLES)
    .input(z.strictObject(Ref))
    .query(({ ctx, input }) => incidentOrThrow(ctx, ctx.principal, input.service, input.id)),

  /** Adds an action item (its id made here unless sent: sending the same id and text again records it once). */
  addAction: requireRole(...INCIDENT_WRITE_ROLES)
    .input(z.strictObject({ ...Ref, text: Words, owner: PrincipalId.optional(), actionId: ActionId.optional() }))
    .mutation(async ({ ctx, input }) => {
      const incident = await incidentOrThrow(ctx, ctx.principal, input.service, input.id);
      const actionId = input.actionId ?? `a-${randomBytes(3).toString('hex')}`;
      const note: IncidentNote = {
        kind: 'action-added',
        actionId,
        text: input.text,
        owner: input.owner ?? incident.owner,
      };
      return { actionId, incident: await change(ctx, ctx.principal, incident, note, `action-added-${actionId}`) };
    }),

  /** Closes an action item with what was done about it. */
  closeAction: requireRole(...INCIDENT_WRITE_ROLES)
    .input(z.strictObject({ ...Ref, actionId: ActionId, resolution: Words }))
    .mutation(async ({ ctx, input }) => {
      const incident = await incidentOrThrow(ctx, ctx.principal, input.service, input.id);
      const note: IncidentNote = { kind: 'action-closed', actionId: input.actionId, resolution: input.resolution };
      return change(ctx, ctx.principal, incident, note, `action-closed-${input.actionId}`);
    }),

  /** Gives the record to another owner. */
  assign: requireRole(...INCIDENT_WRITE_ROLES)
    .input(z.strictObject({ ...Ref, owner: PrincipalId }))
    .mutation(async ({ ctx, input }) => {
      const incident = await incidentOrThrow(ctx, ctx.principal, input.service, input.id);
      if (incident.owner === input.owner && incident.status === 'open') return incident;
      const n = count(incident, 'incident.assigned') + 1;
      return change(
        ctx,
        ctx.principal,
        incident,
        { kind: 'assigned', owner: input.owner },
        `assigned-${n}-${input.owner}`,
      );
    }),

  /** Closes the record with what the review concluded; refused (409) while an action item is open. */
  close: requireRole(...INCIDENT_WRITE_ROLES)
    .input(z.strictObject({ ...Ref, summary: Words }))
    .mutation(async ({ ctx, input }) => {
      const incident = await incidentOrThrow(ctx, ctx.principal, input.service, input.id);
      const n = count(incident, 'incident.closed') + 1;
      return change(ctx, ctx.principal, incident, { kind: 'closed', summary: input.summary }, `closed-${n}`);
    }),
});
