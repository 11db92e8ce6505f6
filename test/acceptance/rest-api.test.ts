// The REST face of the API, as a pipeline step with curl sees it: every tRPC procedure under /api/v1 with the
// same auth, roles, validation and errors, an OpenAPI document that lists them all, and the operational side of
// each request (X-Request-Id, a JSON log line, Prometheus metrics).
import type { inferRouterOutputs } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiLogger } from '../../api/observability';
import { type AppRouter, appRouter } from '../../api/routers';
import { type ReleaseView, startTestEngine, type TestEngine, waitUntil } from '../support/engine';

interface Reply<T> {
  status: number;
  headers: Headers;
  /** The JSON body, typed as the caller expects it (undefined when it is not JSON). */
  body: T;
  text: string;
}

interface ErrorBody {
  error: { code: string; message: string; issues?: { field: string; message: string }[] };
}

type Plan = inferRouterOutputs<AppRouter>['release']['plan'];

interface Schema {
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
}

interface Operation {
  parameters?: { name: string; in: string; required: boolean; schema?: Schema }[];
  requestBody?: { required: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
}

interface OpenApiDocument {
  openapi: string;
  servers: unknown;
  security: unknown;
  components: { securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
}

describe('REST API under /api/v1', () => {
  let engine: TestEngine;
  const logLines: string[] = [];

  beforeAll(async () => {
    engine = await startTestEngine({
      waves: [['a']],
      bakeSeconds: 1,
      api: {
        logger: createApiLogger({ level: 'debug', destination: { write: (line: string) => logLines.push(line) } }),
        metrics: { releasesCacheMs: 0 },
      },
    });
  });
  afterAll(async () => {
    await engine?.close();
  });

  /** What `curl -X <method> <url> -H 'authorization: Bearer ..' -d '<body>'` gets. */
  async function curl<T = ErrorBody>(
    method: 'GET' | 'POST',
    path: string,
    options: { token?: string | undefined; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const res = await fetch(`${engine.apiUrl}${path}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined
        ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
        : {}),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, headers: res.headers, body: body as T, text };
  }

  async function releasesWithOutcome(outcome: string): Promise<number> {
    const { text } = await curl('GET', '/metrics');
    const match = new RegExp(`^release_engine_releases\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
    return match ? Number(match[1]) : NaN;
  }

  it('starts a release with POST /release/start and follows it with GET /release/get until it succeeds', async () => {
    const { service } = engine;
    const succeededBefore = await releasesWithOutcome('succeeded');
    expect(succeededBefore).toBeGreaterThanOrEqual(0);

    const started = await curl<{ releaseId: string; workflowId: string }>('POST', '/api/v1/release/start', {
      token: engine.tokens.ci,
      body: { service, version: '1.1.0', releaseId: 'rest-1' },
    });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ releaseId: 'rest-1', workflowId: `release/${service}/rest-1` });

    let status: Reply<ReleaseView> | undefined;
    await waitUntil(async () => {
      status = await curl<ReleaseView>('GET', `/api/v1/release/get?service=${service}&releaseId=rest-1`, {
        token: engine.tokens.viewer,
      });
      return status.status === 200 && status.body?.outcome !== undefined;
    }, 60_000);
    expect(status?.body).toMatchObject({ stage: 'succeeded', outcome: { result: 'succeeded' }, requestedBy: 'ci' });
    expect(status?.body.regions).toHaveLength(1);

    // The same query as POST with a JSON body answers the same release.
    const posted = await curl<ReleaseView>('POST', '/api/v1/release/get', {
      token: engine.tokens.viewer,
      body: { service, releaseId: 'rest-1' },
    });
    expect(posted.status).toBe(200);
    expect(posted.body.outcome).toEqual(status?.body.outcome);

    // Releases by outcome in /metrics come from Temporal visibility, which catches up shortly after the release.
    await waitUntil(async () => (await releasesWithOutcome('succeeded')) >= succeededBefore + 1, 15_000);
  });

  it('reads query parameters with the input schema: numeric-looking ids stay strings, numbers and booleans parse', async () => {
    const plan = await curl<Plan>(
      'GET',
      `/api/v1/release/plan?service=${engine.service}&version=1.10.0&releaseId=12345&bakeSeconds=7&queue=true`,
      { token: engine.tokens.viewer },
    );
    expect(plan.status).toBe(200);
    expect(plan.body.plan).toMatchObject({ version: '1.10.0', releaseId: '12345' });
    expect(plan.body.plan.canary.steps.every((s) => s.bakeSeconds === 7)).toBe(true);

    const text = await curl('GET', `/api/v1/release/plan?service=${engine.service}&version=1.1.0&bakeSeconds=soon`, {
      token: engine.tokens.viewer,
    });
    expect(text.status).toBe(400);
    expect(text.body.error.issues).toEqual([expect.objectContaining({ field: 'bakeSeconds' })]);
  });

  it('answers a malformed body with 400 naming each bad field, and invalid JSON with 400', async () => {
    const bad = await curl('POST', '/api/v1/release/start', {
      token: engine.tokens.ci,
      body: { service: engine.service, version: 'banana', bakeSeconds: 'ten', releaseId: 'rest-bad' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_REQUEST');
    expect(bad.body.error.issues?.map((i) => i.field).sort()).toEqual(['bakeSeconds', 'version']);
    expect(bad.body.error.message).toMatch(/version/);
    expect(bad.text).not.toMatch(/at .*\.ts:\d+/); // no stack trace

    const notJson = await curl('POST', '/api/v1/release/start', { token: engine.tokens.ci, body: '{"service": ' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('PARSE_ERROR');
    expect(notJson.body.error.message).toMatch(/not valid JSON/);

    // curl -d without a content type still sends JSON that is read as such.
    const res = await fetch(`${engine.apiUrl}/api/v1/release/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${engine.tokens.ci}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ service: engine.service, version: 'banana' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /must be a semantic version[\s\S]*at version/,
    );
  });

  it('answers 401 without a token, 403 naming the role, and the same errors as /trpc', async () => {
    const input = { service: engine.service, version: '1.1.0', releaseId: 'rest-auth' };
    const none = await curl('POST', '/api/v1/release/start', { body: input });
    expect(none.status).toBe(401);
    expect(none.body.error).toEqual({
      code: 'UNAUTHORIZED',
      message: 'send a bearer token: Authorization: Bearer <token>',
    });

    const viewer = await curl('POST', '/api/v1/release/start', { token: engine.tokens.viewer, body: input });
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.code).toBe('FORBIDDEN');
    expect(viewer.body.error.message).toMatch(/viewer may not do this: it needs the pipeline role/);

    const missing = await curl('GET', `/api/v1/release/get?service=${engine.service}&releaseId=never`, {
      token: engine.tokens.viewer,
    });
    const viaTrpc = await engine.rawCall(
      'release.get',
      { service: engine.service, releaseId: 'never' },
      engine.tokens.viewer,
      'GET',
    );
    expect(missing.status).toBe(404);
    expect(viaTrpc.status).toBe(404);
    expect(missing.body.error).toEqual({ code: 'NOT_FOUND', message: viaTrpc.body.error?.message });
  });

  it('answers 405 naming the method for a mutation read with GET, and 404 for an unknown procedure', async () => {
    const get = await curl('GET', '/api/v1/release/start', { token: engine.tokens.ci });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(get.body.error.message).toBe('release.start is a mutation: use POST');

    const unknown = await curl('POST', '/api/v1/release/nothing', { token: engine.tokens.ci, body: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(
      /no procedure at \/api\/v1\/release\/nothing; see \/api\/v1\/openapi.json/,
    );
  });

  it('serves an OpenAPI 3.1 document listing every query and mutation of the router', async () => {
    const doc = await curl<OpenApiDocument>('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(doc.body.servers).toEqual([{ url: '/api/v1' }]);
    expect(doc.body.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.body.security).toEqual([{ bearerAuth: [] }]);

    // The router's own list, so this stays true as procedures are added.
    const procedures = Object.entries(
      appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
    )
      .filter(([, p]) => p._def.type !== 'subscription')
      .map(([path, p]) => [path, p._def.type] as const);
    expect(procedures.length).toBeGreaterThan(10);
    const expectedPaths = procedures.map(([path]) => `/${path.replaceAll('.', '/')}`).sort();
    expect(Object.keys(doc.body.paths).sort()).toEqual(expectedPaths);
    for (const [path, type] of procedures) {
      const item = doc.body.paths[`/${path.replaceAll('.', '/')}`] ?? {};
      expect(Object.keys(item).sort(), path).toEqual(type === 'query' ? ['get', 'post'] : ['post']);
      expect(item.post?.responses['200'], path).toBeDefined();
      expect(item.post?.responses['403'], path).toBeDefined();
    }

    const parameters = doc.body.paths['/release/get']?.get?.parameters ?? [];
    expect(parameters.map((p) => [p.name, p.in, p.required, p.schema?.type])).toEqual([
      ['service', 'query', true, 'string'],
      ['releaseId', 'query', true, 'string'],
    ]);
    const start = doc.body.paths['/release/start']?.post?.requestBody;
    expect(start?.required).toBe(true);
    const schema = start?.content['application/json']?.schema;
    expect(schema).toMatchObject({ type: 'object', required: ['service', 'version'] });
    expect(schema?.properties?.bakeSeconds).toMatchObject({ type: 'integer' });
    expect(schema?.properties?.version).toMatchObject({ type: 'string' });
  });

  describe('operations', () => {
    it('returns a request id (the caller’s when sane, else a fresh one) and logs each request with it', async () => {
      const mine = await curl('GET', `/api/v1/release/get?service=${engine.service}&releaseId=never`, {
        token: engine.tokens.viewer,
        headers: { 'x-request-id': 'ci-run-4711.step-3' },
      });
      expect(mine.headers.get('x-request-id')).toBe('ci-run-4711.step-3');

      const forged = await curl('GET', '/healthz', { headers: { 'x-request-id': 'x" injected="1' } });
      const fresh = forged.headers.get('x-request-id');
      expect(fresh).toMatch(/^[0-9a-f-]{36}$/);

      const line = logLines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.reqId === 'ci-run-4711.step-3');
      expect(line).toMatchObject({
        level: 30,
        method: 'GET',
        path: '/api/v1/release/get',
        procedure: 'release.get',
        transport: 'rest',
        status: 404,
        principal: 'viewer',
      });
      expect(line?.durationMs).toEqual(expect.any(Number));
      expect(logLines.some((l) => (JSON.parse(l) as { reqId?: string }).reqId === fresh)).toBe(true);
    });

    it('never writes a token to the log or the metrics, and labels only procedures the router has', async () => {
      const guess = `guess-${Date.now()}`;
      const madeUp = `made-up-${Date.now()}`;
      await curl('POST', '/api/v1/release/start', { token: guess, body: {} });
      await engine.rawCall('release.get', { service: engine.service, releaseId: 'never' }, guess, 'GET');
      await curl('POST', `/api/v1/${madeUp}`, { token: engine.tokens.ci, body: {} });
      await engine.rawCall(`release.${madeUp}`, {}, engine.tokens.ci);

      const metrics = (await curl('GET', '/metrics')).text;
      const log = logLines.join('\n');
      for (const secret of [guess, ...Object.values(engine.tokens)]) {
        expect(log).not.toContain(secret);
        expect(metrics).not.toContain(secret);
      }
      expect(log).not.toMatch(/authorization|bearer/i);
      // A path a caller made up is in the log line's path (what was asked), but never becomes a metrics label.
      expect(log).toContain(`/api/v1/${madeUp}`);
      expect(metrics).not.toContain(madeUp);
      expect(metrics).toContain(
        'release_engine_api_requests_total{procedure="(unknown)",type="unknown",code="404",transport="rest"}',
      );
      expect(metrics).toContain(
        'release_engine_api_requests_total{procedure="(unknown)",type="unknown",code="404",transport="trpc"}',
      );
    });

    it('exports per-procedure request counts and latency histograms labelled by procedure, type and code', async () => {
      const before = await curl('GET', '/metrics');
      const count = (text: string, labels: string) => {
        const match = new RegExp(`^release_engine_api_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(text);
        return match ? Number(match[1]) : 0;
      };
      const getRest = 'procedure="release.get",type="query",code="404",transport="rest"';
      const getTrpc = 'procedure="release.get",type="query",code="404",transport="trpc"';
      const startDenied = 'procedure="release.start",type="mutation",code="403",transport="rest"';
      const input = { service: engine.service, releaseId: 'never' };

      await curl('POST', '/api/v1/release/get', { token: engine.tokens.viewer, body: input });
      await curl('POST', '/api/v1/release/get', { token: engine.tokens.viewer, body: input });
      await engine.rawCall('release.get', input, engine.tokens.viewer, 'GET');
      await curl('POST', '/api/v1/release/start', { token: engine.tokens.viewer, body: {} });

      const after = await curl('GET', '/metrics');
      expect(after.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(count(after.text, getRest) - count(before.text, getRest)).toBe(2);
      expect(count(after.text, getTrpc) - count(before.text, getTrpc)).toBe(1);
      expect(count(after.text, startDenied) - count(before.text, startDenied)).toBe(1);
      const observed = (text: string) => {
        const match = new RegExp(
          `^release_engine_api_request_duration_seconds_count\\{${getRest}\\} (\\d+)$`,
          'm',
        ).exec(text);
        return match ? Number(match[1]) : 0;
      };
      expect(observed(after.text) - observed(before.text)).toBe(2);
      expect(after.text).toMatch(
        /^release_engine_api_request_duration_seconds_bucket\{le="0\.5",procedure="release\.get",type="query",code="404",transport="rest"\} \d+$/m,
      );
      for (const outcome of ['succeeded', 'rolled-back', 'failed', 'in-progress']) {
        expect(after.text).toMatch(new RegExp(`^release_engine_releases\\{outcome="${outcome}"\\} \\d+$`, 'm'));
      }
    });
  });
});
