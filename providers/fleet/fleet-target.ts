// The fleet target interface: what a release needs from wherever a service runs (local processes, SSM, k8s).
// Every operation is idempotent by desired state, so a retried activity never deploys twice.
import type { ObservedRegion } from '../../domain/drift';
import type { MetricCounts } from '../../domain/canary';

export interface RegionRef {
  service: string;
  region: string;
}

export interface DeployRequest extends RegionRef {
  version: string;
  digest: string;
  /** Who asked (release id / activity), recorded in the fleet's own log. */
  requestId: string;
}

/** What a fleet step said while it worked (the exec driver's command output, trimmed), for the timeline and audit. */
export interface StepOutput {
  output?: string;
}

export interface DeployResult extends StepOutput {
  /** The version serving all traffic before this deploy. */
  previousVersion: string | undefined;
  /** True when instances of this version were already running (a retry or a repeat), so nothing was started. */
  alreadyRunning: boolean;
}

/** Cumulative counters of one version; latencyBuckets[bound] counts requests at or below bound ms, `+Inf` all. */
export type VersionMetrics = MetricCounts;

export interface RegionMetrics extends RegionRef {
  /** When the counters started (they reset when the fleet restarts). */
  since: string;
  versions: Record<string, VersionMetrics>;
}

export interface RegionState extends RegionRef {
  stableVersion: string | undefined;
  /** Traffic share per version, in percent (sums to 100 when anything runs). */
  weights: Record<string, number>;
  instances: { version: string; port: number; healthy: boolean }[];
  /** Where the region's traffic enters (the router). */
  url: string;
}

/** What a region runs right now, as the fleet itself reports it (for the API's drift check). */
export type RegionRunning = ObservedRegion;

/**
 * The `running` view of a region's state. Baseline instances run the stable version, so they count as that version:
 * the ledger never records a baseline label, and a canary's baseline is not drift.
 */
export function runningFromState(state: RegionState, changedAt?: string): RegionRunning {
  const traffic: Record<string, number> = {};
  for (const [label, percent] of Object.entries(state.weights)) {
    if (percent <= 0) continue;
    const version = baselineVersion(label) ?? label;
    traffic[version] = (traffic[version] ?? 0) + percent;
  }
  const deployed = [...new Set(state.instances.map((i) => baselineVersion(i.version) ?? i.version))].sort();
  return { known: true, stableVersion: state.stableVersion, traffic, deployed, ...(changedAt ? { changedAt } : {}) };
}

const BASELINE_SUFFIX = '+baseline';

/**
 * The metrics and weights label of the baseline instances a canary deploy starts next to it: fresh instances of the
 * stable version, routed the same share as the canary, so the analysis compares versions of the same age under the
 * same load (the Kayenta "baseline + canary" pattern). Semver build metadata; fleetd refuses a release version spelled
 * like a label, so a label never names a release.
 */
export function baselineLabel(version: string): string {
  return `${version}${BASELINE_SUFFIX}`;
}

/** The version whose baseline `label` names, or undefined when `label` is not a baseline label. */
export function baselineVersion(label: string): string | undefined {
  return label.endsWith(BASELINE_SUFFIX) ? label.slice(0, -BASELINE_SUFFIX.length) : undefined;
}

/** What a fleet driver can do beyond the FleetTarget operations. */
export interface FleetCapabilities {
  /** deploy also starts a baseline of the same age, and setTraffic routes it the canary's share (baselineLabel). */
  sameAgeBaseline: boolean;
}

/** Per-call options: an activity passes its cancellation signal so a cancelled step stops waiting. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface FleetTarget {
  readonly capabilities: FleetCapabilities;
  /** A fleet whose drivers differ per region (FleetRouter) says per region; others use `capabilities`. */
  capabilitiesOf?(ref: RegionRef): FleetCapabilities;
  /** Starts instances of `version` at 0% traffic (a canary with no traffic yet). */
  deploy(request: DeployRequest, options?: CallOptions): Promise<DeployResult>;
  /** Sends `percent` of the region's traffic to `version`, the rest to the stable version. */
  setTraffic(
    request: RegionRef & { version: string; percent: number; requestId: string },
    options?: CallOptions,
  ): Promise<void | StepOutput>;
  /** Makes `version` the stable version at 100% and drains every other version. */
  promote(
    request: RegionRef & { version: string; requestId: string },
    options?: CallOptions,
  ): Promise<{ previousVersion: string | undefined } & StepOutput>;
  /** Puts the region back on `version` (starting it if needed) at 100% and drains the rest. */
  revert(
    request: RegionRef & { version: string; requestId: string },
    options?: CallOptions,
  ): Promise<void | StepOutput>;
  state(ref: RegionRef, options?: CallOptions): Promise<RegionState>;
  /**
   * What the region runs, cheaply enough for the API to ask on every `service get` and `release start`; a driver
   * that cannot tell without acting on the region answers `known: false` with why (no drift check there).
   */
  running(ref: RegionRef, options?: CallOptions): Promise<RegionRunning>;
  metrics(ref: RegionRef, options?: CallOptions): Promise<RegionMetrics>;
}

export class FleetError extends Error {
  override readonly name = 'FleetError';
  constructor(
    message: string,
    /** False when retrying cannot help (bad request, unknown version). */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}
