// The console's change stream: what the API announces arrives at once; what workflows do is found by one shared read
// of the running releases, and only differences are sent; nobody listening, nothing is read.
import { describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { ReleaseChanges } from '../../api/changes';
import { ReleaseStage } from '../../workflows/search-attributes';

/** A Temporal client whose visibility answers with `running()` (workflow id to stage), counting its reads. */
function fakeTemporal(running: () => Record<string, string>) {
  const reads = { count: 0 };
  const client = {
    workflow: {
      // eslint-disable-next-line @typescript-eslint/require-await
      async *list() {
        reads.count += 1;
        for (const [workflowId, stage] of Object.entries(running())) {
          yield {
            workflowId,
            typedSearchAttributes: { get: (key: unknown) => (key === ReleaseStage ? stage : undefined) },
          };
        }
      },
    },
  } as unknown as Client;
  return { client, reads };
}

describe('release changes', () => {
  it('sends what the API announces and what visibility shows changing, to every listener, until it leaves', async () => {
    let running: Record<string, string> = { 'release/hello/r1': 'deploying' };
    const { client, reads } = fakeTemporal(() => running);
    const changes = new ReleaseChanges(client, { intervalMs: 20 });
    const abort = new AbortController();
    const stream = changes.subscribe(abort.signal);

    const first = stream.next(); // (a generator starts listening when it is first asked)
    changes.announce('hello', 'r1');
    expect((await first).value).toEqual({ changes: [{ service: 'hello', releaseId: 'r1' }] });

    // A gate opens in r1, and r2 starts: one event with both; then r1 ends.
    await new Promise((resolve) => setTimeout(resolve, 50));
    running = { 'release/hello/r1': 'awaiting-approval', 'release/hello/r2': 'validating' };
    expect((await stream.next()).value).toEqual({
      changes: [
        { service: 'hello', releaseId: 'r1', stage: 'awaiting-approval' },
        { service: 'hello', releaseId: 'r2', stage: 'validating' },
      ],
    });
    running = { 'release/hello/r2': 'validating' };
    expect((await stream.next()).value).toEqual({ changes: [{ service: 'hello', releaseId: 'r1' }] });

    // The last listener leaves: reading stops.
    abort.abort();
    await stream.next();
    const after = reads.count;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reads.count).toBe(after);
  });
});
