// audit.*: the append-only audit trail, read through the orchestrator (see workflows/audit-read.ts).
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { ReleaseId, ServiceName } from '../../domain/names';
import { readAuditTrail } from '../visibility';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';

const AUDIT_ROLES = ['approver', 'operator', 'sre', 'viewer'] as const;

export const auditRouter = router({
  /** Records in the order they were written, oldest first. */
  list: requireRole(...AUDIT_ROLES)
    .input(
      z.strictObject({
        service: ServiceName.optional(),
        releaseId: ReleaseId.optional(),
        since: z.iso.datetime({ offset: true }).optional(),
        limit: z.number().int().min(1).max(1000).default(200),
      }),
    )
    .query(async ({ ctx, input }) => {
      const result = await translated(() =>
        readAuditTrail(ctx.temporal, { kind: 'list', filter: input }, ctx.principal.id, {
          taskQueue: ctx.releaseTaskQueue,
        }),
      );
      if (result.kind !== 'list') throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'unexpected answer' });
      return result.records;
    }),

  /** Recomputes the hash chain: ok with the head hash to keep elsewhere, or where it was edited or cut. */
  verify: requireRole(...AUDIT_ROLES).mutation(async ({ ctx }) => {
    const result = await translated(() =>
      readAuditTrail(ctx.temporal, { kind: 'verify' }, ctx.principal.id, { taskQueue: ctx.releaseTaskQueue }),
    );
    if (result.kind !== 'verify') throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'unexpected answer' });
    return result.verification;
  }),
});
