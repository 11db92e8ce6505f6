// The release's messages, each a one-line delegation to the module that owns it. What a person does (decide,
// pause, resume, abort) arrives as an Update whose synchronous validator checks the API's signature, then whether
// it may be done; a refusal goes back to the caller and never enters history.
import { setHandler } from '@temporalio/workflow';
import { releaseFailure } from '../failures';
import { rollbackWorkflowId } from '../../domain/workflow-ids';
import {
  abortSignal,
  abortUpdate,
  admitSignal,
  alertUpdate,
  approveUpdate,
  checkReportUpdate,
  pauseSignal,
  pauseUpdate,
  recheckFreezeSignal,
  regionEventSignal,
  regionEventsSignal,
  regionPauseSignal,
  rejectUpdate,
  resumeSignal,
  resumeUpdate,
  signedRollbackFields,
  statusQuery,
  type AlertInput,
  type CheckReportInput,
  type ControlInput,
  type DecisionInput,
  type EmergencyRollbackInput,
} from '../messages';
import { checkReportRefusal, onCheckReport } from './checks';
import { decide, refuseIfNotAllowed } from './gates';
import { onRegionEvent } from './region';
import type { ReleaseRun } from './run-state';

export function installHandlers(run: ReleaseRun): void {
  setHandler(statusQuery, () => run.status);
  setHandler(admitSignal, () => void (run.admitted = true));
  setHandler(recheckFreezeSignal, () => void run.freezeRechecks++);
  setHandler(approveUpdate, (request) => decide(run, 'approve', request), {
    validator: (request: DecisionInput) => {
      run.messages.check('approve', request);
      refuseIfNotAllowed(run, 'approve', request);
    },
  });
  setHandler(rejectUpdate, (request) => decide(run, 'reject', request), {
    validator: (request: DecisionInput) => {
      run.messages.check('reject', request);
      refuseIfNotAllowed(run, 'reject', request);
    },
  });
  setHandler(pauseUpdate, (request) => accepted(run, request, () => pause(run, request)), {
    validator: (request: ControlInput) => run.messages.check('pause', request),
  });
  setHandler(resumeUpdate, (request) => accepted(run, request, () => resume(run, request)), {
    validator: (request: ControlInput) => run.messages.check('resume', request),
  });
  setHandler(
    abortUpdate,
    (request) => accepted(run, request, () => abort(run, { ...request, reason: request.reason ?? '' })),
    {
      validator: (request: ControlInput) => {
        run.messages.check('abort', request);
        if (!request.reason?.trim()) throw new Error('reason: an abort needs a reason');
      },
    },
  );
  // An alert from monitoring acts only inside the watch window; outside it the API records it instead.
  setHandler(alertUpdate, (request) => onAlert(run, request), {
    validator: (request: AlertInput) => {
      run.messages.check('alert', request);
      // An alert that began before this release is not about it (Alertmanager repeats firing alerts for hours).
      const began = Date.parse(request.startsAt ?? '');
      if (Number.isFinite(began) && began < Date.parse(run.status.startedAt)) {
        throw releaseFailure(
          'NotWatching',
          `alert ${request.alertname} began at ${request.startsAt}, before release ${run.plan.releaseId} started; it is not about this release`,
        );
      }
      if (!run.watching || run.alert || run.compensating || run.status.outcome) {
        throw releaseFailure(
          'NotWatching',
          `${run.plan.service}@${run.plan.version} (release ${run.plan.releaseId}) is not in its watch window` +
            `${run.status.outcome ? ` (it has ${run.status.stage})` : run.alert ? ' (an alert is already rolling it back)' : ''}`,
        );
      }
    },
  });
  // An external check's result from the system that ran it (check.report), signed by the API.
  setHandler(checkReportUpdate, (request) => onCheckReport(run, request), {
    validator: (request: CheckReportInput) => {
      run.messages.check('check', request);
      const refusal = checkReportRefusal(run, request);
      if (refusal) throw releaseFailure(refusal.type, refusal.message);
    },
  });
  // Signals cannot be refused: a run started after signed messages notes an unsigned one and ignores it.
  setHandler(pauseSignal, (request) => (run.signed ? ignored(run, 'pause') : pause(run, request)));
  setHandler(resumeSignal, (request) => (run.signed ? ignored(run, 'resume') : resume(run, request)));
  setHandler(abortSignal, (request) => {
    const refusal = run.signed ? rollbackAbortRefusal(run, request) : undefined;
    if (refusal) ignored(run, 'abort', refusal);
    else abort(run, request);
  });
  setHandler(regionEventSignal, (event) => onRegionEvent(run, event));
  setHandler(regionEventsSignal, (events) => {
    for (const event of events) onRegionEvent(run, event);
  });
}

