// The remote codec endpoint (Temporal's codec server protocol), so an operator's Temporal Web UI or CLI can show
// payloads the engine stores encrypted: POST <mount>/decode and <mount>/encode take and return
// `{ payloads: [{ metadata: { <key>: <base64> }, data: <base64> }] }` (protobuf JSON of Payloads), with an
// X-Namespace header the engine does not need (one keyring serves the namespace it runs in).
//
// Every call needs a principal: a bearer token in the Authorization header (the CLI's --codec-auth, any HTTP
// client), or, when `urlTokens` is on, the token as a path segment (<mount>/t/<token>/decode) from a browser on an
// allowed origin. The second exists because the Temporal Web UI cannot send one of our tokens: it sends either its
// own OIDC access token or cookies. Browsers get CORS answers for the allowed origins only.
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { hasAnyRole, type Principal, type Role } from '../domain/roles';
import { PayloadDecryptionError, UnknownPayloadKeyError } from '../providers/codec/encryption-codec';
import { bearerToken, type TokenAuthenticator } from './auth';

/** Origins of the Temporal dev server's Web UI (`temporal server start-dev`), the default allowed origins. */
export const DEV_UI_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];

/** Roles that may see decoded payloads (today every role reads releases). */
const READ_ROLES: readonly Role[] = ['viewer', 'operator', 'sre', 'approver', 'pipeline', 'admin'];

export interface CodecEndpointOptions {
  authenticator: TokenAuthenticator;
  /** The payload codec; without one (encryption off) payloads pass through unchanged. */
  codec?: PayloadCodec | undefined;
  /** Browser origins (scheme://host:port) allowed to call the endpoint; default DEV_UI_ORIGINS. */
  allowedOrigins?: readonly string[] | undefined;
  /** Accept <mount>/t/<token>/{encode,decode} from allowed origins (for a Web UI that cannot send a token). */
  urlTokens?: boolean | undefined;
  /** Called with unexpected errors (answered 500); never given tokens or payloads. */
  onServerError?: ((err: Error) => void) | undefined;
}

/** The endpoint's options from the API's configuration (CODEC_CORS_ORIGINS, CODEC_URL_TOKENS). */
export function codecOptionsFromEnv(
  env: { CODEC_CORS_ORIGINS: string[]; CODEC_URL_TOKENS: boolean },
  codec: PayloadCodec | undefined,
): Omit<CodecEndpointOptions, 'authenticator'> {
  return {
    codec,
    allowedOrigins: env.CODEC_CORS_ORIGINS,
    urlTokens: env.CODEC_URL_TOKENS,
    onServerError: (err) => console.error('error in the codec endpoint:', err),
  };
}

// Protobuf JSON writes bytes as base64 (standard or URL-safe, padding optional).
const Base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const RequestBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), Base64).nullish(), data: Base64.nullish() })).max(10_000),
});
type JsonPayload = z.infer<typeof RequestBody>['payloads'][number];

function fromJson(payload: JsonPayload) {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

function toJson(payload: Awaited<ReturnType<PayloadCodec['decode']>>[number]) {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value ?? []).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}

function plain(res: Response, status: number, message: string) {
  res.status(status).type('text/plain').send(`${message}\n`);
}

/** An express Router serving the codec protocol; mount it at `/codec`. */
export function createCodecEndpoint(options: CodecEndpointOptions): Router {
  const allowedOrigins = new Set(options.allowedOrigins ?? DEV_UI_ORIGINS);
  const router = Router();

  // CORS first, so a browser can read every answer (a 401 included) from an allowed origin.
  router.use((req, res, next) => {
    const origin = req.headers.origin;
    res.vary('Origin');
    if (origin && allowedOrigins.has(origin)) res.setHeader('Access-Control-Allow-Origin', origin);
    if (req.method !== 'OPTIONS') return next();
    // Preflight: browsers send no credentials with it, so it needs none.
    if (origin && !allowedOrigins.has(origin)) {
      return plain(res, 403, `origin ${origin} may not call the codec endpoint (allowed: see CODEC_CORS_ORIGINS)`);
    }
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Namespace');
    res.setHeader('Access-Control-Max-Age', '600');
    res.setHeader('Allow', 'POST, OPTIONS');
    res.status(204).end();
  });

  const authenticate = (req: Request, res: Response, urlToken: string | undefined): Principal | undefined => {
    res.setHeader('Cache-Control', 'no-store');
    let token: string | undefined;
    if (urlToken !== undefined) {
      const origin = req.headers.origin;
      if (!origin || !allowedOrigins.has(origin)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="codec"');
        plain(res, 401, 'a token in the URL is accepted only from the Temporal UI (an allowed origin)');
        return undefined;
      }
      token = urlToken;
    } else {
      token = bearerToken(req.headers.authorization);
    }
    const principal = token === undefined ? undefined : options.authenticator.authenticate(token);
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="codec"');
      plain(
        res,
        401,
        token === undefined
          ? 'authentication required: send Authorization: Bearer <API token>'
          : 'the token is not valid; check it, or ask for a new one',
      );
    }
    return principal;
  };

  // Who is calling is settled before the body is read: an anonymous caller does not get 8 MB parsed.
  const requirePrincipal = (operation: 'encode' | 'decode', tokenInUrl: boolean) => {
    return (req: Request, res: Response, next: NextFunction) => {
      const principal = authenticate(req, res, tokenInUrl ? String(req.params.token) : undefined);
      if (!principal) return;
      if (operation === 'decode' && !hasAnyRole(principal, READ_ROLES)) {
        return plain(
          res,
          403,
          `${principal.id} cannot decode payloads: it needs one of the roles ${READ_ROLES.join(', ')}`,
        );
      }
      next();
    };
  };

  const handle = (operation: 'encode' | 'decode') => {
    return async (req: Request, res: Response) => {
      const body = RequestBody.safeParse(req.body);
      if (!body.success) {
        return plain(
          res,
          400,
          `expected a JSON body { "payloads": [{ "metadata": {...}, "data": "<base64>" }] } (content-type application/json):\n${z.prettifyError(body.error)}`,
        );
      }
      const payloads = body.data.payloads.map(fromJson);
      const codec = options.codec;
      if (!codec) return res.json({ payloads: payloads.map(toJson) });
      if (operation === 'encode') return res.json({ payloads: (await codec.encode(payloads)).map(toJson) });
      const decoded = [];
      for (const [index, payload] of payloads.entries()) {
        try {
          decoded.push(...(await codec.decode([payload])));
        } catch (err) {
          if (err instanceof UnknownPayloadKeyError || err instanceof PayloadDecryptionError) {
            return plain(res, 400, `payload ${index}: ${err.message}`);
          }
          throw err;
        }
      }
      res.json({ payloads: decoded.map(toJson) });
    };
  };

  const json = express.json({ limit: '8mb' });
  for (const operation of ['encode', 'decode'] as const) {
    router.post(`/${operation}`, requirePrincipal(operation, false), json, handle(operation));
    if (options.urlTokens)
      router.post(`/t/:token/${operation}`, requirePrincipal(operation, true), json, handle(operation));
  }

  // Bodies express could not read (malformed JSON, too large) get a plain answer, not an HTML stack trace.
  router.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return plain(res, status, `cannot read the request body: ${(err as Error).message}`);
    }
    options.onServerError?.(err instanceof Error ? err : new Error(String(err)));
    return plain(res, 500, 'internal error in the codec endpoint; see the API log');
  });

  return router;
}
