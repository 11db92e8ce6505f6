// rollback.*: emergency rollback of a service to its last known-good versions, for SREs.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { serviceRegions } from '../../domain/catalog';
import { RegionName, ReleaseId, ServiceName } from '../../domain/names';
import { getRollbackStatus, requestEmergencyRollback } from '../../workflows/lifecycle';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';
import { newId, serviceOrThrow } from './release';

export const rollbackRouter = router({
  /** Aborts any release of the service in flight, then puts every (or the named) region on its last known-good version. */
  emergency: requireRole('sre')
    .input(
      z.strictObject({
        service: ServiceName,
        /** Regions to roll back; all of the service's regions when omitted. */
        regions: z.array(RegionName).min(1).optional(),
        reason: z.string().trim().min(3).max(2000),
        rollbackId: ReleaseId.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const all = serviceRegions(serviceOrThrow(ctx, input.service));
      const unknown = (input.regions ?? []).filter((r) => !all.includes(r));
      if (unknown.length > 0) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `regions: ${input.service} does not run in ${unknown.join(', ')} (it runs in ${all.join(', ')})`,
        });
      }
      const rollbackId = input.rollbackId ?? newId('rb');
      const started = await translated(() =>
        requestEmergencyRollback(
          ctx.temporal,
          {
            service: input.service,
            rollbackId,
            regions: input.regions ?? all,
            reason: input.reason,
            requestedBy: ctx.principal.id,
          },
          { signer: ctx.signer, taskQueue: ctx.releaseTaskQueue },
        ),
      );
      return { rollbackId, ...started };
    }),

  get: requireRole('pipeline', 'approver', 'operator', 'sre', 'viewer')
    .input(z.strictObject({ service: ServiceName, rollbackId: ReleaseId }))
    .query(async ({ ctx, input }) => {
      const status = await translated(() => getRollbackStatus(ctx.temporal, input.service, input.rollbackId));
      if (!status) {
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `there is no rollback ${input.rollbackId} of ${input.service}`,
        });
      }
      return status;
    }),
});
