// The web console's side of the API: sign-in (an API token exchanged for a session cookie), the signed-in person,
// sign-out, and the console's files (web/, built into web/dist by scripts/build-web.mjs), served with a strict
// Content-Security-Policy: same origin only, no inline script, no framing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import { hashToken, requestAuth, type TokenAuthenticator } from './auth';
import { allowMethods } from './http-methods';
import { notePrincipal } from './observability';
import { clientKey, type FailedAuthLimiter } from './rate-limit';
import { CSRF_HEADER, SESSION_COOKIE, type Session, type SessionStore } from './sessions';

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export interface ConsoleOptions {
  authenticator: TokenAuthenticator;
  sessions: SessionStore;
  limiter: FailedAuthLimiter;
}

/** `/session`: POST signs in with `{ token }`, GET says who is signed in, DELETE signs out. */
export function sessionRoutes({ authenticator, sessions, limiter }: ConsoleOptions): Router {
  const router = express.Router();
  router.use(allowMethods(['GET', 'POST', 'DELETE'], 'plain'));
  router.use(express.json({ limit: '4kb' }));

  router.post('/', (req, res) => {
    const client = clientKey(req.ip ?? req.socket.remoteAddress);
    const token: unknown = (req.body as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token.trim() === '') {
      fail(res, 400, 'token: paste your API token (the one relctl uses) to sign in');
      return;
    }
    const wait = limiter.blockedFor(client, hashToken(token.trim()));
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      fail(res, 429, `too many failed sign-ins from your address; try again in ${wait} seconds`);
      return;
    }
    const principal = authenticator.authenticate(token.trim());
    if (!principal) {
      limiter.failed(client);
      fail(res, 401, 'token: this token belongs to no one; check it, or ask an admin for one');
      return;
    }
    limiter.succeeded(client, hashToken(token.trim()));
    notePrincipal(req, principal.id);
    const session = sessions.create(principal);
    res.setHeader('Set-Cookie', cookie(req, session.id, 24 * 3600));
    res.json(whoami(session));
  });

  router.get('/', (req, res) => {
    const auth = requestAuth(req, authenticator, sessions);
    if (!auth.session) {
      fail(res, 401, 'not signed in');
      return;
    }
    res.json(whoami(auth.session));
  });

  router.delete('/', (req, res) => {
    const auth = requestAuth(req, authenticator, sessions);
    if (auth.session && !auth.csrfOk) {
      fail(res, 403, `signing out needs the ${CSRF_HEADER} header; reload the console and try again`);
      return;
    }
    if (auth.session) sessions.delete(auth.session.id);
    res.setHeader('Set-Cookie', cookie(req, '', 0));
    res.status(204).end();
  });
  return router;
}

/** The console's files, or a plain 503 saying how to build them. */
export function consoleFiles(dir: string): Router {
  const router = express.Router();
  router.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });
  router.get('/', (_req, res, next) => {
    if (existsSync(join(dir, 'index.html'))) return next();
    res
      .status(503)
      .type('text/plain')
      .send('the web console is not built; `npm start` builds it (or run: node scripts/build-web.mjs)\n');
  });
  router.use(express.static(dir, { index: 'index.html', fallthrough: true, maxAge: 0 }));
  return router;
}

function whoami(session: Session) {
  return { principal: session.principal.id, roles: session.principal.roles, csrf: session.csrf };
}

function cookie(req: Request, value: string, maxAgeSeconds: number): string {
  // Secure whenever the console is reached over TLS (directly or, with trust proxy set, through a proxy).
  return [
    `${SESSION_COOKIE}=${value}`,
    'HttpOnly',
    'SameSite=Strict',
    'Path=/',
    `Max-Age=${maxAgeSeconds}`,
    ...(req.secure ? ['Secure'] : []),
  ].join('; ');
}

function fail(res: Response, status: number, message: string) {
  res.status(status).json({ error: { message } });
}
