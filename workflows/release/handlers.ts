// The release's messages, each a one-line delegation to the module that owns it. Decisions are Updates whose
// synchronous validators refuse, to the caller and outside history, what may not be done.
import { setHandler } from '@temporalio/workflow';
import {
  abortSignal,
  admitSignal,
  approveUpdate,
  pauseSignal,
  recheckFreezeSignal,
  regionEventSignal,
  regionPauseSignal,
  rejectUpdate,
  resumeSignal,
  statusQuery,
  type DecisionInput,
} from '../messages';
import { decide, refuseIfNotAllowed } from './gates';
import { onRegionEvent } from './region';
import type { ReleaseRun } from './run-state';

export function installHandlers(run: ReleaseRun): void {
  setHandler(statusQuery, () => run.status);
  setHandler(admitSignal, () => void (run.admitted = true));
  setHandler(recheckFreezeSignal, () => void run.freezeRechecks++);
  setHandler(approveUpdate, (request) => decide(run, 'approve', request), {
    validator: (request: DecisionInput) => refuseIfNotAllowed(run, 'approve', request),
  });
  setHandler(rejectUpdate, (request) => decide(run, 'reject', request), {
    validator: (request: DecisionInput) => refuseIfNotAllowed(run, 'reject', request),
  });
  setHandler(pauseSignal, (request) => pause(run, request));
  setHandler(resumeSignal, (request) => resume(run, request));
  setHandler(abortSignal, (request) => abort(run, request));
  setHandler(regionEventSignal, (event) => onRegionEvent(run, event));
}

/** Holds the release before its next step; the regions in flight hold too (a bake in progress keeps counting). */
async function pause(run: ReleaseRun, { by, reason }: { by: string; reason?: string }): Promise<void> {
  if (!run.pause()) return;
  run.note(`paused by ${by}${reason ? `: ${reason}` : ''}; bakes in progress keep counting, nothing new starts`);
  run.audit('release.paused', { actor: by, ...(reason ? { reason } : {}) });
  await Promise.allSettled([...run.running.values()].map((child) => child.signal(regionPauseSignal, { paused: true })));
}

async function resume(run: ReleaseRun, { by }: { by: string }): Promise<void> {
  if (!run.resume()) return;
  run.note(`resumed by ${by}`);
  run.audit('release.resumed', { actor: by });
  await Promise.allSettled(
    [...run.running.values()].map((child) => child.signal(regionPauseSignal, { paused: false })),
  );
}

/** Stops the pipeline; the release then rolls back what it did. */
function abort(run: ReleaseRun, { by, reason }: { by: string; reason: string }): void {
  if (run.abort || run.status.outcome || run.compensating) return;
  run.abort = { by, reason };
  run.note(`abort requested by ${by}: ${reason}`);
  run.audit('release.abort-requested', { actor: by, reason });
  run.main.cancel();
}
