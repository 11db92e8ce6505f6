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
import { SsmFleetTarget, type SsmFleetOptions } from './ssm-fleet';
import { type ArtifactBytes, S3ArtifactMirror, s3Client } from '../artifacts/s3-artifact-mirror';

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
  /** S3's endpoint when it is not AWS's (moto_server, MinIO), for ssm fleets with an artifact bucket. */
  S3_ENDPOINT?: string | undefined;
};

/**
 * The fleet of every service in `catalog`, each through the driver the catalog names for it; `who` is this process
 * in refusals ("the region agent for eu-1"). Commands of the exec driver run only where `runsCommands` is set (the
 * workers); the API answers "unknown" for those regions instead.
 */
export function openCatalogFleet(
  env: OpenEnv,
  catalog: ServiceCatalog,
  options: {
    who: string;
    runsCommands: boolean;
    artifactUrl?: ExecFleetOptions['artifactUrl'];
    /** The verified artifacts' bytes, for copies to an ssm fleet's artifact bucket. */
    artifactBytes?: ArtifactBytes;
  },
): FleetRouter {
  // FLEET_DRIVER=ssm (the setting from before): SSM for every service, checked now, as before.
  const legacySsm = env.FLEET_DRIVER === 'ssm' ? openFleetTarget(env, options.artifactUrl) : undefined;
  const ssm: FleetDrivers['ssm'] = legacySsm
    ? () => legacySsm
    : env.AWS_REGION
      ? (settings) => {
          const bytes = options.artifactBytes;
          const { sameAgeBaseline } = settings;
          if (!settings.artifactBucket || !bytes) {
            return openFleetTarget({ ...env, FLEET_DRIVER: 'ssm' }, options.artifactUrl, sameAgeBaseline);
          }
          const mirror = new S3ArtifactMirror(
            s3Client({ region: env.AWS_REGION ?? '', endpoint: env.S3_ENDPOINT }),
            settings.artifactBucket,
            bytes,
          );
          return openFleetTarget({ ...env, FLEET_DRIVER: 'ssm' }, (request) => mirror.url(request), sameAgeBaseline);
        }
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
export function openFleetTarget(
  env: OpenEnv,
  artifactUrl?: SsmFleetOptions['artifactUrl'],
  sameAgeBaseline = false,
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
    sameAgeBaseline,
    ...(artifactUrl ? { artifactUrl } : {}),
  });
}
