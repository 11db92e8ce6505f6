// Entry point of fleetd, the local demo fleet (see fleetd.ts).
import { z } from 'zod';
import { findService, fleetSpecFor } from '../domain/catalog';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { loadCatalog } from '../providers/catalog';
import { dataPaths } from '../providers/data-paths';
import { parseEnv, PortVar } from '../providers/env';
import { restrictUmask } from '../providers/file-modes';
import { FleetDaemon } from './fleetd';

const FleetEnv = z.object({
  CATALOG_FILE: z.string().min(1).default('config/catalog.json'),
  DATA_DIR: z.string().min(1).default('.data'),
  FLEET_HOST: z.string().min(1).default('127.0.0.1'),
  FLEET_PORT: PortVar.default(7310),
  /** The control API's bearer token file (written 0600 at the first start); default <DATA_DIR>/fleet/control-token. */
  FLEET_TOKEN_FILE: z.string().min(1).optional(),
  /** Router of the first region listens here, the next region on the next port, and so on. */
  FLEET_ROUTER_BASE_PORT: PortVar.default(7311),
  FLEET_INSTANCES: z.coerce.number().int().min(1).max(10).default(2),
  FLEET_LOAD_RPS: z.coerce.number().min(0).max(500).default(20),
  /** Load a region only while it runs a canary or within this many seconds of a change (unset: always). */
  FLEET_LOAD_IDLE_SECONDS: z.coerce.number().int().min(1).max(86_400).optional(),
  /** Versions running before any release, as service=version pairs: "hello=1.0.0". */
  FLEET_INITIAL_VERSIONS: z
    .string()
    .default('hello=1.0.0,greeter=1.0.0,web=1.0.0')
    .transform((value) =>
      Object.fromEntries(
        value
          .split(',')
          .filter(Boolean)
          .map((pair) => pair.split('=').map((s) => s.trim()) as [string, string]),
      ),
    ),
});

async function run() {
  restrictUmask();
  const env = parseEnv(FleetEnv);
  const catalog = await loadCatalog(env.CATALOG_FILE);
  const paths = dataPaths(env.DATA_DIR);
  // fleetd runs the regions the catalog deploys with the local driver (an environment may name another).
  const regions = catalog.services.flatMap((s) =>
    s.environments
      .flatMap((e) => e.waves.flat())
      .filter((region) => fleetSpecFor(s, region).driver === 'local')
      .map((region) => ({ service: s.name, region })),
  );
  // The default names the demo's services: those a catalog of one's own lacks are left out; a value one set is checked.
  const given = process.env.FLEET_INITIAL_VERSIONS !== undefined;
  for (const service of Object.keys(env.FLEET_INITIAL_VERSIONS)) {
    if (findService(catalog, service)) continue;
    if (given) throw new Error(`FLEET_INITIAL_VERSIONS names ${service}, which is not in the catalog`);
    delete env.FLEET_INITIAL_VERSIONS[service];
  }
  const daemon = new FleetDaemon({
    dataDir: paths.fleet,
    controlTokenFile: env.FLEET_TOKEN_FILE ?? paths.fleetControlToken,
    artifacts: new LocalArtifactStore(paths.artifacts),
    regions,
    initialVersions: env.FLEET_INITIAL_VERSIONS,
    host: env.FLEET_HOST,
    controlPort: env.FLEET_PORT,
    routerBasePort: env.FLEET_ROUTER_BASE_PORT,
    instancesPerRegion: env.FLEET_INSTANCES,
    loadRps: env.FLEET_LOAD_RPS,
    ...(env.FLEET_LOAD_IDLE_SECONDS ? { loadIdleSeconds: env.FLEET_LOAD_IDLE_SECONDS } : {}),
  });
  const started = await daemon.start();
  console.log(`fleetd control API on ${started.controlUrl} (bearer token in ${started.controlTokenFile})`);
  for (const router of started.routers) console.log(`fleetd: ${router.service} in ${router.region} at ${router.url}`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('fleetd: stopping instances');
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

run().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
