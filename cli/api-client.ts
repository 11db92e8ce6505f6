// The typed tRPC client relctl talks to the API with.
import { createTRPCClient, httpLink } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../api/routers';

export type Outputs = inferRouterOutputs<AppRouter>;

export function apiClient(url: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url.replace(/\/$/, '')}/trpc`, headers: () => ({ authorization: `Bearer ${token}` }) })],
  });
}

export type Api = ReturnType<typeof apiClient>;

/** Thrown for a command line that cannot work; relctl prints it with the usage and exits 2. */
export class UsageError extends Error {}
