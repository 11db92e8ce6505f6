// The `local` fleet target driver: talks to fleetd's control API over HTTP, with the bearer token fleetd wrote to
// its token file (read at the first call and again after a 401, so a fleetd started later or a new token is picked up).
import { readControlToken } from './control-token';
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
} from './fleet-target';

export interface FleetEventRecord {
  at: string;
  event: string;
  service: string;
  region: string;
  version?: string;
  requestId?: string;
}

/** How the driver authenticates to fleetd: the token file fleetd writes (usual), or the token itself. */
export type FleetControlAuth = { tokenFile: string } | { token: string };

// fleetd events that change what a region runs (the rest are no-ops and restarts of the same versions).
const CHANGES = new Set(['install', 'deploy', 'baseline-start', 'traffic', 'baseline-stop', 'promote', 'revert']);

export class LocalFleetTarget implements FleetTarget {
  /**
   * fleetd starts a baseline beside each canary and routes it the canary's share (see fleet/fleetd.ts). From 50% on
   * the stable version's own instances get no traffic, so the analysis must read baselineLabel(stable), not stable.
   */
  readonly capabilities: FleetCapabilities = { sameAgeBaseline: true };
  private token: string | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly auth: FleetControlAuth,
  ) {
    if ('token' in auth) this.token = auth.token;
  }

  private async currentToken(reread: boolean): Promise<string> {
    if ('token' in this.auth) return this.auth.token;
    if (this.token !== undefined && !reread) return this.token;
    try {
      this.token = await readControlToken(this.auth.tokenFile);
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new FleetError(
        missing
          ? `fleetd's control token file ${this.auth.tokenFile} does not exist yet: start fleetd (it writes the file), or set FLEET_TOKEN_FILE to the file it wrote`
          : (err as Error).message,
        // fleetd may simply not have started yet; a file others can read needs a person.
        missing,
      );
    }
    return this.token;
  }

  private regionPath({ service, region }: RegionRef): string {
    return `/v1/services/${encodeURIComponent(service)}/regions/${encodeURIComponent(region)}`;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    let res = await this.send(method, path, body, options, await this.currentToken(false));
    if (res.status === 401 && 'tokenFile' in this.auth) {
      // fleetd may have written a new token since this driver read it.
      const before = this.token;
      const token = await this.currentToken(true);
      if (token !== before) res = await this.send(method, path, body, options, token);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON; keep the text
      }
      // A 401 is retryable: whoever fixes the token file lets the step carry on instead of failing the release.
      throw new FleetError(
        `the local fleet refused ${method} ${path}: ${message}`,
        res.status >= 500 || res.status === 401,
      );
    }
    return JSON.parse(text) as T;
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    options: CallOptions,
    token: string,
  ): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
      });
    } catch (err) {
      throw new FleetError(`the local fleet at ${this.baseUrl} is unreachable: ${(err as Error).message}`, true);
    }
  }

  deploy(request: DeployRequest, options?: CallOptions): Promise<DeployResult> {
    const { version, digest, requestId } = request;
    return this.call('POST', `${this.regionPath(request)}/deploy`, { version, digest, requestId }, options);
  }

  async setTraffic(
    request: RegionRef & { version: string; percent: number; requestId: string },
    options?: CallOptions,
  ): Promise<void> {
    const { version, percent, requestId } = request;
    await this.call('POST', `${this.regionPath(request)}/traffic`, { version, percent, requestId }, options);
  }

  promote(
    request: RegionRef & { version: string; requestId: string },
    options?: CallOptions,
  ): Promise<{ previousVersion: string | undefined }> {
    const { version, requestId } = request;
    return this.call('POST', `${this.regionPath(request)}/promote`, { version, requestId }, options);
  }

  async revert(request: RegionRef & { version: string; requestId: string }, options?: CallOptions): Promise<void> {
    const { version, requestId } = request;
    await this.call('POST', `${this.regionPath(request)}/revert`, { version, requestId }, options);
  }

  state(ref: RegionRef, options?: CallOptions): Promise<RegionState> {
    return this.call('GET', this.regionPath(ref), undefined, options);
  }

  /** The region's state, and when fleetd's log last shows a change to it. */
  async running(ref: RegionRef, options?: CallOptions): Promise<RegionRunning> {
    const [state, events] = await Promise.all([this.state(ref, options), this.events(ref)]);
    const changedAt = events.filter((e) => CHANGES.has(e.event)).at(-1)?.at;
    return runningFromState(state, changedAt);
  }

  metrics(ref: RegionRef, options?: CallOptions): Promise<RegionMetrics> {
    return this.call('GET', `${this.regionPath(ref)}/metrics`, undefined, options);
  }

  /** fleetd's own event log (deploys, promotions, reverts), oldest first. */
  async events(filter: Partial<RegionRef> = {}): Promise<FleetEventRecord[]> {
    const query = new URLSearchParams();
    if (filter.service) query.set('service', filter.service);
    if (filter.region) query.set('region', filter.region);
    return (await this.call<{ events: FleetEventRecord[] }>('GET', `/v1/events?${query.toString()}`)).events;
  }
}
