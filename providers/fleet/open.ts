// Chooses the fleet target driver from configuration: fleetd (`local`, the demo fleet) or SSM Run Command. Shared by
// the worker, which deploys through it, and the API, which asks it what each region runs (the drift check).
import { z } from 'zod';
import { createSsmClient } from '../aws/ssm-client';
import { requireAwsRegion } from '../config-store/open';
import { dataPaths } from '../data-paths';
import { controlTokenFile } from './control-token';
import type { FleetTarget } from './fleet-target';
import { LocalFleetTarget } from './local-fleet';
import { SsmFleetTarget } from './ssm-fleet';

export const FleetTargetEnv = z.object({
  /** Where services run: `local` (fleetd, the demo fleet) or `ssm` (AWS Systems Manager Run Command). */
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

/** The fleet target the environment names. */
export function openFleetTarget(
  env: FleetTargetEnv & { DATA_DIR: string; AWS_REGION?: string | undefined; SSM_ENDPOINT?: string | undefined },
): FleetTarget {
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
