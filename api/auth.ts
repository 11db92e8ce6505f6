// Bearer-token authentication. The tokens file holds only sha256 hashes of tokens, each with its principal and
// roles; a presented token is hashed and compared in constant time against every entry. Tokens are never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type Principal, PrincipalId, Role } from '../domain/roles';
import { cookieValue, CSRF_HEADER, csrfMatches, SESSION_COOKIE, type Session, type SessionStore } from './sessions';

export { Role, type Principal } from '../domain/roles';

export const TokensFile = z.strictObject({
  tokens: z.array(
    z.strictObject({
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the hex sha256 of the token'),
      principal: PrincipalId,
      roles: z.array(Role).min(1),
    }),
  ),
});
export type TokensFile = z.infer<typeof TokensFile>;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class TokenAuthenticator {
  private readonly entries: { hash: Buffer; principal: Principal }[];

  constructor(file: TokensFile) {
    this.entries = file.tokens.map((t) => ({
      hash: Buffer.from(t.sha256, 'hex'),
      principal: { id: t.principal, roles: [...t.roles] },
    }));
  }

  static fromFile(path: string): TokenAuthenticator {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read the API tokens file ${path}: ${(err as Error).message}`);
    }
    const parsed = TokensFile.safeParse(raw);
    if (!parsed.success) throw new Error(`the API tokens file ${path} is invalid:\n${z.prettifyError(parsed.error)}`);
    return new TokenAuthenticator(parsed.data);
  }

  /** The principal holding `token`, or undefined. Looks at every entry, so timing does not reveal which matched. */
  authenticate(token: string): Principal | undefined {
    const presented = Buffer.from(hashToken(token), 'hex');
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(presented, entry.hash) && !found) found = entry.principal;
    }
    return found;
  }
}

/** Extracts the token from an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Who a request comes from: no credentials; a bearer token and whose it is (undefined: nobody's); or a web console
 * session (sessions.ts), with whether the request may act (a read, or a change carrying the session's CSRF token).
 */
export type RequestAuth =
  | { token: undefined; session?: undefined }
  | { token: string; principal: Principal | undefined; session?: undefined }
  | { token: undefined; session: Session; csrfOk: boolean };

const resolved = new WeakMap<object, RequestAuth>();
const READS = new Set(['GET', 'HEAD']);

/**
 * Resolves the request's credentials once per request (the failed-auth gate and the tRPC/REST context both ask),
 * so a token is hashed and compared against the tokens file a single time. A bearer token wins over a cookie.
 */
export function requestAuth(
  req: {
    method?: string;
    headers: { authorization?: string | undefined; cookie?: string | undefined } & IncomingHeaders;
  },
  authenticator: TokenAuthenticator,
  sessions?: SessionStore,
): RequestAuth {
  let auth = resolved.get(req);
  if (!auth) {
    const token = bearerToken(req.headers.authorization);
    const session = token === undefined ? sessions?.get(cookieValue(req.headers.cookie, SESSION_COOKIE)) : undefined;
    if (session) {
      const presented = req.headers[CSRF_HEADER];
      const csrfOk =
        READS.has(req.method ?? 'GET') || csrfMatches(session, typeof presented === 'string' ? presented : undefined);
      auth = { token: undefined, session, csrfOk };
    } else {
      auth = token === undefined ? { token } : { token, principal: authenticator.authenticate(token) };
    }
    resolved.set(req, auth);
  }
  return auth;
}

type IncomingHeaders = Record<string, string | string[] | undefined>;