async function accepted(run: ReleaseRun, request: ControlInput, act: () => void | Promise<void>): Promise<void> {
  run.messages.accept(request);
  await act();
}

function ignored(run: ReleaseRun, what: string, why = 'it was not sent through the API (use relctl or the API)'): void {
  run.note(`ignored a ${what} signal: ${why}`);
}

/**
 * An abort signal comes from the service coordinator when an emergency rollback aborts this release; it carries
 * the rollback's signed request. Why it must be ignored, if it must. The rollback's own expiry is not applied: the
 * signal may wait in history while this release's worker is down.
 */
function rollbackAbortRefusal(
  run: ReleaseRun,
  request: { by: string; rollback?: EmergencyRollbackInput },
): string | undefined {
  const rollback = request.rollback;
  if (!rollback?.authorization) return 'it carries no signed emergency rollback request';
  if (rollback.service !== run.plan.service) return `the rollback it carries is for ${rollback.service}`;
  if (rollback.requestedBy !== request.by) return 'it names someone other than the rollback requester';
  const issued = Date.parse(rollback.authorization.issuedAt);
  const verdict = run.messages.verdict(
    'rollback',
    signedRollbackFields(rollback),
    rollbackWorkflowId(rollback.service, rollback.rollbackId),
    Number.isFinite(issued) ? issued : undefined,
  );
  return verdict;
}

/** An alert while watching: noted, audited, and the watch ends in a rollback (watch.ts). */
function onAlert(run: ReleaseRun, request: AlertInput): { action: 'rolling-back'; releaseId: string } {
  run.messages.accept(request);
  run.alert = request;
  run.rollbackReason = `alert ${request.alertname} while watched`;
  run.note(
    `alert ${request.alertname}${request.region ? ` in ${request.region}` : ''} from ${request.by} during ${run.watching?.phase ?? 'the watch'}` +
      `${request.reason ? `: ${request.reason}` : ''}; rolling back`,
  );
  run.audit('alert.received', {
    actor: request.by,
    ...(request.reason ? { reason: request.reason } : {}),
    details: {
      alertname: request.alertname,
      ...(request.region ? { region: request.region } : {}),
      ...(request.fingerprint ? { fingerprint: request.fingerprint } : {}),
      action: 'rolling-back',
    },
  });
  return { action: 'rolling-back', releaseId: run.plan.releaseId };
}

/** Holds the release before its next step; the regions in flight hold too (a bake in progress keeps counting). */
async function pause(run: ReleaseRun, { by, reason }: { by: string; reason?: string }): Promise<void> {
  if (!run.pause()) return;
  run.note(`paused by ${by}${reason ? `: ${reason}` : ''}; bakes in progress keep counting, nothing new starts`);
  run.audit('release.paused', { actor: by, ...(reason ? { reason } : {}) });
  await Promise.allSettled([...run.running.values()].map((child) => child.signal(regionPauseSignal, { paused: true })));
}

async function resume(run: ReleaseRun, request: ControlInput): Promise<void> {
  if (!run.resume()) return;
  const { by } = request;
  run.note(`resumed by ${by}`);
  run.audit('release.resumed', { actor: by });
  // Regions started by a run that signs its resumes go on only with the person's signed resume.
  const resume = run.signsRegionResumes && request.authorization ? { resume: request } : {};
  await Promise.allSettled(
    [...run.running.values()].map((child) => child.signal(regionPauseSignal, { paused: false, ...resume })),
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
