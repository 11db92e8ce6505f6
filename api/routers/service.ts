// service.*: the catalog, what each service runs where (from the version ledger) and has in flight, whether each
// region runs what the ledger says (drift), and the SRE's acknowledgement of a drift.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { serviceRegions } from '../../domain/catalog';
import { describeDrift } from '../../domain/drift';
import { RegionName, ServiceName } from '../../domain/names';
import { READ_ROLES } from '../../domain/roles';
import { getServiceState } from '../../workflows/lifecycle';
import { serviceDrift } from '../drift';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';
import { serviceOrThrow } from './release';

export const serviceRouter = router({
  list: requireRole(...READ_ROLES).query(({ ctx }) =>
    ctx.catalog.services.map((service) => ({
      name: service.name,
      environments: service.environments.map((env) => ({
        name: env.name,
        production: env.production ?? false,
        waves: env.waves,
      })),
      regions: serviceRegions(service),
    })),
  ),

  /**
   * The catalog entry, the version each region runs according to the ledger, whether the region really runs it
   * (drift), and the release in flight (if any).
   */
  get: requireRole(...READ_ROLES)
    .input(z.strictObject({ service: ServiceName }))
    .query(async ({ ctx, input }) => {
      const spec = serviceOrThrow(ctx, input.service);
      const state = await translated(() => getServiceState(ctx.temporal, spec.name));
      const inFlight = state.active ? `${state.active.kind} ${state.active.id}` : undefined;
      const drift = new Map(
        (await serviceDrift(ctx, spec.name, serviceRegions(spec), inFlight)).map((d) => [d.region, d.drift]),
      );
      const regions = await Promise.all(
        serviceRegions(spec).map(async (region) => {
          const entry = ctx.ledger ? await ctx.ledger.current(spec.name, region) : undefined;
          return {
            region,
            environment: spec.environments.find((env) => env.waves.flat().includes(region))?.name ?? '',
            version: entry?.version ?? null,
            releaseId: entry?.releaseId ?? null,
            recordedAt: entry?.recordedAt ?? null,
            ...(entry?.rolledBackFrom ? { rolledBackFrom: entry.rolledBackFrom } : {}),
            drift: drift.get(region) ?? { status: 'unknown' as const, reason: 'not checked' },
          };
        }),
      );
      return { service: spec, regions, active: state.active ?? null, queued: state.queued };
    }),

  /**
   * Accepts what a drifted region runs now, so the next release may start there; only that exact observed state is
   * accepted (a later change is drift again). Recorded durably with who and why.
   */
  acknowledgeDrift: requireRole('sre')
    .input(z.strictObject({ service: ServiceName, region: RegionName, reason: z.string().trim().min(1).max(2000) }))
    .mutation(async ({ ctx, input }) => {
      const spec = serviceOrThrow(ctx, input.service);
      const regions = serviceRegions(spec);
      if (!regions.includes(input.region)) {
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `region: ${spec.name} does not run in "${input.region}" (its regions: ${regions.join(', ')})`,
        });
      }
      if (!ctx.driftAcks) {
        throw new TRPCError({
          code: 'PRECONDITION_FAILED',
          message: 'this API has no store for drift acknowledgements configured; nothing was recorded',
        });
      }
      const [view] = await serviceDrift(ctx, spec.name, [input.region]);
      const drift = view?.drift;
      if (drift?.status !== 'drifted') {
        const why =
          drift?.status === 'in-sync'
            ? `it runs ${drift.version}, as the version ledger says`
            : `its drift is unknown (${drift?.reason ?? 'not checked'})`;
        throw new TRPCError({
          code: 'BAD_REQUEST',
          message: `region: ${input.region} of ${spec.name} is not drifted: ${why}; there is nothing to acknowledge`,
        });
      }
      const acknowledged = {
        fingerprint: drift.fingerprint,
        ledgerVersion: drift.ledgerVersion,
        runs: drift.runs,
        by: ctx.principal.id,
        reason: input.reason,
        at: new Date().toISOString(),
      };
      await ctx.driftAcks.record(spec.name, input.region, acknowledged);
      return {
        service: spec.name,
        region: input.region,
        acknowledged,
        message: `acknowledged ${describeDrift(input.region, drift)}; the next release may start there`,
      };
    }),
});
