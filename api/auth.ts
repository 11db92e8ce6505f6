// Bearer-token authentication. The tokens file holds only sha256 hashes of tokens, each with its principal and
// roles; a presented token is hashed and compared in constant time against every entry. Tokens are never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type Principal, PrincipalId, Role } from '../domain/roles';

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

/** What a request's Authorization header says: no token, a token and whose it is (undefined: nobody's). */
export type RequestAuth = { token: undefined } | { token: string; principal: Principal | undefined };

const resolved = new WeakMap<object, RequestAuth>();

/**
 * Resolves the request's bearer token once per request (the failed-auth gate and the tRPC/REST context both ask),
 * so a token is hashed and compared against the tokens file a single time.
 */
export function requestAuth(
  req: { headers: { authorization?: string | undefined } },
  authenticator: TokenAuthenticator,
): RequestAuth {
  let auth = resolved.get(req);
  if (!auth) {
    const token = bearerToken(req.headers.authorization);
    auth = token === undefined ? { token } : { token, principal: authenticator.authenticate(token) };
    resolved.set(req, auth);
  }
  return auth;
}
