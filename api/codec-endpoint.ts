// The remote codec endpoint (Temporal's codec server protocol), so an operator's Temporal Web UI or CLI can show
// payloads the engine stores encrypted: POST <mount>/decode and <mount>/encode take and return
// `{ payloads: [{ metadata: { <key>: <base64> }, data: <base64> }] }` (protobuf JSON of Payloads), with an
// X-Namespace header the engine does not need (one keyring serves the namespace it runs in).
//
// Every call needs a principal: a bearer token in the Authorization header (the CLI's --codec-auth, any HTTP
// client), or, when `urlTokens` is on, the token as a path segment (<mount>/t/<token>/decode) from a browser on an
// allowed origin. The second exists because the Temporal Web UI cannot send one of our tokens: it sends either its
// own OIDC access token or cookies. Browsers get CORS answers for the allowed origins only.
//
// Decoding is reading, open to every role. Encoding seals whatever it is given under the engine's key, so a caller
// could forge payloads that the workers then open as the engine's own: it is refused unless the principal holds a
// role listed in CODEC_ENCODE_ROLES (none by default; the UI and `temporal workflow show` only decode). Unknown
// tokens count against the caller's address in the API's failed-authentication limit, whichever form they came in.
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import type { PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { hasAnyRole, type Principal, type Role } from '../domain/roles';
import { PayloadDecryptionError, UnknownPayloadKeyError } from '../providers/codec/encryption-codec';
import { bearerToken, hashToken, type TokenAuthenticator } from './auth';
import { notePrincipal } from './observability';
import { clientKey, type FailedAuthLimiter } from './rate-limit';

/** Origins of the Temporal dev server's Web UI (`temporal server start-dev`), the default allowed origins. */
export const DEV_UI_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];

/** Roles that may see decoded payloads: every role that reads releases (not the alerter, which reads nothing). */
const READ_ROLES: readonly Role[] = ['viewer', 'operator', 'sre', 'approver', 'pipeline', 'admin'];

export interface CodecEndpointOptions {
  authenticator: TokenAuthenticator;
  /** The payload codec; without one (encryption off) payloads pass through unchanged. */
  codec?: PayloadCodec | undefined;
  /** Browser origins (scheme://host:port) allowed to call the endpoint; default DEV_UI_ORIGINS. */
  allowedOrigins?: readonly string[] | undefined;
  /** Accept <mount>/t/<token>/{encode,decode} from allowed origins (for a Web UI that cannot send a token). */
  urlTokens?: boolean | undefined;
  /** Roles that may encode (seal) payloads; default none, so /encode answers 403 to everyone. */
  encodeRoles?: readonly Role[] | undefined;
  /** The API's failed-authentication limit, shared with /trpc and /api/v1; without one, nothing is limited. */
  limiter?: FailedAuthLimiter | undefined;
  /** Called with unexpected errors (answered 500); never given tokens or payloads. */
  onServerError?: ((err: Error) => void) | undefined;
}

/** The endpoint's options from the API's configuration (CODEC_CORS_ORIGINS, CODEC_URL_TOKENS). */
export function codecOptionsFromEnv(
  env: { CODEC_CORS_ORIGINS: string[]; CODEC_URL_TOKENS: boolean; CODEC_ENCODE_ROLES: Role[] },
  codec: PayloadCodec | undefined,
  onServerError: (err: Error) => void,
): Omit<CodecEndpointOptions, 'authenticator' | 'limiter'> {
  return {
    codec,
    allowedOrigins: env.CODEC_CORS_ORIGINS,
    urlTokens: env.CODEC_URL_TOKENS,
    encodeRoles: env.CODEC_ENCODE_ROLES,
    onServerError,
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
  const encodeRoles = options.encodeRoles ?? [];
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
    const token = urlToken ?? bearerToken(req.headers.authorization);
    const client = clientKey(req.ip ?? req.socket.remoteAddress);
    const tokenHash = token === undefined ? undefined : hashToken(token);
    const wait = options.limiter?.blockedFor(client, tokenHash) ?? 0;
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      plain(res, 429, `too many failed authentication attempts from your address; try again in ${wait} seconds`);
      return undefined;
    }
    if (urlToken !== undefined) {
      const origin = req.headers.origin;
      if (!origin || !allowedOrigins.has(origin)) {
        // Not looked up, but still a token presented where it is not accepted: it counts like a wrong one.
        options.limiter?.failed(client);
        res.setHeader('WWW-Authenticate', 'Bearer realm="codec"');
        plain(res, 401, 'a token in the URL is accepted only from the Temporal UI (an allowed origin)');
        return undefined;
      }
    }
    const principal = token === undefined ? undefined : options.authenticator.authenticate(token);
    if (tokenHash !== undefined) {
      if (principal) {
        options.limiter?.succeeded(client, tokenHash);
        notePrincipal(req, principal.id);
      } else {
        options.limiter?.failed(client);
      }
    }
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
      if (operation === 'encode' && !(encodeRoles.length > 0 && hasAnyRole(principal, encodeRoles))) {
        return plain(
          res,
          403,
          encodeRoles.length === 0
            ? `${principal.id} cannot encode payloads: no role may (the endpoint only decodes unless CODEC_ENCODE_ROLES names the roles that need to encode)`
            : `${principal.id} cannot encode payloads: it needs one of the roles ${encodeRoles.join(', ')} (CODEC_ENCODE_ROLES)`,
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

  // Known paths take POST (and the preflight's OPTIONS) only; anything else under the mount is not ours.
  const KNOWN_PATH = options.urlTokens ? /^\/(?:t\/[^/]+\/)?(?:encode|decode)$/ : /^\/(?:encode|decode)$/;
  router.use((req, res) => {
    if (!KNOWN_PATH.test(req.path))
      return plain(res, 404, 'the codec endpoint serves POST <mount>/decode and <mount>/encode');
    res.setHeader('Allow', 'POST, OPTIONS');
    plain(res, 405, `the method ${req.method.slice(0, 20)} is not allowed here; use POST`);
  });

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
