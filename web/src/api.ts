// The console's link to the API: the same tRPC procedures relctl calls, over the session cookie, with the session's
// CSRF token on every call (the API refuses a change without it). Sign-in and sign-out are plain JSON calls.
import { createTRPCClient, httpLink, httpSubscriptionLink, splitLink, TRPCClientError } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../api/routers';

export type Outputs = inferRouterOutputs<AppRouter>;

export interface Me {
  principal: string;
  roles: string[];
  csrf: string;
}

let csrf = '';

export const api = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      // Streams (release.watch) are server-sent events: a GET, which the session cookie alone may do.
      condition: (op) => op.type === 'subscription',
      true: httpSubscriptionLink({ url: '/trpc' }),
      false: httpLink({ url: '/trpc', headers: () => ({ 'x-csrf-token': csrf }) }),
    }),
  ],
});

/** Who is signed in, or undefined. */
export async function currentSession(): Promise<Me | undefined> {
  const res = await fetch('/session', { credentials: 'same-origin' });
  if (res.status === 401) return undefined;
  if (!res.ok) throw new Error(await messageOf(res));
  return remember((await res.json()) as Me);
}

export async function signIn(token: string): Promise<Me> {
  const res = await fetch('/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  if (!res.ok) throw new Error(await messageOf(res));
  return remember((await res.json()) as Me);
}

export async function signOut(): Promise<void> {
  await fetch('/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'x-csrf-token': csrf } });
  csrf = '';
}

/** The API's own words for a failure (refusals name the field or the rule). */
export function plainMessage(err: unknown): string {
  if (err instanceof TRPCClientError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

function remember(me: Me): Me {
  csrf = me.csrf;
  return me;
}

async function messageOf(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { error?: { message?: string } };
    return body.error?.message ?? `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}
