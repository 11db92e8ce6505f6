// The Prometheus metrics source against a local HTTP server speaking Prometheus' query API: the PromQL it sends,
// the MetricCounts it builds (and that judgeCanary decides on them), error mapping and cancellation.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AnalysisPolicy, judgeCanary } from '../../domain/canary';
import { MetricsUnavailableError, PrometheusMetricsSource } from '../../providers/metrics/prometheus';

interface Received {
  query: string;
  time: string;
  authorization: string | undefined;
}

type Answer = { status?: number; body: unknown } | 'hang';
type Handler = (query: string) => Answer;

/** A vector result as Prometheus returns it. */
function vector(samples: [Record<string, string>, string][]) {
  return {
    status: 'success',
    data: {
      resultType: 'vector',
      result: samples.map(([metric, value]) => ({ metric, value: [1_735_689_693.3, value] })),
    },
  };
}

/** Which of the four default queries this is, from the metric it reads. */
function kind(query: string): 'requests' | 'errors' | 'latencySum' | 'latencyBuckets' {
  if (query.includes('http_request_duration_seconds_bucket')) return 'latencyBuckets';
  if (query.includes('http_request_duration_seconds_sum')) return 'latencySum';
  return query.includes('code=~"5.."') ? 'errors' : 'requests';
}

// Canary 1.1.0: 300 requests, 90 of them 5xx (30%), slower. Baseline 1.0.0: 1000 requests, no errors (absent from
// the errors vector, as Prometheus omits a series that did not exist). Fractions are what increase() extrapolates.
const HEALTHY: Handler = (query) => {
  switch (kind(query)) {
    case 'requests':
      return {
        body: vector([
          [{ version: '1.0.0' }, '1000.4'],
          [{ version: '1.1.0' }, '299.6'],
          [{}, '7'],
        ]),
      };
    case 'errors':
      return { body: vector([[{ version: '1.1.0' }, '90.2']]) };
    case 'latencySum':
      return {
        body: vector([
          [{ version: '1.0.0' }, '20.5'],
          [{ version: '1.1.0' }, '45'],
        ]),
      };
    case 'latencyBuckets':
      return {
        body: vector([
          [{ version: '1.0.0', le: '0.005' }, '100'],
          [{ version: '1.0.0', le: '0.025' }, '799.7'],
          [{ version: '1.0.0', le: '0.1' }, '1000.4'],
          [{ version: '1.0.0', le: '+Inf' }, '1000.4'],
          [{ version: '1.1.0', le: '0.005' }, '0'],
          [{ version: '1.1.0', le: '0.025' }, '100'],
          [{ version: '1.1.0', le: '0.1' }, '200.2'],
          [{ version: '1.1.0', le: '2.5' }, '299.6'],
          [{ version: '1.1.0', le: '+Inf' }, '299.6'],
        ]),
      };
  }
};

