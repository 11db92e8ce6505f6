// The activities a train calls, by profile.
import { proxyActivities } from '@temporalio/workflow';
import type { ReleaseActivities } from '../../activities';
import { quickStep } from '../profiles';

export const trainSteps = proxyActivities<ReleaseActivities>(quickStep);
/** Waiting for a member to end: as long as the member takes (gates, freezes, bakes), heartbeating. */
export const trainWaits = proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '30 days',
  // A dead worker's wait is taken up by another within this (the waits heartbeat every 5 s).
  heartbeatTimeout: '20s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
});
/** Handing an undo to a coordinator: a minute of tries, then the train says it waits (undo.ts handUndo). */
export const undoStarts = proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
});
