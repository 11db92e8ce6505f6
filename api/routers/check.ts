// check.*: results of external checks (issue 16). check.report is the callback a system that runs a check (a
// contract-test suite, an ITSM change validation) answers with, over REST as POST /api/v1/check/report with the
// bearer token of a principal of the checker role. The webhook that asked for the check named the service, the
// release and the check to report; the API signs the result and delivers it to the release, which refuses a report
// for a check it is not waiting for, or from a principal the check does not list among its reporters.
import { z } from 'zod';
import { findService } from '../../domain/catalog';
import { CheckReport } from '../../domain/checks';
import { ReleaseId, ServiceName } from '../../domain/names';
import { reportCheck } from '../../workflows/lifecycle';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';
import { TRPCError } from '@trpc/server';

export const CheckReportRequest = z.strictObject({
  service: ServiceName,
  releaseId: ReleaseId,
  /** The check's id as the webhook named it (`callback.check`): `check-<name>-<environment>`. */
  check: z.string().regex(/^check-[A-Za-z0-9._-]{1,160}$/, 'must be the check id the webhook named (callback.check)'),
  ...CheckReport.shape,
});

export const checkRouter = router({
  /**
   * The result of an external check. Only the checker role (and admin) may report: a person who may approve gates
   * must not be able to pass a check that a system was asked to run.
   */
  report: requireRole('checker')
    .input(CheckReportRequest)
    .mutation(async ({ ctx, input }) => {
      if (!findService(ctx.catalog, input.service)) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `service: there is no service "${input.service}" in the catalog`,
        });
      }
      const { service, releaseId, check, status, summary, detailsUrl } = input;
      const report = {
        by: ctx.principal.id,
        check,
        status,
        ...(summary ? { summary } : {}),
        ...(detailsUrl ? { detailsUrl } : {}),
      };
      const result = await translated(() => reportCheck(ctx.temporal, service, releaseId, report, ctx.signer));
      return { service, releaseId, ...result };
    }),
});
