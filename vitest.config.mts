// The test layers as vitest projects (README, "Tests"). `unit` needs nothing running; the other three share one
// Temporal dev server and one workflow bundle, started by test/global-setup.ts once per run however many of them run.
import { defineConfig } from 'vitest/config';

const TEMPORAL = ['test/global-setup.ts'];
// Whatever a test starts outside its process dies with it (test/support/process-cleanup.ts).
const CLEANUP = ['test/support/setup-process-cleanup.ts'];

export default defineConfig({
  test: {
    // Forks, not threads: worker threads and the Temporal native bridge do not mix.
    pool: 'forks',
    // Acceptance tests mostly wait (bakes, timers), so three files at a time on two cores finish in about half the
    // time of one at a time (measured: 353s against 561s) without starving each other. One value for every project:
    // vitest runs projects of one group order in one pool, which needs one maxWorkers.
    maxWorkers: 4,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'workflow',
          include: ['test/workflow/**/*.test.ts'],
          globalSetup: TEMPORAL,
          setupFiles: CLEANUP,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'acceptance',
          include: ['test/acceptance/**/*.test.ts'],
          globalSetup: TEMPORAL,
          setupFiles: CLEANUP,
          // Sized for a loaded two-core machine: a test's own waits (waitForOutcome 90 s, the worker's readiness) name
          // what they waited for and give up before this safety net does.
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'replay',
          include: ['test/replay/**/*.test.ts'],
          globalSetup: TEMPORAL,
          setupFiles: CLEANUP,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
