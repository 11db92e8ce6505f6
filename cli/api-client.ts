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

export type ReleaseView = Outputs['release']['get'];

/**
 * Follows `release.watch` (server-sent events): yields the release's status now and each time it changes, and ends
 * when the release has finished. The API hears of changes from Temporal, so neither side polls. A refusal or an
 * unknown release arrives as an error in the stream and is thrown with the API's message.
 */
export async function* releaseStream(
  url: string,
  token: string,
  service: string,
  releaseId: string,
): AsyncGenerator<ReleaseView> {
  const input = encodeURIComponent(JSON.stringify({ service, releaseId }));
  const res = await fetch(`${url.replace(/\/$/, '')}/trpc/release.watch?input=${input}`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
  });
  if (!res.ok || !res.body) throw new Error(`the API answered ${res.status} to release.watch`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (event === 'connected' || event === 'ping') continue;
      if (event === 'return') return;
      if (event === 'serialized-error') {
        const error = JSON.parse(data || '{}') as { message?: string };
        throw new StreamRefusal(error.message ?? data);
      }
      if (data) yield JSON.parse(data) as ReleaseView;
    }
  }
}

/** The API refused the stream or ended it with an error (a refusal, an unknown release): not worth retrying. */
export class StreamRefusal extends Error {}
