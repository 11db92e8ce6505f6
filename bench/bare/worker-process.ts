// The bare baseline's worker in a process of its own (the bench reads its RSS): one worker, one task queue, the bare
// workflow bundle and the no-op activity. Started by bench/engine.ts with BENCH_TEMPORAL_ADDRESS,
// BENCH_BARE_TASK_QUEUE and BENCH_BARE_BUNDLE.
import { getHeapStatistics } from 'node:v8';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { announceReady, serveBench } from '../engine/ipc';
import { createBareActivities, type TagCounts } from './activities';

async function run() {
  const address = process.env.BENCH_TEMPORAL_ADDRESS;
  const taskQueue = process.env.BENCH_BARE_TASK_QUEUE;
  const bundlePath = process.env.BENCH_BARE_BUNDLE;
  if (!address || !taskQueue || !bundlePath) {
    throw new Error(
      'BENCH_TEMPORAL_ADDRESS, BENCH_BARE_TASK_QUEUE and BENCH_BARE_BUNDLE must be set (bench/engine.ts)',
    );
  }
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: { core: 'WARN', other: 'WARN' } } },
  });
  const counts: TagCounts = new Map();
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: { codePath: bundlePath },
    activities: createBareActivities({ counts }),
  });
  const running = worker.run();
  serveBench({
    counters: () => Object.fromEntries(counts),
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
    },
  });
  announceReady({
    workers: 1,
    maxCachedWorkflows: worker.options.maxCachedWorkflows,
    heapLimitMiB: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
  });
  await running;
}

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
