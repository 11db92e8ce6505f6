// What a release or a train needs of other services, judged where it is going: what each region of a dependency runs
// is the version ledger's word, or what its fleet reports when the ledger has none.
import { TRPCError } from '@trpc/server';
import { findService, type ServiceSpec } from '../domain/catalog';
import { type RunningVersion, unmetRequirements } from '../domain/dependencies';
import type { Context } from './context';

/** What `service` runs in each region of `environment`, or undefined when it has no such environment. */
export async function runningIn(
  ctx: Pick<Context, 'catalog' | 'ledger' | 'fleet'>,
  service: string,
  environment: string,
): Promise<RunningVersion[] | undefined> {
  const env = findService(ctx.catalog, service)?.environments.find((e) => e.name === environment);
  if (!env) return undefined;
  return Promise.all(
    env.waves.flat().map(async (region) => ({ region, version: await runningVersion(ctx, service, region) })),
  );
}

async function runningVersion(
  ctx: Pick<Context, 'ledger' | 'fleet'>,
  service: string,
  region: string,
): Promise<string | undefined> {
  const recorded = await ctx.ledger?.current(service, region);
  if (recorded) return recorded.version;
  const observed = await ctx.fleet?.running({ service, region }).catch(() => undefined);
  return observed?.known ? observed.stableVersion : undefined;
}

/** What each `dependency` runs in each of `environments`, looked up once, for the pure checks. */
export async function runningLookup(
  ctx: Pick<Context, 'catalog' | 'ledger' | 'fleet'>,
  dependencies: string[],
  environments: string[],
): Promise<(dependency: string, environment: string) => RunningVersion[] | undefined> {
  const found = new Map<string, RunningVersion[] | undefined>();
  for (const dependency of dependencies) {
    for (const environment of environments) {
      found.set(`${dependency} ${environment}`, await runningIn(ctx, dependency, environment));
    }
  }
  return (dependency, environment) => found.get(`${dependency} ${environment}`);
}

/**
 * A 412 naming every requirement of the artifact's manifest not met where the release is going ("checkout@2.0.0 needs
 * payments >=1.4.0 in production, which runs 1.3.2").
 */
export async function refuseUnmetRequirements(
  ctx: Context,
  spec: ServiceSpec,
  version: string,
  environments: string[],
): Promise<void> {
  // An artifact whose bytes no longer hash to its digest has no manifest to trust: the release's own verification
  // fails it, naming the digest, on the timeline and the audit trail, as it always did.
  const manifest = await ctx.artifacts?.manifest?.(spec.name, version).catch(() => undefined);
  if (!manifest?.requires || Object.keys(manifest.requires).length === 0) return;
  const unmet = unmetRequirements({
    service: spec.name,
    version,
    requires: manifest.requires,
    dependsOn: spec.dependsOn,
    environments,
    running: await runningLookup(ctx, Object.keys(manifest.requires), environments),
  });
  if (unmet.length > 0) {
    throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `${unmet.join('; ')}; nothing was started` });
  }
}
