// The weighted router in front of one service's instances in one region. It splits traffic between versions by
// weight, counts requests, errors and latency per version (what canary analysis reads), and drains instances.
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RegionMetrics, VersionMetrics } from '../providers/fleet/fleet-target';

export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500] as const;

export interface Backend {
  version: string;
  port: number;
}

function emptyMetrics(): VersionMetrics {
  const latencyBuckets: Record<string, number> = {};
  for (const bound of LATENCY_BUCKETS_MS) latencyBuckets[String(bound)] = 0;
  latencyBuckets['+Inf'] = 0;
  return { requests: 0, errors: 0, latencyMsSum: 0, latencyBuckets };
}

export class RegionRouter {
  private server: Server | undefined;
  private backends: Backend[] = [];
  private weights: Record<string, number> = {};
  private readonly roundRobin = new Map<string, number>();
  private readonly inFlight = new Map<number, number>();
  private readonly counters = new Map<string, VersionMetrics>();
  private readonly since = new Date().toISOString();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    readonly service: string,
    readonly region: string,
  ) {}

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** Replaces the routing table. Weights are percentages per version. */
  route(backends: Backend[], weights: Record<string, number>): void {
    this.backends = [...backends];
    this.weights = { ...weights };
  }

  /** Removes an instance from rotation and waits (up to `timeoutMs`) for its in-flight requests to finish. */
  async drain(port: number, timeoutMs = 3000): Promise<void> {
    this.backends = this.backends.filter((b) => b.port !== port);
    const deadline = Date.now() + timeoutMs;
    while ((this.inFlight.get(port) ?? 0) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    this.inFlight.delete(port);
  }

  metrics(): RegionMetrics {
    const versions: Record<string, VersionMetrics> = {};
    for (const [version, m] of this.counters) {
      versions[version] = { ...m, latencyBuckets: { ...m.latencyBuckets } };
    }
    return { service: this.service, region: this.region, since: this.since, versions };
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.agent.destroy();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private pickVersion(): string | undefined {
    const live = Object.entries(this.weights).filter(
      ([version, weight]) => weight > 0 && this.backends.some((b) => b.version === version),
    );
    const total = live.reduce((sum, [, weight]) => sum + weight, 0);
    if (total === 0) return undefined;
    let ticket = Math.random() * total;
    for (const [version, weight] of live) {
      ticket -= weight;
      if (ticket < 0) return version;
    }
    return live[live.length - 1]?.[0];
  }

  private pickBackend(version: string): Backend | undefined {
    const candidates = this.backends.filter((b) => b.version === version);
    if (candidates.length === 0) return undefined;
    const next = (this.roundRobin.get(version) ?? 0) % candidates.length;
    this.roundRobin.set(version, next + 1);
    return candidates[next];
  }

  private observe(version: string, failed: boolean, startedAt: bigint): void {
    const m = this.counters.get(version) ?? emptyMetrics();
    this.counters.set(version, m);
    const ms = Number(process.hrtime.bigint() - startedAt) / 1e6;
    m.requests += 1;
    if (failed) m.errors += 1;
    m.latencyMsSum += ms;
    for (const bound of LATENCY_BUCKETS_MS) {
      if (ms <= bound) m.latencyBuckets[String(bound)] = (m.latencyBuckets[String(bound)] ?? 0) + 1;
    }
    m.latencyBuckets['+Inf'] = (m.latencyBuckets['+Inf'] ?? 0) + 1;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url === '/_router/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: this.service, region: this.region, weights: this.weights }));
      return;
    }
    const version = this.pickVersion();
    const backend = version === undefined ? undefined : this.pickBackend(version);
    if (!version || !backend) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(`no healthy instance of ${this.service} in ${this.region}\n`);
      return;
    }
    const startedAt = process.hrtime.bigint();
    this.inFlight.set(backend.port, (this.inFlight.get(backend.port) ?? 0) + 1);
    let settled = false;
    const settle = (failed: boolean) => {
      if (settled) return;
      settled = true;
      this.inFlight.set(backend.port, Math.max(0, (this.inFlight.get(backend.port) ?? 1) - 1));
      this.observe(version, failed, startedAt);
    };
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port: backend.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
        agent: this.agent,
      },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
        upstreamRes.on('end', () => settle((upstreamRes.statusCode ?? 502) >= 500));
        upstreamRes.on('error', () => settle(true));
      },
    );
    upstream.on('error', () => {
      settle(true);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream ${this.service}@${version} failed\n`);
    });
    req.pipe(upstream);
  }
}