describe('PrometheusMetricsSource', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  /** A fake Prometheus; records every query it receives and answers with `handler`. */
  async function prometheus(handler: Handler) {
    const received: Received[] = [];
    const closed: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/api/v1/query') {
        res.writeHead(404).end('not found');
        return;
      }
      const query = url.searchParams.get('query') ?? '';
      received.push({ query, time: url.searchParams.get('time') ?? '', authorization: req.headers.authorization });
      const answer = handler(query);
      if (answer === 'hang') {
        res.on('close', () => closed.push(query));
        return;
      }
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, received, closed };
  }

  /** A clock that reads `times` in turn (the last one from then on). */
  function clockOf(...times: string[]) {
    let i = 0;
    return () => new Date(times[Math.min(i++, times.length - 1)]!);
  }

  const ref = { service: 'hello', region: 'eu-west' };

  it('starts a window with only the time and queries the elapsed seconds, rounded up, at the time of the call', async () => {
    const server = await prometheus(HEALTHY);
    const source = new PrometheusMetricsSource({
      url: `${server.url}/`,
      clock: clockOf('2025-01-01T00:00:00.000Z', '2025-01-01T00:01:32.300Z'),
      headers: { authorization: 'Bearer secret-token' },
    });

    const snapshot = await source.snapshot(ref);
    expect(snapshot).toEqual({ takenAt: '2025-01-01T00:00:00.000Z' });
    expect(server.received).toEqual([]);

    await source.window(ref, snapshot);
    expect(server.received.map((r) => r.query).sort()).toEqual(
      [
        'sum by (version) (increase(http_requests_total{service="hello",region="eu-west"}[93s]))',
        'sum by (version) (increase(http_requests_total{service="hello",region="eu-west",code=~"5.."}[93s]))',
        'sum by (version) (increase(http_request_duration_seconds_sum{service="hello",region="eu-west"}[93s]))',
        'sum by (version, le) (increase(http_request_duration_seconds_bucket{service="hello",region="eu-west"}[93s]))',
      ].sort(),
    );
    const end = Date.parse('2025-01-01T00:01:32.300Z') / 1000;
    expect(server.received.every((r) => Number(r.time) === end)).toBe(true);
    expect(server.received.every((r) => r.authorization === 'Bearer secret-token')).toBe(true);
  });

  it('uses a window of at least one second, even when the snapshot looks newer than now', async () => {
    const server = await prometheus(HEALTHY);
    const source = new PrometheusMetricsSource({ url: server.url, clock: clockOf('2025-01-01T00:00:00.000Z') });
    await source.window(ref, { takenAt: '2025-01-01T00:00:02.000Z' });
    expect(server.received.every((r) => r.query.includes('[1s]'))).toBe(true);
  });

  it('matches the real elapsed time with the default clock', async () => {
    const server = await prometheus(HEALTHY);
    const source = new PrometheusMetricsSource({ url: server.url });
    const before = Date.now();
    const snapshot = await source.snapshot(ref);
    const after = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const windowStart = Date.now();
    await source.window(ref, snapshot);
    const windowEnd = Date.now();
    const seconds = Number(/\[(\d+)s\]/.exec(server.received[0]!.query)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(Math.ceil((windowStart - after) / 1000));
    expect(seconds).toBeLessThanOrEqual(Math.ceil((windowEnd - before) / 1000));
    expect(seconds).toBeGreaterThanOrEqual(2);
  });

  it('sends credentials in the URL as basic auth, and never names them in errors', async () => {
    const server = await prometheus(() => ({ status: 503, body: 'busy' }));
    const source = new PrometheusMetricsSource({ url: server.url.replace('http://', 'http://reader:p%40ss@') });
    const error = await source.window(ref, await source.snapshot(ref)).catch((err: unknown) => err);
    expect(server.received[0]!.authorization).toBe(`Basic ${Buffer.from('reader:p@ss').toString('base64')}`);
    expect(error).toMatchObject({ retryable: true });
    expect((error as Error).message).not.toContain('p%40ss');
    expect((error as Error).message).not.toContain('reader');
  });

  it('escapes quotes and backslashes in service and region, and substitutes custom queries once', async () => {
    const server = await prometheus(HEALTHY);
    const source = new PrometheusMetricsSource({
      url: server.url,
      queries: { requests: 'sum by (version) (rate(reqs{job="$service",zone="$region"}[$window]))' },
      clock: clockOf('2025-01-01T00:00:00Z', '2025-01-01T00:00:10Z'),
    });
    const snapshot = await source.snapshot(ref);
    await source.window({ service: 'he"llo\\', region: '$window' }, snapshot);
    const queries = server.received.map((r) => r.query);
    expect(queries).toContain('sum by (version) (rate(reqs{job="he\\"llo\\\\",zone="$window"}[10s]))');
    expect(queries).toContain(
      'sum by (version) (increase(http_requests_total{service="he\\"llo\\\\",region="$window",code=~"5.."}[10s]))',
    );
  });

  it('turns the vectors into counts per version: integers, ms buckets, ms latency, no errors when absent', async () => {
    const server = await prometheus(HEALTHY);
    const source = new PrometheusMetricsSource({ url: server.url });
    const counts = await source.window(ref, await source.snapshot(ref));

    expect(Object.keys(counts).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(counts['1.0.0']).toMatchObject({
      requests: 1000,
      errors: 0,
      latencyBuckets: { '5': 100, '25': 800, '100': 1000, '+Inf': 1000 },
    });
    expect(counts['1.0.0']!.latencyMsSum).toBeCloseTo(20_500);
    expect(counts['1.1.0']).toMatchObject({
      requests: 300,
      errors: 90,
      latencyBuckets: { '5': 0, '25': 100, '100': 200, '2500': 300, '+Inf': 300 },
    });
    expect(counts['1.1.0']!.latencyMsSum).toBeCloseTo(45_000);
  });

  it('feeds judgeCanary: a canary with 30% errors against a clean baseline fails', async () => {
    const server = await prometheus(HEALTHY);
    const source = new PrometheusMetricsSource({ url: server.url });
    const counts = await source.window(ref, await source.snapshot(ref));
    const verdict = judgeCanary(counts['1.1.0']!, counts['1.0.0']!, AnalysisPolicy.parse({}));
    expect(verdict.verdict).toBe('fail');
    expect(verdict.reasons.join('\n')).toContain('error rate 30.0% (90 of 300)');
    expect(verdict.baseline).toMatchObject({ requests: 1000, errors: 0 });
  });

  it('reports a 500 as retryable', async () => {
    const server = await prometheus(() => ({ status: 500, body: 'upstream exploded' }));
    const source = new PrometheusMetricsSource({ url: server.url });
    const error = await source.window(ref, await source.snapshot(ref)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MetricsUnavailableError);
    expect((error as MetricsUnavailableError).retryable).toBe(true);
    expect((error as Error).message).toContain('HTTP 500');
    expect((error as Error).message).toContain('upstream exploded');
  });

  it("reports Prometheus' bad_data as not retryable, naming the query and quoting Prometheus", async () => {
    const server = await prometheus((query) =>
      kind(query) === 'latencyBuckets'
        ? {
            status: 400,
            body: { status: 'error', errorType: 'bad_data', error: '1:42: parse error: unexpected "}"' },
          }
        : HEALTHY(query),
    );
    const source = new PrometheusMetricsSource({ url: server.url });
    const error = await source.window(ref, await source.snapshot(ref)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MetricsUnavailableError);
    expect(error).toMatchObject({ retryable: false, query: 'latencyBuckets' });
    expect((error as Error).message).toContain('latencyBuckets query');
    expect((error as Error).message).toContain('http_request_duration_seconds_bucket');
    expect((error as Error).message).toContain('bad_data');
    expect((error as Error).message).toContain('1:42: parse error: unexpected "}"');
  });

  it('reports a query that does not return a vector as not retryable', async () => {
    const server = await prometheus(() => ({
      body: { status: 'success', data: { resultType: 'scalar', result: [1, '3'] } },
    }));
    const source = new PrometheusMetricsSource({ url: server.url });
    const error = await source.window(ref, await source.snapshot(ref)).catch((err: unknown) => err);
    expect(error).toMatchObject({ retryable: false });
    expect((error as Error).message).toMatch(/returned a scalar, but it must return an instant vector/);
  });

  it('reports an unreachable Prometheus and a timeout as retryable', async () => {
    const gone = await prometheus(HEALTHY);
    const closedServer = servers.pop()!;
    await new Promise<void>((resolve) => closedServer.close(() => resolve()));
    const unreachable = new PrometheusMetricsSource({ url: gone.url });
    const refused = await unreachable.window(ref, await unreachable.snapshot(ref)).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(MetricsUnavailableError);
    expect(refused).toMatchObject({ retryable: true });
    expect((refused as Error).message).toContain('unreachable');

    const slow = await prometheus(() => 'hang');
    const source = new PrometheusMetricsSource({ url: slow.url, timeoutMs: 200 });
    const timedOut = await source.window(ref, await source.snapshot(ref)).catch((err: unknown) => err);
    expect(timedOut).toBeInstanceOf(MetricsUnavailableError);
    expect(timedOut).toMatchObject({ retryable: true });
    expect((timedOut as Error).message).toContain('within 200 ms');
  });

  it("honours the caller's abort signal: rejects with its reason and closes the pending queries", async () => {
    const server = await prometheus(() => 'hang');
    const source = new PrometheusMetricsSource({ url: server.url });
    const snapshot = await source.snapshot(ref);
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    const pending = source.window(ref, snapshot, { signal: controller.signal });
    await expect.poll(() => server.received.length).toBe(4);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await expect.poll(() => server.closed.length).toBe(4);

    const before = server.received.length;
    await expect(source.window(ref, snapshot, { signal: controller.signal })).rejects.toBe(reason);
    expect(server.received.length).toBe(before);
  });
});
