// What operators see of the API: a request id on every request and response, one structured JSON log line per
// request (pino), and Prometheus metrics at /metrics.
//
// Labels and log fields come only from what the server knows, never from what a caller typed: a procedure label
// is a path of the router (anything else is "(unknown)"), the type is the procedure's own, the code is the HTTP
// status sent. Tokens and the Authorization header are never logged (the logger also redacts them, should a
// header object ever reach it).
//
// "Releases by outcome" is a gauge read from Temporal visibility at scrape time (one count per outcome, cached
// for a few seconds), not a counter of outcomes the API happened to see: the same release is read by many
// release.get calls (and by none, when nobody asks), so counting at the API would double-count or miss. Temporal
// visibility already knows every release and its ReleaseStage search attribute, so the number is exact and costs
// four cheap count calls per cache period. It counts the releases Temporal still keeps (namespace retention), so
// it can go down when old releases are deleted; use it as a level, not with rate().
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { AnyTRPCRouter } from '@trpc/server';
import type { Request, RequestHandler } from 'express';
import { pino, type DestinationStream, type Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ReleaseStage } from '../workflows/search-attributes';

export type { Logger } from 'pino';

/** Where a procedure call came in. */
export type Transport = 'trpc' | 'rest';

/** A procedure as metrics and logs name it: a router path (or "(unknown)") and its type. */
export interface ProcedureLabel {
  path: string;
  type: 'query' | 'mutation' | 'subscription' | 'unknown';
}

export const UNKNOWN_PROCEDURE: ProcedureLabel = { path: '(unknown)', type: 'unknown' };

/** What the API learns about one request while handling it; read when the response is finished. */
interface RequestRecord {
  id: string;
  transport?: Transport;
  procedures: ProcedureLabel[];
  /** HTTP status per procedure path that failed, when a batch answers several calls in one response. */
  failures: Map<string, number>;
  principal?: string;
  /** A server-side error (5xx) to log with the request. */
  error?: unknown;
}

const records = new WeakMap<Request, RequestRecord>();

function recordOf(req: Request): RequestRecord {
  let record = records.get(req);
  if (!record) {
    record = { id: '', procedures: [], failures: new Map() };
    records.set(req, record);
  }
  return record;
}

/** Names the procedures a request calls (for its log line and metrics). */
export function noteProcedures(req: Request, transport: Transport, procedures: ProcedureLabel[]): void {
  const record = recordOf(req);
  record.transport = transport;
  record.procedures = procedures;
}

/** Names who made the request, once the bearer token resolved to a principal. */
export function notePrincipal(req: Request, principal: string): void {
  recordOf(req).principal = principal;
}

/** Records that one procedure of the request failed, with the HTTP status its error maps to (and the error, if 5xx). */
export function noteFailure(req: Request, path: string | undefined, status: number, error?: unknown): void {
  const record = recordOf(req);
  if (path) record.failures.set(path, status);
  if (status >= 500 && error !== undefined) record.error = error;
}

/** The request id of a request (set by the request observer). */
export function requestId(req: Request): string {
  return recordOf(req).id;
}

// The codec endpoint takes a token as a path segment (/codec/t/<token>/decode). Express routes paths without regard
// to case and with repeated slashes as typed, so the match is as loose; percent-escapes stay as sent.
const URL_TOKEN = /(\/codec\/+t\/+)[^/?#]*/gi;

/** A request path fit for a log line: any codec URL token replaced by `<redacted>`. */
export function redactPath(path: string): string {
  return path.replace(URL_TOKEN, '$1<redacted>');
}

// A caller's request id is kept when it is a plain token (uuids, trace ids, CI run ids); anything else, e.g. with
// spaces or control characters that could forge log lines, is replaced by a fresh uuid.
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;

export interface LoggerOptions {
  level?: string;
  /** Where lines go (default: stdout). Tests pass a stream to read them. */
  destination?: DestinationStream;
}

/** The API's JSON logger, with authorization material redacted wherever it might appear. */
export function createApiLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'api',
      level: options.level ?? 'info',
      redact: {
        paths: [
          'authorization',
          'token',
          'headers.authorization',
          'headers.cookie',
          'headers["proxy-authorization"]',
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["proxy-authorization"]',
          '*.authorization',
          '*.token',
          '*.headers.authorization',
          '*.headers.cookie',
        ],
        censor: '[redacted]',
      },
    },
    options.destination,
  );
}

export interface MetricsOptions {
  /** Read releases by outcome from this Temporal client's visibility; without it the gauge is left out. */
  temporal?: Client;
  /** How long a visibility count is reused, in ms (default 15000). */
  releasesCacheMs?: number;
  /** Also export Node process metrics (heap, event loop lag, ...); the server does, tests do not. */
  processMetrics?: boolean;
  logger?: Logger;
}

/** Release outcomes as the release workflow records them in its ReleaseStage search attribute. */
const OUTCOMES = ['succeeded', 'rolled-back', 'failed', 'aborted'] as const;
// The workflow type of releases (the function's name in workflows/release/index.ts, whose body the API must not import;
// test/acceptance/rest-api.test.ts fails if the two drift apart). The coordinator and emergency rollbacks set
// ReleaseStage too, hence the filter.
const RELEASE_WORKFLOW_TYPE = 'releaseWorkflow';

