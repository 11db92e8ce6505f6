// Chooses the fleet target driver from configuration: fleetd (`local`, the demo fleet), SSM Run Command, or the exec
// driver (a team's own commands), per service and environment as the catalog says. Shared by the worker, which
// deploys through it, and the API, which asks it what each region runs (the drift check) and never runs commands.
import { z } from 'zod';
import { createSsmClient } from '../aws/ssm-client';
import { requireAwsRegion } from '../config-store/open';
import { dataPaths } from '../data-paths';
import type { ServiceCatalog } from '../../domain/catalog';
import { controlTokenFile } from './control-token';
import { type ExecFleetOptions, ExecFleetTarget } from './exec-fleet';
import { type FleetDrivers, FleetRouter } from './fleet-router';
import type { FleetTarget } from './fleet-target';
import { LocalFleetTarget } from './local-fleet';
import { SsmFleetTarget } from './ssm-fleet';

export const FleetTargetEnv = z.object({
  /**
   * Before the catalog named a fleet per service: `ssm` sends the services the catalog gives `local` to SSM instead.
   * Leave it unset and say `"fleet": { "driver": "ssm" }` in the catalog.
   */
  FLEET_DRIVER: z.enum(['local', 'ssm']).default('local'),
  /** fleetd's control API (the `local` fleet target). */
  FLEET_URL: z.url().default('http://127.0.0.1:7310'),
  /** fleetd's control token file; default <DATA_DIR>/fleet/control-token, where fleetd writes it. */
  FLEET_TOKEN_FILE: z.string().min(1).optional(),
  /** With FLEET_DRIVER=ssm: where each region's traffic enters, `region=url` comma-separated (for smoke tests). */
  FLEET_REGION_ENDPOINTS: z
    .string()
    .regex(/^([a-z][a-z0-9-]*=https?:\/\/\S+)(,[a-z][a-z0-9-]*=https?:\/\/\S+)*$/, 'must be region=url,region=url')
    .optional(),
});
export type FleetTargetEnv = z.infer<typeof FleetTargetEnv>;

type OpenEnv = FleetTargetEnv & {
  DATA_DIR: string;
  AWS_REGION?: string | undefined;
  SSM_ENDPOINT?: string | undefined;
};

/**
 * The fleet of every service in `catalog`, each through the driver the catalog names for it; `who` is this process
 * in refusals ("the region agent for eu-1"). Commands of the exec driver run only where `runsCommands` is set (the
 * workers); the API answers "unknown" for those regions instead.
 */
export function openCatalogFleet(
  env: OpenEnv,
  catalog: ServiceCatalog,
  options: { who: string; runsCommands: boolean; artifactUrl?: ExecFleetOptions['artifactUrl'] },
): FleetRouter {
  // FLEET_DRIVER=ssm (the setting from before): SSM for every service, checked now, as before.
  const legacySsm = env.FLEET_DRIVER === 'ssm' ? openFleetTarget(env) : undefined;
  const ssm: FleetDrivers['ssm'] = legacySsm
    ? () => legacySsm
    : env.AWS_REGION
      ? () => openFleetTarget({ ...env, FLEET_DRIVER: 'ssm' })
      : { unavailable: 'AWS_REGION is not set' };
  return new FleetRouter(
    catalog,
    {
      local: legacySsm ? () => legacySsm : () => openFleetTarget({ ...env, FLEET_DRIVER: 'local' }),
      ssm,
      exec: options.runsCommands
        ? (settings) => new ExecFleetTarget(settings, options.artifactUrl ? { artifactUrl: options.artifactUrl } : {})
        : { unavailable: 'its commands run in the workers (region agents), not in the API' },
    },
    options.who,
  );
}

/** One driver for every service (FLEET_DRIVER): the fleet of tools and tests that talk to one fleet. */
export function openFleetTarget(env: OpenEnv): FleetTarget {
  if (env.FLEET_DRIVER === 'local') {
    return new LocalFleetTarget(env.FLEET_URL, {
      tokenFile: controlTokenFile(env, dataPaths(env.DATA_DIR).fleetControlToken),
    });
  }
  const region = requireAwsRegion(env, 'with FLEET_DRIVER=ssm');
  const endpoints = Object.fromEntries(
    (env.FLEET_REGION_ENDPOINTS ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=', 2) as [string, string]),
  );
  return new SsmFleetTarget({
    client: createSsmClient({ region, ...(env.SSM_ENDPOINT ? { endpoint: env.SSM_ENDPOINT } : {}) }),
    endpoints,
  });
}
