// audit.*: the append-only audit trail, read through the orchestrator (see workflows/audit-read.ts).
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { ReleaseId, ServiceName } from '../../domain/names';
import { checkpointSignedText } from '../../providers/audit/checkpoints';
import { readAuditTrail } from '../visibility';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';

/** Who may read the audit trail (and the post-incident records, which tell a release's whole story from it). */
export const AUDIT_ROLES = ['approver', 'operator', 'sre', 'viewer'] as const;

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

  /**
   * For an auditor to keep outside the engine: the worker's public key and the newest signed checkpoint, with the
   * exact text its signature covers. Read through a verify (the orchestrator holds both), so it also says whether
   * the trail verifies now.
   */
  checkpoint: requireRole(...AUDIT_ROLES).query(async ({ ctx }) => {
    const result = await translated(() =>
      readAuditTrail(ctx.temporal, { kind: 'verify' }, ctx.principal.id, { taskQueue: ctx.releaseTaskQueue }),
    );
    if (result.kind !== 'verify') throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'unexpected answer' });
    const { verification } = result;
    const anchoring = verification.anchoring;
    if (!anchoring?.signingKey) {
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message:
          'the orchestrator worker has no audit signing key, so the trail has no checkpoints to export; run a worker of this version (it creates the key, see AUDIT_SIGNING_KEY_FILE)',
      });
    }
    const latest = anchoring.latest;
    return {
      keyId: anchoring.signingKey.keyId,
      publicKeyPem: anchoring.signingKey.publicKeyPem,
      publicKey: anchoring.signingKey.publicKey,
      trustedKeyIds: anchoring.trustedKeyIds,
      checkpoint: latest ?? null,
      signedText: latest ? checkpointSignedText(latest) : null,
      verified: verification.ok,
      summary: anchoring.summary,
    };
  }),
});
