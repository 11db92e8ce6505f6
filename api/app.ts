// The API's express app: tRPC under /trpc, the same procedures as REST under /api/v1 (with an OpenAPI document),
// the payload codec under /codec, liveness, readiness and Prometheus metrics; every request gets a request id and a
// JSON log line.
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express, { type Express } from 'express';
import { type CodecEndpointOptions, createCodecEndpoint } from './codec-endpoint';
import { artifactDownloads } from './artifact-downloads';
import { type ApiDeps, createContextFactory } from './context';
import { allowMethods, notFound, plainErrors } from './http-methods';
import {
  ApiMetrics,
  createApiLogger,
  type Logger,
  metricsHandler,
  type MetricsOptions,
  noteFailure,
  requestObserver,
  trpcCallLabels,
} from './observability';
import { join } from 'node:path';
import { consoleFiles, sessionRoutes } from './console';
import { authGate, type AuthRateLimitOptions, FailedAuthLimiter } from './rate-limit';
import { SessionStore } from './sessions';
import { ReleaseChanges } from './changes';
import { createRestApi, expressContextOptions } from './rest';
import { appRouter } from './routers';

export interface AppOptions {
  /** Called for server-side errors (5xx), with the procedure path; never given tokens. */
  onServerError?: (path: string | undefined, err: Error) => void;
  /** Where request log lines go; without one the app logs nothing (tests). */
  logger?: Logger;
  /** Limits on failed authentication per client address. */
  rateLimit?: AuthRateLimitOptions;
  metrics?: Omit<MetricsOptions, 'temporal' | 'logger'>;
  /** Express's `trust proxy` setting: which proxies' X-Forwarded-For give the client address. */
  trustProxy?: boolean | number | string;
  /** The payload codec and who may call /codec (see api/codec-endpoint.ts); default: pass-through, dev UI origins. */
  codec?: Omit<CodecEndpointOptions, 'authenticator'>;
  /** Where the built web console is (default web/dist); false serves no console. */
  webDir?: string | false;
  /** Serve /artifacts/v1/... to hosts holding a URL a worker signed (api/artifact-downloads.ts). */
  artifactDownloads?: Parameters<typeof artifactDownloads>[0];
}

/** Where scripts/build-web.mjs puts the console. */
export const WEB_DIST = join(__dirname, '..', 'web', 'dist');

const MAX_BODY_SIZE = 256 * 1024;

export function createApp(deps: ApiDeps, options: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');
  if (options.trustProxy !== undefined) app.set('trust proxy', options.trustProxy);
  const logger = options.logger ?? createApiLogger({ level: 'silent' });
  const metrics = new ApiMetrics({ ...options.metrics, temporal: deps.temporal, logger });
  const limiter = new FailedAuthLimiter(options.rateLimit);
  const sessions = deps.sessions ?? new SessionStore();
  const changes = deps.changes ?? new ReleaseChanges(deps.temporal);
  const createContext = createContextFactory({ ...deps, sessions, changes });
  app.use(requestObserver({ logger, metrics }));

  for (const path of ['/healthz', '/readyz', '/metrics']) app.use(path, allowMethods(['GET'], 'plain'));
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      const deadline = Date.now() + 2000;
      await deps.temporal.connection.withDeadline(deadline, () => deps.temporal.workflowService.getSystemInfo({}));
      res.json({ ok: true, temporal: 'reachable' });
    } catch (err) {
      res.status(503).json({ ok: false, temporal: `unreachable: ${(err as Error).message}` });
    }
  });

  app.get('/metrics', metricsHandler(metrics));
  app.use('/codec', createCodecEndpoint({ authenticator: deps.authenticator, limiter, ...options.codec }));

  app.use(
    '/trpc',
    trpcCallLabels(appRouter),
    // tRPC's adapter answers 405 to most methods it does not serve, but 500 to TRACE; settle them all here.
    allowMethods(['GET', 'POST'], 'trpc'),
    authGate({ authenticator: deps.authenticator, sessions, limiter, transport: 'trpc' }),
    createExpressMiddleware({
      router: appRouter,
      createContext,
      maxBodySize: MAX_BODY_SIZE,
      onError({ error, path, req }) {
        noteFailure(req, path, getHTTPStatusCodeFromError(error), error.cause ?? error);
        if (error.code === 'INTERNAL_SERVER_ERROR') options.onServerError?.(path, error.cause ?? error);
      },
    }),
  );

  app.use(
    '/api/v1',
    createRestApi({
      router: appRouter,
      basePath: '/api/v1',
      title: 'release-engine API',
      version: '1',
      maxBodySize: MAX_BODY_SIZE,
      beforeCalls: [authGate({ authenticator: deps.authenticator, sessions, limiter, transport: 'rest' })],
      createContext: (req, res, call) => createContext(expressContextOptions(req, res, call)),
      ...(options.onServerError ? { onServerError: options.onServerError } : {}),
    }),
  );

  if (options.artifactDownloads) {
    app.use('/artifacts', allowMethods(['GET'], 'plain'), artifactDownloads(options.artifactDownloads));
  }
  app.use('/session', sessionRoutes({ authenticator: deps.authenticator, sessions, limiter }));
  if (options.webDir !== false) app.use(consoleFiles(options.webDir ?? WEB_DIST));

  app.use(notFound);
  app.use(
    plainErrors((err) => {
      logger.error({ err }, 'unexpected error outside the procedures');
    }),
  );
  return app;
}
