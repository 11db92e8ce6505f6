// The fleet a worker deploys through when services differ: each call goes to the driver the catalog names for that
// service and region (its environment's fleet, else the service's). Drivers are built on first use, so a worker that
// never meets an SSM service needs no AWS settings; a region whose driver this process cannot serve is refused by
// name, not sent somewhere else.
import {
  type FleetSpec,
  findService,
  fleetSpecFor,
  type ServiceCatalog,
  type SsmFleetSpec,
} from '../../domain/catalog';
import type { ExecFleetSettings } from './exec-fleet';
import {
  type CallOptions,
  type DeployRequest,
  type DeployResult,
  type FleetCapabilities,
  FleetError,
  type FleetTarget,
  type RegionMetrics,
  type RegionRef,
  type RegionRunning,
  type RegionState,
  type StepOutput,
} from './fleet-target';

/** How to build each driver; a driver left out is one this process does not serve (with the reason). */
export interface FleetDrivers {
  local?: (() => FleetTarget) | { unavailable: string };
  ssm?: ((settings: SsmFleetSpec) => FleetTarget) | { unavailable: string };
  exec?: ((settings: ExecFleetSettings) => FleetTarget) | { unavailable: string };
}

export class FleetRouter implements FleetTarget {
  /** Per region, see capabilitiesOf; this is what a caller that does not say which region gets. */
  readonly capabilities: FleetCapabilities = { sameAgeBaseline: false };
  private readonly built = new Map<string, FleetTarget>();

  constructor(
    private readonly catalog: ServiceCatalog,
    private readonly drivers: FleetDrivers,
    /** Who is routing, for refusals: "the region agent for eu-1", "the API". */
    private readonly who: string,
  ) {}

  /** The drivers the catalog uses, and whether this process serves each (for its start-up line). */
  servedDrivers(): { driver: FleetSpec['driver']; served: boolean; why?: string }[] {
    const used = new Set<FleetSpec['driver']>();
    for (const service of this.catalog.services) {
      used.add(service.fleet.driver);
      for (const env of service.environments) if (env.fleet) used.add(env.fleet.driver);
    }
    return [...used].sort().map((driver) => {
      const how = this.drivers[driver];
      return how === undefined
        ? { driver, served: false, why: 'not configured here' }
        : typeof how === 'function'
          ? { driver, served: true }
          : { driver, served: false, why: how.unavailable };
    });
  }

  /**
   * Services (and environments) whose driver gives the canary analysis no numbers of its own: exec without a metrics
   * command, and ssm (its numbers come from the metrics source), with why.
   */
  withoutMetrics(): { where: string; why: string }[] {
    const found: { where: string; why: string }[] = [];
    for (const service of this.catalog.services) {
      for (const env of service.environments) {
        const spec = env.fleet ?? service.fleet;
        const where = `${service.name} (${env.name})`;
        if (spec.driver === 'exec' && !spec.commands.metrics)
          found.push({ where, why: 'its exec fleet has no metrics command (add commands.metrics to the catalog)' });
        if (spec.driver === 'ssm') found.push({ where, why: 'SSM fleets report no request counters' });
      }
    }
    return found;
  }

  capabilitiesOf(ref: RegionRef): FleetCapabilities {
    return this.targetFor(ref).capabilities;
  }

  deploy(request: DeployRequest, options?: CallOptions): Promise<DeployResult> {
    return this.on(request, (target) => target.deploy(request, options));
  }

  setTraffic(
    request: RegionRef & { version: string; percent: number; requestId: string },
    options?: CallOptions,
  ): Promise<void | StepOutput> {
    return this.on(request, (target) => target.setTraffic(request, options));
  }

  promote(
    request: RegionRef & { version: string; requestId: string },
    options?: CallOptions,
  ): Promise<{ previousVersion: string | undefined } & StepOutput> {
    return this.on(request, (target) => target.promote(request, options));
  }

  revert(
    request: RegionRef & { version: string; requestId: string },
    options?: CallOptions,
  ): Promise<void | StepOutput> {
    return this.on(request, (target) => target.revert(request, options));
  }

  state(ref: RegionRef, options?: CallOptions): Promise<RegionState> {
    return this.on(ref, (target) => target.state(ref, options));
  }

  running(ref: RegionRef, options?: CallOptions): Promise<RegionRunning> {
    let target: FleetTarget;
    try {
      target = this.targetFor(ref);
    } catch (err) {
      // The drift check asks from the API, which may not reach every fleet: unknown, not an error.
      if (err instanceof FleetError) return Promise.resolve({ known: false, reason: err.message });
      throw err;
    }
    return target.running(ref, options);
  }

  metrics(ref: RegionRef, options?: CallOptions): Promise<RegionMetrics> {
    return this.on(ref, (target) => target.metrics(ref, options));
  }

  /** Calls `use` with the region's driver; a refusal comes back as a rejected promise, like any fleet failure. */
  private on<T>(ref: RegionRef, use: (target: FleetTarget) => Promise<T>): Promise<T> {
    return new Promise<FleetTarget>((resolve) => resolve(this.targetFor(ref))).then(use);
  }

  private targetFor(ref: RegionRef): FleetTarget {
    const service = findService(this.catalog, ref.service);
    if (!service) {
      throw new FleetError(`${ref.service} is not in the catalog ${this.who} reads (CATALOG_FILE)`, false);
    }
    const spec = fleetSpecFor(service, ref.region);
    const cacheKey = spec.driver === 'local' ? spec.driver : `${spec.driver} ${JSON.stringify(spec)}`;
    const cached = this.built.get(cacheKey);
    if (cached) return cached;
    const how = this.drivers[spec.driver];
    if (typeof how !== 'function') {
      const why = how === undefined ? 'it is not configured here' : how.unavailable;
      throw new FleetError(
        `${ref.service} in ${ref.region} deploys with the ${spec.driver} driver, which ${this.who} does not serve: ${why}`,
        false,
      );
    }
    // exec and ssm drivers are built from the spec's settings; local has none.
    const target =
      spec.driver === 'local' ? (how as () => FleetTarget)() : (how as (s: typeof spec) => FleetTarget)(spec);
    this.built.set(cacheKey, target);
    return target;
  }
}