/** The API's Prometheus registry: per-procedure request counts and latencies, and releases by outcome. */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'procedure' | 'type' | 'code' | 'transport'>;
  private readonly duration: Histogram<'procedure' | 'type' | 'code' | 'transport'>;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'release_engine_api_requests_total',
      help: 'API procedure calls, by procedure, procedure type, HTTP status code and transport (trpc or rest).',
      labelNames: ['procedure', 'type', 'code', 'transport'],
      registers,
    });
    this.duration = new Histogram({
      name: 'release_engine_api_request_duration_seconds',
      help: 'Time to answer an API procedure call, by procedure, procedure type, HTTP status code and transport.',
      labelNames: ['procedure', 'type', 'code', 'transport'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    if (options.temporal) this.releasesGauge(options.temporal, options.releasesCacheMs ?? 15_000, options.logger);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  observe(procedure: ProcedureLabel, code: number, transport: Transport, seconds: number): void {
    const labels = { procedure: procedure.path, type: procedure.type, code: String(code), transport };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }

  private releasesGauge(temporal: Client, cacheMs: number, logger: Logger | undefined): void {
    let cached: { at: number; counts: Promise<Record<string, number>> } | undefined;
    const countAll = async (): Promise<Record<string, number>> => {
      const count = async (query: string) => {
        const deadline = Date.now() + 2000;
        const result = await temporal.connection.withDeadline(deadline, () => temporal.workflow.count(query));
        return result.count;
      };
      const type = `WorkflowType = "${RELEASE_WORKFLOW_TYPE}"`;
      const entries = await Promise.all([
        ...OUTCOMES.map(
          async (outcome) => [outcome, await count(`${type} AND ${ReleaseStage.name} = "${outcome}"`)] as const,
        ),
        count(`${type} AND ExecutionStatus = "Running"`).then((n) => ['in-progress', n] as const),
      ]);
      return Object.fromEntries(entries);
    };
    new Gauge({
      name: 'release_engine_releases',
      help:
        'Releases known to Temporal visibility: by outcome (succeeded, rolled-back, failed, aborted) and in progress. ' +
        `Read at scrape time, cached ${cacheMs / 1000}s; bounded by the namespace's retention.`,
      labelNames: ['outcome'],
      registers: [this.registry],
      async collect() {
        const now = Date.now();
        if (!cached || now - cached.at >= cacheMs) cached = { at: now, counts: countAll() };
        const current = cached;
        try {
          const counts = await current.counts;
          for (const [outcome, n] of Object.entries(counts)) this.set({ outcome }, n);
        } catch (err) {
          // An unreachable Temporal must not break the whole scrape; the releases series are left out instead.
          if (cached === current) cached = undefined;
          this.reset();
          logger?.warn({ err }, 'cannot count releases in Temporal visibility for /metrics');
        }
      },
    });
  }
}

export interface RequestObserverOptions {
  logger: Logger;
  metrics: ApiMetrics;
}

// Probes and scrapes come every few seconds; they are logged at debug unless they fail.
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Gives each request an id (a sane incoming X-Request-Id, or a fresh uuid) returned as X-Request-Id, and when the
 * response is done writes its log line and updates the procedure metrics.
 */
export function requestObserver({ logger, metrics }: RequestObserverOptions): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const incoming = req.get('x-request-id');
    const record = recordOf(req);
    record.id = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', record.id);

    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A response that never finished was cut off by the client.
      const status = res.writableFinished ? res.statusCode : 499;
      report(req, record, status, seconds, { logger, metrics });
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
}

function report(
  req: Request,
  record: RequestRecord,
  status: number,
  seconds: number,
  { logger, metrics }: RequestObserverOptions,
) {
  for (const procedure of record.procedures) {
    // In a batch each call has its own outcome: the failures recorded for it, else success (the 207 is the batch's).
    const code = record.failures.get(procedure.path) ?? (status === 207 ? 200 : status);
    metrics.observe(procedure, code, record.transport ?? 'trpc', seconds);
  }
  // The path without the query string (inputs of GET calls live there); capped, as it is the caller's text.
  const path = redactPath(req.originalUrl.split('?')[0] ?? '').slice(0, 200);
  const fields = {
    reqId: record.id,
    method: req.method,
    path,
    ...(record.procedures.length > 0 ? { procedure: record.procedures.map((p) => p.path).join(',') } : {}),
    ...(record.transport ? { transport: record.transport } : {}),
    status,
    durationMs: Math.round(seconds * 1e4) / 10,
    ...(record.principal ? { principal: record.principal } : {}),
  };
  if (status >= 500)
    logger.error({ ...fields, ...(record.error !== undefined ? { err: record.error } : {}) }, 'request failed');
  else if (QUIET_PATHS.has(path)) logger.debug(fields, 'request');
  else logger.info(fields, 'request');
}

/**
 * Names the procedures of a /trpc request (`/trpc/release.get` or a batch `/trpc/release.get,release.plan`) for
 * its log line and metrics. Paths that are not the router's are "(unknown)", so callers cannot mint labels.
 */
export function trpcCallLabels(router: AnyTRPCRouter): RequestHandler {
  const known = new Map<string, ProcedureLabel['type']>(
    Object.entries(router._def.procedures as Record<string, { _def: { type: ProcedureLabel['type'] } }>).map(
      ([path, procedure]) => [path, procedure._def.type],
    ),
  );
  return (req, _res, next) => {
    let paths: string[];
    try {
      paths = decodeURIComponent(req.path.slice(1)).split(',');
    } catch {
      paths = [''];
    }
    const labels = paths.slice(0, 50).map((path) => {
      const type = known.get(path);
      return type ? { path, type } : UNKNOWN_PROCEDURE;
    });
    noteProcedures(req, 'trpc', labels);
    next();
  };
}

/** GET /metrics in the Prometheus text format. */
export function metricsHandler(metrics: ApiMetrics): RequestHandler {
  return async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(body);
  };
}
