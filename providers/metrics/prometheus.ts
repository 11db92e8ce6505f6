// Metrics from Prometheus for canary analysis: a window is four instant PromQL queries (requests, errors, latency
// sum, latency buckets) over the time since the snapshot, so no counters need to be kept between the two calls.
import { z } from 'zod';
import type { MetricCounts } from '../../domain/canary';
import type { CallOptions, RegionRef } from '../fleet/fleet-target';
import type { MetricsSnapshot, MetricsSource } from './metrics-source';

/** PromQL templates; `$service`, `$region` and `$window` (e.g. "93s") are filled in. */
export interface PromQueries {
  /** Requests per version: a vector labelled by `version`. */
  requests: string;
  /** Failed requests per version: a vector labelled by `version` (a version missing here had no errors). */
  errors: string;
  /** Total latency per version in seconds: a vector labelled by `version`. */
  latencySum: string;
  /** Cumulative latency histogram per version: a vector labelled by `version` and `le` (seconds). */
  latencyBuckets: string;
}

/** The queries used for anything `PrometheusOptions.queries` leaves out (standard HTTP server histogram names). */
export const DEFAULT_PROM_QUERIES: PromQueries = {
  requests: 'sum by (version) (increase(http_requests_total{service="$service",region="$region"}[$window]))',
  errors: 'sum by (version) (increase(http_requests_total{service="$service",region="$region",code=~"5.."}[$window]))',
  latencySum:
    'sum by (version) (increase(http_request_duration_seconds_sum{service="$service",region="$region"}[$window]))',
  latencyBuckets:
    'sum by (version, le) (increase(http_request_duration_seconds_bucket{service="$service",region="$region"}[$window]))',
};

/** How to reach Prometheus (or anything speaking its HTTP query API: Thanos, Mimir, VictoriaMetrics). */
export interface PrometheusOptions {
  /** Base URL, e.g. "http://prometheus:9090"; `/api/v1/query` is appended. */
  url: string;
  queries?: Partial<PromQueries>;
  /** Per query; default 10 s. */
  timeoutMs?: number;
  /** Sent with every query, e.g. an Authorization header. */
  headers?: Record<string, string>;
  clock?: () => Date;
}

/** Prometheus could not answer; `retryable` is false when asking again cannot help (a bad query, a bad answer). */
export class MetricsUnavailableError extends Error {
  override readonly name = 'MetricsUnavailableError';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** Which query failed, when one did. */
    readonly query?: keyof PromQueries,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
const QUERY_NAMES = ['requests', 'errors', 'latencySum', 'latencyBuckets'] as const;
// Prometheus' own error types that mean "try again later" (it also answers them with a 5xx, but proxies may not).
const RETRYABLE_ERROR_TYPES = new Set(['timeout', 'canceled', 'unavailable', 'internal']);

const Sample = z.object({
  metric: z.record(z.string(), z.string()),
  value: z.tuple([z.number(), z.string()]),
});
const QueryResponse = z.discriminatedUnion('status', [
  z.object({ status: z.literal('success'), data: z.object({ resultType: z.string(), result: z.unknown() }) }),
  z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() }),
]);

