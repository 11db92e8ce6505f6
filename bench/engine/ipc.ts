// The little protocol between the bench and its worker processes (engine and bare), over Node's IPC channel: the
// worker says when it polls, and answers requests: collect garbage (before the bench reads its RSS), report its
// counters, stop. A worker whose bench is gone (the channel closed) stops at once.

export type WorkerRequest = { id: number; kind: 'gc' | 'counters' | 'stop' };
export type WorkerReply = { id: number; counters?: Record<string, number>; heapUsed?: number };
export type WorkerReady = { ready: true; workers: number; maxCachedWorkflows: number; heapLimitMiB: number };

/** Answers the bench's requests in a worker process. */
export function serveBench(handlers: { counters: () => Record<string, number>; stop: () => Promise<void> }): void {
  const send = (message: WorkerReply | WorkerReady) => process.send?.(message);
  process.on('message', (raw: WorkerRequest) => {
    switch (raw.kind) {
      case 'gc':
        // Twice: the first pass can leave finalised objects for the second.
        (globalThis as { gc?: () => void }).gc?.();
        (globalThis as { gc?: () => void }).gc?.();
        send({ id: raw.id, heapUsed: process.memoryUsage().heapUsed });
        return;
      case 'counters':
        send({ id: raw.id, counters: handlers.counters() });
        return;
      case 'stop':
        void handlers.stop().finally(() => {
          send({ id: raw.id });
          process.exit(0);
        });
        return;
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/** Tells the bench the workers poll. */
export function announceReady(ready: Omit<WorkerReady, 'ready'>): void {
  process.send?.({ ready: true, ...ready } satisfies WorkerReady);
}
