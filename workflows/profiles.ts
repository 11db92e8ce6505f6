// Timeout and retry profiles of the engine's activities, named by the kind of step.
import type { ActivityOptions } from '@temporalio/workflow';

/** Bookkeeping and reads that answer in seconds (artifact index, ledger, calendar, fleet state, metrics). */
export const quickStep: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 10 },
};

/** Fleet changes: can take minutes, heartbeat, so a dead worker is noticed in seconds and the step retried. */
export const fleetStep: ActivityOptions = {
  startToCloseTimeout: '10m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
};

/** Compensations: retried longer than forward steps, because giving up means asking a human. */
export const compensationStep: ActivityOptions = {
  startToCloseTimeout: '10m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 30 },
};
