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

/** Audit appends: an audit event must never be lost, so they retry for as long as it takes (no maximumAttempts). */
export const auditStep: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
};

/** Notifications are a courtesy: a few quick tries, and a failure never fails a release. */
export const notifyStep: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
};

/** Schema migrations: can take minutes, heartbeat, and wait a while for another run's lock. */
export const migrationStep: ActivityOptions = {
  startToCloseTimeout: '30m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
};
