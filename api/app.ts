// The API's express app: tRPC under /trpc, the payload codec under /codec, liveness and readiness endpoints.
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express, { type Express } from 'express';
import { type CodecEndpointOptions, createCodecEndpoint } from './codec-endpoint';
import { type ApiDeps, createContextFactory } from './context';
import { appRouter } from './routers';

export interface AppOptions {
  /** Called for server-side errors (5xx), with the procedure path; never given tokens. */
  onServerError?: (path: string | undefined, err: Error) => void;
  /** The payload codec and who may call /codec (see api/codec-endpoint.ts); default: pass-through, dev UI origins. */
  codec?: Omit<CodecEndpointOptions, 'authenticator'>;
}

export function createApp(deps: ApiDeps, options: AppOptions = {}): Express {
  const app = express();
  app.disable('x-powered-by');

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

  app.use('/codec', createCodecEndpoint({ authenticator: deps.authenticator, ...options.codec }));

  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      createContext: createContextFactory(deps),
      maxBodySize: 256 * 1024,
      onError({ error, path }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') options.onServerError?.(path, error.cause ?? error);
      },
    }),
  );

  return app;
}
