// service.*: the catalog, and what each service runs where (from the version ledger) and has in flight.
import { z } from 'zod';
import { serviceRegions } from '../../domain/catalog';
import { ServiceName } from '../../domain/names';
import { READ_ROLES } from '../../domain/roles';
import { getServiceState } from '../../workflows/lifecycle';
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

  /** The catalog entry, the version each region runs according to the ledger, and the release in flight (if any). */
  get: requireRole(...READ_ROLES)
    .input(z.strictObject({ service: ServiceName }))
    .query(async ({ ctx, input }) => {
      const spec = serviceOrThrow(ctx, input.service);
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
          };
        }),
      );
      const state = await translated(() => getServiceState(ctx.temporal, spec.name));
      return { service: spec, regions, active: state.active ?? null, queued: state.queued };
    }),
});
