// release.*: start a release and read its state.
import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { findService } from '../../domain/catalog';
import { ReleaseId, ServiceName } from '../../domain/names';
import { planRelease } from '../../domain/plan';
import { ReleaseRequest } from '../../domain/release-request';
import { getReleaseStatus, startRelease } from '../../workflows/lifecycle';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';

/** A readable, unique release id for callers that do not bring their own: r-20261123-101500-3fa9. */
function newReleaseId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `r-${stamp}-${randomBytes(2).toString('hex')}`;
}

export const releaseRouter = router({
  start: requireRole('pipeline')
    .input(ReleaseRequest)
    .mutation(async ({ ctx, input }) => {
      const service = findService(ctx.catalog, input.service);
      if (!service) {
        const known = ctx.catalog.services.map((s) => s.name).join(', ') || 'none';
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `service: there is no service "${input.service}" in the catalog (known services: ${known})`,
        });
      }
      if (ctx.artifacts && !(await ctx.artifacts.resolve(input.service, input.version))) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `version: there is no artifact ${input.service}@${input.version} in the artifact store; publish it first`,
        });
      }
      const releaseId = input.releaseId ?? newReleaseId();
      const plan = planRelease({ ...input, releaseId }, service);
      const started = await translated(() =>
        startRelease(
          ctx.temporal,
          { plan, requestedBy: ctx.principal.id, ...(input.reason ? { reason: input.reason } : {}) },
          { taskQueue: ctx.releaseTaskQueue },
        ),
      );
      return { releaseId, ...started, plan };
    }),

  get: requireRole('pipeline', 'approver', 'operator', 'sre', 'viewer')
    .input(z.strictObject({ service: ServiceName, releaseId: ReleaseId }))
    .query(async ({ ctx, input }) => {
      const status = await translated(() => getReleaseStatus(ctx.temporal, input.service, input.releaseId));
      if (!status) {
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `there is no release ${input.releaseId} of ${input.service}`,
        });
      }
      return status;
    }),
});
