// What a pipeline sends to start a release. Validated at the API edge; the workflow receives the resulting plan.
import { z } from 'zod';
import { ReleaseId, ServiceName, Version } from './names';
import { PrincipalId } from './roles';

export const ChangeClass = z.enum(['standard', 'normal', 'emergency']);
export type ChangeClass = z.infer<typeof ChangeClass>;

export const ReleaseRequest = z
  .strictObject({
    service: ServiceName,
    version: Version,
    /** Caller-chosen id (e.g. the CI run id); starting the same id twice yields the same release. */
    releaseId: ReleaseId.optional(),
    /** standard: no human gate; normal: one approval before production; emergency: two, may pass a freeze. */
    changeClass: ChangeClass.default('standard'),
    /** Overrides the bake of every canary step, in seconds. */
    bakeSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .optional(),
    /** Overrides the service's post-promotion watch window, in seconds (0: no window after the last wave). */
    watchSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .optional(),
    /** Overrides the catalog's canary judge (fixed-window: the judge before issue 11, kept for comparison). */
    judge: z.enum(['sequential', 'fixed-window']).optional(),
    reason: z.string().trim().min(1).max(2000).optional(),
    /** When another release of the service is in progress: wait for it (true) instead of being refused. */
    queue: z.boolean().default(false),
    /**
     * The people who wrote the change (commit authors, the merger), by their principal ids: none of them may approve
     * it. A pipeline that starts releases under a shared token passes them (README, "Separation of duties").
     */
    authors: z.array(PrincipalId).max(50).optional(),
  })
  .superRefine((request, ctx) => {
    if (request.changeClass === 'emergency' && !request.reason) {
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'an emergency release needs a reason' });
    }
  });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;