/** Escapes a value for a double-quoted PromQL string, so a quote in a service name cannot end the string early. */
export function escapePromString(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Fills `$service`, `$region` and `$window` in a PromQL template. */
export function renderQuery(template: string, ref: RegionRef, windowSeconds: number): string {
  const values = { service: escapePromString(ref.service), region: escapePromString(ref.region) };
  // One pass, so a region literally named "$window" is not substituted again.
  return template.replace(/\$(service|region|window)\b/g, (_, name: 'service' | 'region' | 'window') =>
    name === 'window' ? `${windowSeconds}s` : values[name],
  );
}

/** "0.005" (seconds, as Prometheus' `le` label) to "5" (ms, as MetricCounts keys); undefined when not a number. */
function leToMs(le: string): string | undefined {
  if (le === '+Inf') return '+Inf';
  const seconds = Number(le);
  if (le.trim() === '' || !Number.isFinite(seconds)) return undefined;
  // toPrecision drops float noise: 0.035 * 1000 is 35.00000000000001.
  return String(Number((seconds * 1000).toPrecision(12)));
}

/** A sample's value; NaN or infinite (no data to extrapolate from) counts as nothing. */
function sampleValue(raw: string): number {
  const value = Number(raw);
  return Number.isFinite(value) ? value : 0;
}

export class PrometheusMetricsSource implements MetricsSource {
  private readonly endpoint: string;
  /** Where errors say we went: no credentials or query string, which may carry secrets. */
  private readonly where: string;
  private readonly queries: PromQueries;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly clock: () => Date;

  constructor(options: PrometheusOptions) {
    const base = new URL(options.url);
    this.where = `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
    this.endpoint = `${this.where}/api/v1/query`;
    this.queries = { ...DEFAULT_PROM_QUERIES, ...options.queries };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.headers = { accept: 'application/json' };
    if (base.username) {
      // fetch refuses URLs with credentials in them, so "https://user:pass@host" becomes basic auth.
      const credentials = `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`;
      this.headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    Object.assign(this.headers, options.headers);
    this.clock = options.clock ?? (() => new Date());
  }

  snapshot(_ref: RegionRef, options?: CallOptions): Promise<MetricsSnapshot> {
    options?.signal?.throwIfAborted();
    // Prometheus keeps the history, so the start of the window is all there is to remember.
    return Promise.resolve({ takenAt: this.clock().toISOString() });
  }

  async window(ref: RegionRef, since: MetricsSnapshot, options?: CallOptions): Promise<Record<string, MetricCounts>> {
    options?.signal?.throwIfAborted();
    const started = Date.parse(since.takenAt);
    if (Number.isNaN(started)) {
      throw new MetricsUnavailableError(`the snapshot time "${since.takenAt}" is not a valid date`, false);
    }
    const now = this.clock();
    // Rounded up so the window covers the whole bake; at least 1s because Prometheus rejects a zero range (and the
    // snapshot may have been taken on a worker whose clock runs ahead).
    const windowSeconds = Math.max(1, Math.ceil((now.getTime() - started) / 1000));
    const time = String(now.getTime() / 1000);

    // When one query fails the others are pointless; stop them rather than leave them running.
    const siblings = new AbortController();
    const signal = options?.signal ? AbortSignal.any([options.signal, siblings.signal]) : siblings.signal;
    let vectors: z.infer<typeof Sample>[][];
    try {
      vectors = await Promise.all(
        QUERY_NAMES.map((name) =>
          this.query(name, renderQuery(this.queries[name], ref, windowSeconds), time, signal, options?.signal),
        ),
      );
    } finally {
      siblings.abort();
    }
    const [requests = [], errors = [], latencySum = [], latencyBuckets = []] = vectors;
    return toCounts(requests, errors, latencySum, latencyBuckets);
  }

  private async query(
    name: keyof PromQueries,
    promql: string,
    time: string,
    signal: AbortSignal,
    callerSignal: AbortSignal | undefined,
  ): Promise<z.infer<typeof Sample>[]> {
    const url = new URL(this.endpoint);
    url.searchParams.set('query', promql);
    url.searchParams.set('time', time);
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const what = `the ${name} query (${promql})`;

    let status: number;
    let text: string;
    try {
      const res = await fetch(url, { headers: this.headers, signal: AbortSignal.any([signal, timeout]) });
      status = res.status;
      text = await res.text();
    } catch (err) {
      // The caller's cancellation is not an outage: hand back its own reason so an activity sees it was cancelled.
      if (callerSignal?.aborted) throw callerSignal.reason;
      if (timeout.aborted) {
        throw new MetricsUnavailableError(
          `Prometheus at ${this.where} did not answer ${what} within ${this.timeoutMs} ms`,
          true,
          name,
          { cause: err },
        );
      }
      const cause = (err as Error).cause instanceof Error ? `: ${((err as Error).cause as Error).message}` : '';
      throw new MetricsUnavailableError(
        `Prometheus at ${this.where} is unreachable (${(err as Error).message}${cause}) while running ${what}`,
        true,
        name,
        { cause: err },
      );
    }

    // 429 is what query frontends (Thanos, Mimir) answer when busy: worth another try, like a 5xx.
    const busy = status >= 500 || status === 429;
    let parsed: z.infer<typeof QueryResponse>;
    try {
      parsed = QueryResponse.parse(JSON.parse(text));
    } catch {
      throw new MetricsUnavailableError(
        `Prometheus at ${this.where} answered ${what} with HTTP ${status} and a body that is not a Prometheus ` +
          `query result: ${text.slice(0, 200)}`,
        busy,
        name,
      );
    }
    if (parsed.status === 'error') {
      const errorType = parsed.errorType ?? 'error';
      throw new MetricsUnavailableError(
        `Prometheus at ${this.where} rejected ${what} (HTTP ${status}, ${errorType}): ${parsed.error ?? 'no details'}`,
        busy || RETRYABLE_ERROR_TYPES.has(errorType),
        name,
      );
    }
    if (status < 200 || status > 299) {
      throw new MetricsUnavailableError(`Prometheus at ${this.where} answered ${what} with HTTP ${status}`, busy, name);
    }
    if (parsed.data.resultType !== 'vector') {
      throw new MetricsUnavailableError(
        `${what} returned a ${parsed.data.resultType}, but it must return an instant vector labelled by version`,
        false,
        name,
      );
    }
    const result = z.array(Sample).safeParse(parsed.data.result);
    if (!result.success) {
      throw new MetricsUnavailableError(
        `Prometheus at ${this.where} answered ${what} with a vector that is not in Prometheus' format`,
        false,
        name,
      );
    }
    return result.data;
  }
}

