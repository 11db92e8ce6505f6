// The `local` fleet target driver: talks to fleetd's control API over HTTP.
import {
  type CallOptions,
  type DeployRequest,
  type DeployResult,
  FleetError,
  type FleetTarget,
  type RegionMetrics,
  type RegionRef,
  type RegionState,
} from './fleet-target';

export interface FleetEventRecord {
  at: string;
  event: string;
  service: string;
  region: string;
  version?: string;
  requestId?: string;
}

export class LocalFleetTarget implements FleetTarget {
  constructor(private readonly baseUrl: string) {}

  private regionPath({ service, region }: RegionRef): string {
    return `/v1/services/${encodeURIComponent(service)}/regions/${encodeURIComponent(region)}`;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
      });
    } catch (err) {
      throw new FleetError(`the local fleet at ${this.baseUrl} is unreachable: ${(err as Error).message}`, true);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON; keep the text
      }
      throw new FleetError(`the local fleet refused ${method} ${path}: ${message}`, res.status >= 500);
    }
    return JSON.parse(text) as T;
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
