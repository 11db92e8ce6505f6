// Methods the API answers, per mount, and plain answers for everything else: an unknown method on a known route is
// 405 with an Allow header (never a 500: tRPC's adapter throws on TRACE), an unknown route is 404, and an error that
// reaches express itself gets a plain message instead of an HTML page with a stack trace.
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { ErrorRequestHandler, RequestHandler } from 'express';

/** Answers 405 with `Allow` to any method not in `allowed` (HEAD is allowed wherever GET is), in the mount's shape. */
export function allowMethods(allowed: readonly string[], shape: 'trpc' | 'plain'): RequestHandler {
  const methods = new Set(allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed);
  const allow = allowed.join(', ');
  return (req, res, next) => {
    if (methods.has(req.method)) return next();
    res.setHeader('Allow', allow);
    const message = `the method ${req.method.slice(0, 20)} is not allowed here; use ${allowed.join(' or ')}`;
    if (shape === 'trpc') {
      res.status(405).json({
        error: {
          message,
          code: TRPC_ERROR_CODES_BY_KEY.METHOD_NOT_SUPPORTED,
          data: { code: 'METHOD_NOT_SUPPORTED', httpStatus: 405 },
        },
      });
      return;
    }
    res.status(405).type('text/plain').send(`${message}\n`);
  };
}

/** The last route: a plain 404 that does not echo the path (it may hold a token). */
export const notFound: RequestHandler = (_req, res) => {
  res
    .status(404)
    .type('text/plain')
    .send(
      'no such endpoint; the API serves the web console at /, /session, /trpc, /api/v1 (see /api/v1/openapi.json), /codec, /healthz, /readyz, /metrics\n',
    );
};

/** The last error handler: 4xx from express's body parsers in words, anything else a plain 500 (logged by the caller). */
export function plainErrors(onServerError: (err: unknown) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res
        .status(status)
        .type('text/plain')
        .send(`cannot read the request: ${(err as Error).message}\n`);
      return;
    }
    onServerError(err);
    res.status(500).type('text/plain').send('internal error; see the API log\n');
  };
}