/** MetricCounts per version from the four vectors; increase() extrapolates, so counts are rounded to integers. */
function toCounts(
  requests: z.infer<typeof Sample>[],
  errors: z.infer<typeof Sample>[],
  latencySum: z.infer<typeof Sample>[],
  latencyBuckets: z.infer<typeof Sample>[],
): Record<string, MetricCounts> {
  const raw = new Map<string, MetricCounts>();
  const of = (version: string): MetricCounts => {
    let counts = raw.get(version);
    if (!counts) {
      counts = { requests: 0, errors: 0, latencyMsSum: 0, latencyBuckets: {} };
      raw.set(version, counts);
    }
    return counts;
  };
  // Series without a version label (traffic from instances that do not set it) cannot be attributed: skipped.
  // Values are added, not assigned, in case a custom query returns several series for one version.
  for (const { metric, value } of requests) {
    if (metric.version !== undefined) of(metric.version).requests += sampleValue(value[1]);
  }
  for (const { metric, value } of errors) {
    if (metric.version !== undefined) of(metric.version).errors += sampleValue(value[1]);
  }
  for (const { metric, value } of latencySum) {
    if (metric.version !== undefined) of(metric.version).latencyMsSum += sampleValue(value[1]) * 1000;
  }
  for (const { metric, value } of latencyBuckets) {
    const bound = metric.le === undefined ? undefined : leToMs(metric.le);
    if (metric.version === undefined || bound === undefined) continue;
    const buckets = of(metric.version).latencyBuckets;
    // "1" and "1.0" (different client libraries) are the same bound once in ms.
    buckets[bound] = (buckets[bound] ?? 0) + sampleValue(value[1]);
  }

  return Object.fromEntries(
    [...raw].map(([version, counts]) => [
      version,
      {
        requests: Math.round(counts.requests),
        errors: Math.round(counts.errors),
        latencyMsSum: counts.latencyMsSum,
        // Rounding is monotonic, so the buckets stay cumulative.
        latencyBuckets: Object.fromEntries(
          Object.entries(counts.latencyBuckets).map(([bound, count]) => [bound, Math.round(count)]),
        ),
      },
    ]),
  );
}
