// The service catalog: which services exist, where they run, and in which order their regions are released.
import { z } from 'zod';
import { EnvironmentName, RegionName, ServiceName } from './names';

const MAX_BAKE_SECONDS = 7 * 24 * 3600;

export const EnvironmentSpec = z.strictObject({
  name: EnvironmentName,
  /** Waves of regions: waves run in order, the regions of one wave in parallel. */
  waves: z.array(z.array(RegionName).min(1, 'a wave needs at least one region')).min(1, 'needs at least one wave'),
});
export type EnvironmentSpec = z.infer<typeof EnvironmentSpec>;

export const ServiceSpec = z
  .strictObject({
    name: ServiceName,
    description: z.string().max(500).optional(),
    /** Which fleet target driver deploys this service. */
    fleet: z.enum(['local']).default('local'),
    /** Default bake per region, in seconds, when the release does not set one. */
    bakeSeconds: z.number().int().min(0).max(MAX_BAKE_SECONDS).default(30),
    /** Environments in promotion order (e.g. staging, then production). */
    environments: z.array(EnvironmentSpec).min(1, 'needs at least one environment'),
  })
  .superRefine((service, ctx) => {
    const seen = new Set<string>();
    service.environments.forEach((env, e) =>
      env.waves.forEach((wave, w) =>
        wave.forEach((region, r) => {
          if (seen.has(region)) {
            ctx.addIssue({
              code: 'custom',
              message: `region ${region} appears more than once in service ${service.name}`,
              path: ['environments', e, 'waves', w, r],
            });
          }
          seen.add(region);
        }),
      ),
    );
  });
export type ServiceSpec = z.infer<typeof ServiceSpec>;

export const ServiceCatalog = z.strictObject({ services: z.array(ServiceSpec) }).superRefine((catalog, ctx) => {
  const seen = new Set<string>();
  catalog.services.forEach((service, i) => {
    if (seen.has(service.name)) {
      ctx.addIssue({
        code: 'custom',
        message: `service ${service.name} is listed twice`,
        path: ['services', i, 'name'],
      });
    }
    seen.add(service.name);
  });
});
export type ServiceCatalog = z.infer<typeof ServiceCatalog>;

/** Every region a service runs in, in release order. */
export function serviceRegions(service: ServiceSpec): string[] {
  return service.environments.flatMap((env) => env.waves.flat());
}

/** Every region named anywhere in the catalog, each once. */
export function catalogRegions(catalog: ServiceCatalog): string[] {
  return [...new Set(catalog.services.flatMap(serviceRegions))];
}

export function findService(catalog: ServiceCatalog, name: string): ServiceSpec | undefined {
  return catalog.services.find((service) => service.name === name);
}
