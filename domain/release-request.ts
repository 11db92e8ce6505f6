// What a pipeline sends to start a release. Validated at the API edge; the workflow receives the resulting plan.
import { z } from 'zod';
import { ReleaseId, ServiceName, Version } from './names';
import { PrincipalId } from './roles';

export const ChangeClass = z.enum(['standard', 'normal', 'emergency']);

/** A change ticket's reference in the ticketing system (ServiceNow CHG0012345, Jira OPS-42, ...). */
export const ChangeTicket = z
  .string()
  .trim()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:#/-]{0,99}$/,
    'must be a ticket reference such as CHG-1234 (letters, digits, . _ : # / -)',
  );

/**
 * Why a release or train of `service` may not go without (or with this) ticket, naming the field; undefined if fine.
 */
export function ticketRefusal(
  service: {
    name: string;
    changeTickets?: { requiredFor: readonly string[]; pattern?: string | undefined } | undefined;
  },
  changeClass: ChangeClass,
  ticket: string | undefined,
  field = 'ticket',
): string | undefined {
  const policy = service.changeTickets;
  if (!policy) return undefined;
  if (!ticket) {
    return policy.requiredFor.includes(changeClass)
      ? `${field}: a ${changeClass} change of ${service.name} needs a change ticket (the catalog's changeTickets.requiredFor); pass its reference, e.g. CHG-1234`
      : undefined;
  }
  if (policy.pattern && !new RegExp(policy.pattern).test(ticket)) {
    return `${field}: "${ticket}" is not a ticket reference of ${service.name}'s ticketing system (it must match ${policy.pattern})`;
  }
  return undefined;
}
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
    /** The change ticket this release carries out (CHG-1234): on the audit trail and the ReleaseTicket search attribute. */
    ticket: ChangeTicket.optional(),
  })
  .superRefine((request, ctx) => {
    if (request.changeClass === 'emergency' && !request.reason) {
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'an emergency release needs a reason' });
    }
  });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;
