// A fleet target in memory: per region the stable version, traffic weights and instances, changed by the same
// rules as fleetd (deploy at 0%, shift, promote, revert; each idempotent by desired state). A test programs failures
// per operation, region and version ("deploy of 2.0.0 in b fails twice", "revert in a fails"), holds operations on a
// latch, and breaks a version's smoke test. Each region's entry point is a path on one loopback HTTP server, so the
// real smoke-test activity sends real requests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CallOptions,
  type DeployRequest,
  type DeployResult,
  FleetError,
  type FleetTarget,
  type RegionMetrics,
  type RegionRef,
  type RegionRunning,
  type RegionState,
  runningFromState,
  type FleetCapabilities,
} from '../../../providers/fleet/fleet-target';
import type { Journal } from './journal';
import { Latch } from './latch';

export type FleetOperation = 'deploy' | 'setTraffic' | 'promote' | 'revert' | 'state';

/** Which calls a rule applies to: an operation, optionally only in one region and/or for one version. */
export interface FleetMatch {
  operation: FleetOperation;
  region?: string;
  version?: string;
}

export interface FleetFailure extends FleetMatch {
  /** How many matching calls fail (then the rule is spent); every one when omitted. */
  times?: number;
  /** Retryable failures are retried by the activity (fleet unreachable); others fail the step at once. */
  retryable?: boolean;
  message?: string;
}

/** One call the fleet received, as its own log would show it. */
export interface FleetCall {
  seq: number;
  at: string;
  operation: Exclude<FleetOperation, 'state'>;
  region: string;
  version: string;
  percent?: number;
  requestId: string;
  result: 'done' | 'no-op' | 'failed';
  error?: string;
}

interface RegionRecord {
  service: string;
  region: string;
  stableVersion: string | undefined;
  weights: Record<string, number>;
  versions: Map<string, { digest: string; instances: { version: string; port: number; healthy: boolean }[] }>;
}

export class MemoryFleet implements FleetTarget {
  readonly capabilities: FleetCapabilities = { sameAgeBaseline: false };
  readonly calls: FleetCall[] = [];
  private readonly regions = new Map<string, RegionRecord>();
  private readonly failures: (FleetFailure & { left: number })[] = [];
  private readonly holds: (FleetMatch & { latch: Latch })[] = [];
  private readonly brokenSmoke: { version: string; region?: string }[] = [];
  private server: Server | undefined;
  private baseUrl = 'http://127.0.0.1:0';
  private nextPort = 20_000;

  constructor(private readonly options: { journal?: Journal; instancesPerRegion?: number } = {}) {}

