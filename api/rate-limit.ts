// Rate limiting of failed authentication, per client address, in process (no extra service).
//
// After `maxFailures` unknown tokens from one address within `windowMs` (a sliding window), that address gets 429
// with Retry-After for every request, and the token it sends is not even looked up: a blocked guesser learns
// nothing, however fast it sends. Successful requests never count against an address.
//
// One exception keeps a shared address (a CI runner pool behind NAT, where one job has a stale token) from
// locking out its neighbours: a token that already worked from the address within `rememberMs` still passes
// while the address is blocked. It is recognised by its sha256 among the few this address has proven to hold,
// so it is no oracle for new guesses. A valid token that was never used from the address before the block waits
// like everything else; that is the price of not checking tokens while blocked.
//
// IPv6 clients are grouped by their /64, which one host usually owns whole. Behind a reverse proxy, set
// API_TRUST_PROXY so the address is the client's, not the proxy's.
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { Request, RequestHandler, Response } from 'express';
import { hashToken, requestAuth, type TokenAuthenticator } from './auth';
import type { SessionStore } from './sessions';
import { notePrincipal } from './observability';
import { sendRestError } from './rest';

export interface AuthRateLimitOptions {
  /** Failed tokens allowed from one address within the window; the next request gets 429. Default 10. */
  maxFailures?: number;
  /** The sliding window, in ms. Default 60000. */
  windowMs?: number;
  /** How long a token that worked from an address keeps passing there while it is blocked, in ms. Default 1h. */
  rememberMs?: number;
  /** Addresses tracked at most; the least recently seen is forgotten first. Default 10000. */
  maxClients?: number;
}

interface ClientState {
  /** Times of the failures within the window, oldest first (at most maxFailures). */
  failures: number[];
  /** sha256 of tokens that worked from this address, with when that stops counting. */
  known: Map<string, number>;
}

const MAX_KNOWN_TOKENS = 16;

export class FailedAuthLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly rememberMs: number;
  private readonly maxClients: number;
  private readonly clients = new Map<string, ClientState>();

  constructor(
    options: AuthRateLimitOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.rememberMs = options.rememberMs ?? 3_600_000;
    this.maxClients = options.maxClients ?? 10_000;
    if (!(this.maxFailures >= 1 && this.windowMs > 0))
      throw new Error('the auth rate limit needs maxFailures >= 1 and a window');
  }

  /**
   * Seconds the client must wait before its next request is looked at, or 0 when it may go on. `tokenHash` is the
   * sha256 of the token it sends, if any: one that already worked from this client passes.
   */
  blockedFor(client: string, tokenHash: string | undefined): number {
    const state = this.state(client, false);
    if (!state || state.failures.length < this.maxFailures) return 0;
    const now = this.now();
    if (tokenHash !== undefined && (state.known.get(tokenHash) ?? 0) > now) return 0;
    const oldest = state.failures[0] as number;
    return Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000));
  }

  failed(client: string): void {
    const state = this.state(client, true);
    state.failures.push(this.now());
    if (state.failures.length > this.maxFailures) state.failures.shift();
  }

  succeeded(client: string, tokenHash: string): void {
    const state = this.state(client, true);
    state.known.delete(tokenHash);
    state.known.set(tokenHash, this.now() + this.rememberMs);
    if (state.known.size > MAX_KNOWN_TOKENS) state.known.delete(state.known.keys().next().value as string);
  }

  /** The client's state with expired entries dropped; moved to the back of the LRU order. */
  private state(client: string, create: true): ClientState;
  private state(client: string, create: false): ClientState | undefined;
  private state(client: string, create: boolean): ClientState | undefined {
    const now = this.now();
    let state = this.clients.get(client);
    if (state) {
      this.clients.delete(client);
      while (state.failures.length > 0 && (state.failures[0] as number) <= now - this.windowMs) state.failures.shift();
      for (const [hash, until] of state.known) if (until <= now) state.known.delete(hash);
      if (state.failures.length === 0 && state.known.size === 0 && !create) return undefined;
    } else if (create) {
      state = { failures: [], known: new Map() };
    } else {
      return undefined;
    }
    this.clients.set(client, state);
    if (this.clients.size > this.maxClients) this.clients.delete(this.clients.keys().next().value as string);
    return state;
  }
}

/** The key a client is limited by: its IPv4 address, or the /64 of its IPv6 address. */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [withoutZone = ''] = address.split('%');
  const [head = '', tail] = withoutZone.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

function sendTooMany(res: Response, transport: 'trpc' | 'rest', message: string) {
  sendError(res, transport, 429, 'TOO_MANY_REQUESTS', message);
}

function sendError(
  res: Response,
  transport: 'trpc' | 'rest',
  status: 403 | 429,
  code: 'FORBIDDEN' | 'TOO_MANY_REQUESTS',
  message: string,
) {
  if (transport === 'rest') {
    sendRestError(res, status, code, message);
    return;
  }
  // The tRPC error shape, so tRPC clients (relctl, the console) show the message.
  res.status(status).json({
    error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus: status } },
  });
}

export interface AuthGateOptions {
  authenticator: TokenAuthenticator;
  sessions?: SessionStore;
  limiter: FailedAuthLimiter;
  transport: 'trpc' | 'rest';
}

/**
 * Runs before the procedures: answers 429 to a blocked client, otherwise resolves the bearer token (for the
 * request's log line) and counts an unknown one against the client. Refusing a missing or unknown token stays the
 * procedures' job, so public procedures behave as before.
 */
export function authGate({ authenticator, sessions, limiter, transport }: AuthGateOptions): RequestHandler {
  return (req: Request, res, next) => {
    const client = clientKey(req.ip ?? req.socket.remoteAddress);
    const auth = requestAuth(req, authenticator, sessions);
    if (auth.session) {
      if (!auth.csrfOk) {
        sendError(
          res,
          transport,
          403,
          'FORBIDDEN',
          'this change came with the console session cookie but without its CSRF token; reload the console and try again',
        );
        return;
      }
      notePrincipal(req, auth.session.principal.id);
      next();
      return;
    }
    const tokenHash = auth.token === undefined ? undefined : hashToken(auth.token);
    const wait = limiter.blockedFor(client, tokenHash);
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      sendTooMany(
        res,
        transport,
        `too many failed authentication attempts from your address; try again in ${wait} seconds`,
      );
      return;
    }
    if (auth.token !== undefined && tokenHash !== undefined) {
      if (auth.principal) {
        limiter.succeeded(client, tokenHash);
        notePrincipal(req, auth.principal.id);
      } else {
        limiter.failed(client);
      }
    }
    next();
  };
}
