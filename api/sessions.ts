// Browser sessions for the web console. A person signs in once with their API token; the API answers with an
// httpOnly, SameSite=Strict session cookie (the page's script never holds the token) and a CSRF token that the page
// sends back in a header with every call that changes something. Sessions live in the API process: a restart signs
// everyone out, which is the safe failure. Single sign-on (OIDC) would replace only the sign-in step: see README.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from './auth';

export const SESSION_COOKIE = 'relengine_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Signed out after this long without a request, and after ABSOLUTE_MS whatever happens. */
const IDLE_MS = 8 * 3600_000;
const ABSOLUTE_MS = 24 * 3600_000;
/** Sessions kept at most (the oldest go first): a flood of sign-ins cannot grow the API's memory without bound. */
const MAX_SESSIONS = 10_000;

export interface Session {
  id: string;
  principal: Principal;
  csrf: string;
  createdAt: number;
  lastSeen: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(principal: Principal): Session {
    const at = this.now();
    const session = {
      id: randomBytes(32).toString('base64url'),
      principal,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: at,
      lastSeen: at,
    };
    this.sessions.set(session.id, session);
    while (this.sessions.size > MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    return session;
  }

  /** The live session under `id` (its idle clock restarts), or undefined. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const at = this.now();
    if (at - session.lastSeen > IDLE_MS || at - session.createdAt > ABSOLUTE_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeen = at;
    return session;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }
}

/** Whether `presented` is the session's CSRF token (constant time). */
export function csrfMatches(session: Session, presented: string | undefined): boolean {
  if (!presented) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