  /** Starts the loopback server that answers smoke tests. */
  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const [, service = '', region = ''] = (req.url ?? '/').split('/');
      const record = this.regions.get(`${service}/${region}`);
      const version = record && this.servingVersion(record);
      const broken =
        version !== undefined &&
        this.brokenSmoke.some((b) => b.version === version && (b.region === undefined || b.region === region));
      res.statusCode = version === undefined ? 503 : broken ? 500 : 200;
      res.end(version === undefined ? 'nothing runs here' : `${service}@${version}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const hold of this.holds) hold.latch.open();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  /** Adds a region running `version` (or nothing). */
  addRegion(service: string, region: string, version: string | undefined): void {
    const record: RegionRecord = { service, region, stableVersion: undefined, weights: {}, versions: new Map() };
    if (version) {
      this.startInstances(record, version, 'preinstalled');
      record.stableVersion = version;
      record.weights = { [version]: 100 };
    }
    this.regions.set(`${service}/${region}`, record);
  }

  /** Makes matching calls fail. */
  fail(rule: FleetFailure): void {
    this.failures.push({ ...rule, left: rule.times ?? Infinity });
  }

  /** Makes matching calls wait until the returned latch is opened (or their activity is cancelled). */
  hold(match: FleetMatch): Latch {
    const latch = new Latch();
    this.holds.push({ ...match, latch });
    return latch;
  }

  /** Every smoke-test request to a region serving `version` fails (only in `region`, when given). */
  breakSmokeTest(version: string, region?: string): void {
    this.brokenSmoke.push({ version, ...(region ? { region } : {}) });
  }

  /** What a region runs now: stable version, weights, versions with instances. */
  inspect(service: string, region: string): { stableVersion: string | undefined; weights: Record<string, number> } {
    const record = this.record({ service, region });
    return { stableVersion: record.stableVersion, weights: { ...record.weights } };
  }

  /** The calls made for one release (its id is the request id), or all of them. */
  callsFor(requestId?: string): FleetCall[] {
    return requestId === undefined ? [...this.calls] : this.calls.filter((c) => c.requestId === requestId);
  }

  // ---- FleetTarget ----

  async deploy(request: DeployRequest, options?: CallOptions): Promise<DeployResult> {
    const { region, version, digest, requestId } = request;
    return this.call<DeployResult>({ operation: 'deploy', region, version, requestId }, request, options, (record) => {
      const previousVersion = record.stableVersion;
      const existing = record.versions.get(version);
      if (existing) {
        if (existing.digest !== digest) {
          throw new FleetError(
            `${version} already runs in ${region} with digest ${existing.digest}, not ${digest}`,
            false,
          );
        }
        return { result: { previousVersion, alreadyRunning: true }, noop: true };
      }
      this.startInstances(record, version, digest);
      record.weights[version] ??= 0;
      return { result: { previousVersion, alreadyRunning: false } };
    });
  }

  async setTraffic(
    request: RegionRef & { version: string; percent: number; requestId: string },
    options?: CallOptions,
  ): Promise<void> {
    const { region, version, percent, requestId } = request;
    await this.call({ operation: 'setTraffic', region, version, percent, requestId }, request, options, (record) => {
      if (!record.versions.has(version)) throw new FleetError(`${version} is not deployed in ${region}`, false);
      const stable = record.stableVersion;
      if (stable === undefined || stable === version) {
        throw new FleetError(`${version} is already the stable version in ${region}`, false);
      }
      if (record.weights[version] === percent) return { result: undefined, noop: true };
      record.weights = { [stable]: 100 - percent, [version]: percent };
      return { result: undefined };
    });
  }

  async promote(
    request: RegionRef & { version: string; requestId: string },
    options?: CallOptions,
  ): Promise<{ previousVersion: string | undefined }> {
    const { region, version, requestId } = request;
    return this.call({ operation: 'promote', region, version, requestId }, request, options, (record) => {
      if (!record.versions.has(version)) throw new FleetError(`${version} is not deployed in ${region}`, false);
      const alone = record.stableVersion === version && record.versions.size === 1;
      if (alone) return { result: { previousVersion: undefined }, noop: true };
      const previousVersion = record.stableVersion === version ? undefined : record.stableVersion;
      this.switchTo(record, version);
      return { result: { previousVersion } };
    });
  }

  async revert(request: RegionRef & { version: string; requestId: string }, options?: CallOptions): Promise<void> {
    const { region, version, requestId } = request;
    await this.call({ operation: 'revert', region, version, requestId }, request, options, (record) => {
      const alone = record.stableVersion === version && record.versions.size === 1;
      if (alone) return { result: undefined, noop: true };
      if (!record.versions.has(version)) this.startInstances(record, version, 'started-by-revert');
      this.switchTo(record, version);
      return { result: undefined };
    });
  }

  async state(ref: RegionRef, options?: CallOptions): Promise<RegionState> {
    const record = this.record(ref);
    await this.gatekeep({ operation: 'state', region: ref.region, version: record.stableVersion ?? '' }, options);
    return {
      service: ref.service,
      region: ref.region,
      stableVersion: record.stableVersion,
      weights: { ...record.weights },
      instances: [...record.versions.values()].flatMap((v) => v.instances.map((i) => ({ ...i }))),
      url: `${this.baseUrl}/${ref.service}/${ref.region}`,
    };
  }

  /** What the region runs, without going through the programmed failures and holds (the API asks, not a step). */
  running(ref: RegionRef): Promise<RegionRunning> {
    const record = this.record(ref);
    return Promise.resolve(
      runningFromState({
        ...ref,
        stableVersion: record.stableVersion,
        weights: { ...record.weights },
        instances: [...record.versions.values()].flatMap((v) => v.instances),
        url: '',
      }),
    );
  }

  metrics(ref: RegionRef): Promise<RegionMetrics> {
    // Canary analysis reads MemoryMetrics; the fleet itself counts nothing.
    this.record(ref);
    return Promise.resolve({ ...ref, since: new Date(0).toISOString(), versions: {} });
  }

  // ---- internals ----

  private record(ref: RegionRef): RegionRecord {
    const record = this.regions.get(`${ref.service}/${ref.region}`);
    if (!record) throw new FleetError(`the fleet has no region ${ref.region} for ${ref.service}`, false);
    return record;
  }

  private startInstances(record: RegionRecord, version: string, digest: string): void {
    const count = this.options.instancesPerRegion ?? 2;
    const instances = Array.from({ length: count }, () => ({ version, port: this.nextPort++, healthy: true }));
    record.versions.set(version, { digest, instances });
  }

  private switchTo(record: RegionRecord, version: string): void {
    record.stableVersion = version;
    record.weights = { [version]: 100 };
    for (const other of [...record.versions.keys()]) if (other !== version) record.versions.delete(other);
  }

  private servingVersion(record: RegionRecord): string | undefined {
    const [top] = Object.entries(record.weights).sort(([, a], [, b]) => b - a);
    return top && top[1] > 0 ? top[0] : undefined;
  }

  private matches(rule: FleetMatch, call: FleetMatch): boolean {
    return (
      rule.operation === call.operation &&
      (rule.region === undefined || rule.region === call.region) &&
      (rule.version === undefined || rule.version === call.version)
    );
  }

  /** Waits at any latch holding this call, then throws if a failure rule takes it. */
  private async gatekeep(call: FleetMatch, options?: CallOptions): Promise<void> {
    for (const hold of this.holds.filter((h) => this.matches(h, call))) {
      await waitUnlessAborted(hold.latch, options?.signal);
    }
    const rule = this.failures.find((f) => f.left > 0 && this.matches(f, call));
    if (rule) {
      rule.left -= 1;
      throw new FleetError(
        rule.message ?? `${call.operation} of ${call.version} in ${call.region} failed (programmed by the test)`,
        rule.retryable ?? false,
      );
    }
  }

  private async call<T>(
    call: Omit<FleetCall, 'seq' | 'at' | 'result' | 'error'>,
    ref: RegionRef,
    options: CallOptions | undefined,
    change: (record: RegionRecord) => { result: T; noop?: boolean },
  ): Promise<T> {
    const record = this.record(ref);
    const log = (result: FleetCall['result'], error?: string) => {
      this.calls.push({
        seq: this.calls.length + 1,
        at: new Date().toISOString(),
        ...call,
        result,
        ...(error ? { error } : {}),
      });
      if (result !== 'failed') {
        this.options.journal?.add(
          'fleet',
          `${call.operation}${result === 'no-op' ? ' (no-op)' : ''} ${call.region} ${call.version}${call.percent !== undefined ? ` ${call.percent}%` : ''}`,
        );
      }
    };
    try {
      await this.gatekeep(call, options);
      const { result, noop } = change(record);
      log(noop ? 'no-op' : 'done');
      return result;
    } catch (err) {
      log('failed', err instanceof Error ? err.message : String(err));
      throw err;
    }
  }
}

async function waitUnlessAborted(latch: Latch, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return latch.wait();
  if (signal.aborted) throw signal.reason;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([latch.wait(), aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
