// A release's status as a stream, for the console and `relctl release watch`: the status now, then again each time
// the release's history grows. Temporal tells us when it does (a history long-poll with waitNewEvent), so nothing
// polls: an idle release parked at a gate for a day costs one open request, renewed when Temporal's long-poll ends.
import type { Client } from '@temporalio/client';
import { EngineError } from '../domain/errors';
import { releaseWorkflowId } from '../domain/names';
import type { ReleaseStatus } from '../domain/release-status';
import { getReleaseStatus } from '../workflows/lifecycle';

export async function* watchRelease(
  client: Client,
  service: string,
  releaseId: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<ReleaseStatus> {
  const workflowId = releaseWorkflowId(service, releaseId);
  let last = '';
  let pageToken: Uint8Array | undefined;
  let closed = false;
  while (!signal?.aborted) {
    const status = await getReleaseStatus(client, service, releaseId);
    if (!status) throw new EngineError('RELEASE_NOT_FOUND', `there is no release ${releaseId} of ${service}`);
    const json = JSON.stringify(status);
    if (json !== last) {
      last = json;
      yield status;
    }
    if (closed) return;
    // Read the history to its end, then wait for the next event (or the workflow's close).
    for (;;) {
      const page = await abortable(client, signal, () =>
        client.workflowService.getWorkflowExecutionHistory({
          namespace: client.options.namespace,
          execution: { workflowId },
          waitNewEvent: true,
          maximumPageSize: 1000,
          ...(pageToken ? { nextPageToken: pageToken } : {}),
        }),
      );
      if (page === undefined) return;
      const events = page.history?.events ?? [];
      const token = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
      if (!token) {
        // No more events will come: the workflow has closed. One last status, then the stream ends.
        closed = true;
        break;
      }
      pageToken = token;
      if (events.length > 0) break;
    }
  }
}

/** Runs one call, cancelled if `signal` aborts; the listener goes with the call (a stream makes many calls). */
async function abortable<T>(
  client: Client,
  signal: AbortSignal | undefined,
  call: () => Promise<T>,
): Promise<T | undefined> {
  if (!signal) return call();
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await client.connection.withAbortSignal(inner.signal, call);
  } catch (err) {
    if (signal.aborted) return undefined;
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
