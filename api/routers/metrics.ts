// metrics.*: DORA figures of a service over a period, computed from its releases' outcomes (domain/dora.ts).
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { computeDora } from '../../domain/dora';
import { ServiceName } from '../../domain/names';
import { READ_ROLES } from '../../domain/roles';
import { doraFacts } from '../visibility';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';
import { serviceOrThrow } from './release';

const DAY_MS = 86_400_000;

export const metricsRouter = router({
  /** Deployment frequency, lead time, change failure rate and time to restore; the last 30 days by default. */
  dora: requireRole(...READ_ROLES)
    .input(
      z.strictObject({
        service: ServiceName,
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
        days: z.number().int().min(1).max(366).optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const spec = serviceOrThrow(ctx, input.service);
      const to = input.to ? new Date(input.to) : new Date();
      const from = input.from ? new Date(input.from) : new Date(to.getTime() - (input.days ?? 30) * DAY_MS);
      if (from >= to) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'from: the period must start before it ends (to)' });
      }
      const period = { from: from.toISOString(), to: to.toISOString() };
      const createdAt = new Map<string, Promise<string | undefined>>();
      const artifactCreatedAt = (version: string) => {
        let found = createdAt.get(version);
        if (!found) {
          found = ctx.artifacts
            ? ctx.artifacts.resolve(spec.name, version).then((a) => a?.createdAt)
            : Promise.resolve(undefined);
          createdAt.set(version, found);
        }
        return found;
      };
      const facts = await translated(() => doraFacts(ctx.temporal, spec.name, period, artifactCreatedAt));
      return computeDora(spec.name, period, facts.releases, facts.rollbacks);
    }),

  /**
   * The same figures week by week over the last `weeks` weeks (the web console's charts), and for the whole span:
   * one read of Temporal visibility for the span, split by when each release or rollback finished.
   */
  doraWeekly: requireRole(...READ_ROLES)
    .input(z.strictObject({ service: ServiceName, weeks: z.number().int().min(1).max(26).default(8) }))
    .query(async ({ ctx, input }) => {
      const spec = serviceOrThrow(ctx, input.service);
      const to = Date.now();
      const from = to - input.weeks * 7 * DAY_MS;
      const span = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
      const artifactCreatedAt = (version: string) =>
        ctx.artifacts
          ? ctx.artifacts.resolve(spec.name, version).then((a) => a?.createdAt)
          : Promise.resolve(undefined);
      const facts = await translated(() => doraFacts(ctx.temporal, spec.name, span, artifactCreatedAt));
      const weeks = Array.from({ length: input.weeks }, (_, i) => {
        const period = {
          from: new Date(from + i * 7 * DAY_MS).toISOString(),
          to: new Date(from + (i + 1) * 7 * DAY_MS).toISOString(),
        };
        const inWeek = (at: string) => at >= period.from && at < period.to;
        return computeDora(
          spec.name,
          period,
          facts.releases.filter((r) => inWeek(r.finishedAt)),
          facts.rollbacks.filter((r) => inWeek(r.finishedAt)),
        );
      });
      return { weeks, whole: computeDora(spec.name, span, facts.releases, facts.rollbacks) };
    }),
});
