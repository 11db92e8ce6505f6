// External checks (issue 16): before a release enters an environment, other systems run the checks the catalog
// names (a contract-test suite, the ITSM validation of the change ticket). The release asks through a webhook
// (an activity, retried until the check's deadline), then waits on a durable timer for the result: the system's
// answer to the request, its authenticated callback (check.report, a signed update), or, in poll mode, the poll
// activity's. At the deadline the release fails, or asks a person whether it may go on without the check, as the
// policy says. Checks run only on the way forward: nothing here ever runs during a rollback.
import { CancellationScope, condition, isCancellation, patched, proxyActivities } from '@temporalio/workflow';
import type { ReleaseActivities } from '../../activities';
import { checkId, type CheckAnswer, type CheckRequest, type PlannedCheck } from '../../domain/check-request';
import type { GatePlan } from '../../domain/plan';
import type { CheckProgress } from '../../domain/release-status';
import { releaseFailure } from '../failures';
import { now } from '../journal';
import type { CheckReportInput } from '../messages';
import { innermostMessage } from '../saga';
import { askForWaiver } from './gates';
import type { ReleaseRun } from './run-state';

/** Patch id of external checks (plans before them have none; the patch marks the new path in history). */
export const EXTERNAL_CHECK_PATCH = 'external-check';

/** Calls to a check's system: retried with backoff until the check's deadline (set per call), never given up early. */
const checkCalls = proxyActivities<ReleaseActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/** Asks the external checks of the plan that come before wave `beforeWave` and were not asked yet. */
export async function runChecksBefore(run: ReleaseRun, beforeWave: number): Promise<void> {
  for (const planned of run.plan.gates.filter((g) => g.kind === 'check' && g.beforeWave === beforeWave)) {
    await runCheckGate(run, planned);
  }
}

/** One check: passes, fails the release, or (timed out, and the policy says so) waits for a person's waiver. */
export async function runCheckGate(run: ReleaseRun, planned: GatePlan): Promise<void> {
  const check = planned.check;
  // Asked once per gate (the first environment's before the artifact is promoted): the status lists those asked.
  if (!check || run.status.checks?.some((c) => c.id === planned.id) || !patched(EXTERNAL_CHECK_PATCH)) return;
  const { plan } = run;
  const requestedAt = now();
  const progress: CheckProgress = {
    id: planned.id,
    name: check.name,
    environment: check.environment,
    checkId: checkId(plan.releaseId, planned.id),
    status: 'requested',
    requestedAt,
    deadline: new Date(Date.parse(requestedAt) + check.timeoutSeconds * 1000).toISOString(),
  };
  (run.status.checks ??= []).push(progress);
  const stageBefore = run.status.paused ? undefined : run.status.stage;
  run.enterStage('awaiting-check');
  run.note(`check ${check.name} asked of ${originOf(check.url)} before ${check.environment}: ${planned.description}`);
  run.audit('check.requested', {
    gate: planned.id,
    details: {
      check: check.name,
      environment: check.environment,
      checkId: progress.checkId,
      to: originOf(check.url),
      ...(check.ticket ? { ticket: check.ticket } : {}),
    },
  });
  await run.record.flush();

  // The request (and, in poll mode, the poll) runs beside the wait, in a scope of its own: the deadline, or a
  // result by callback, cancels it.
  const asking = new CancellationScope();
  const requests = asking
    .run(() => askAndPoll(run, check, progress))
    .catch((err: unknown) => {
      if (isCancellation(err)) return;
      settle(
        run,
        progress,
        { status: 'fail', summary: `it could not be asked: ${innermostMessage(err)}` },
        'the engine',
      );
    });
  try {
    await condition(() => progress.status !== 'requested', check.timeoutSeconds * 1000, {
      summary: `external check ${check.name}: waits up to ${check.timeoutSeconds}s for its result`,
    });
  } catch (err) {
    // Aborted while it waited: the check is no longer wanted, and a report that comes now is refused.
    if (progress.status === 'requested') progress.status = 'cancelled';
    throw err;
  }
  asking.cancel();
  await requests;

  // Decided by what the check says now, not by which fired first: a result that came with the deadline counts.
  if (progress.status === 'requested') await timedOut(run, planned, check, progress);
  else if (progress.status === 'failed') {
    await run.record.flush();
    throw releaseFailure(
      'CheckFailed',
      `external check ${check.name} failed before ${check.environment}${progress.summary ? `: ${progress.summary}` : ''}` +
        `${progress.detailsUrl ? ` (${progress.detailsUrl})` : ''}`,
    );
  } else {
    run.note(`gate ${planned.id} passed: ${check.name} passed${progress.summary ? `: ${progress.summary}` : ''}`);
    await run.record.flush();
  }
  // Back to what the release was doing (validating, or about to deploy the next environment).
  if (stageBefore) run.enterStage(stageBefore);
}

/** Asks the check's system; in poll mode, then asks for the result until there is one. */
async function askAndPoll(run: ReleaseRun, check: PlannedCheck, progress: CheckProgress): Promise<void> {
  const { plan, input, status } = run;
  const request: CheckRequest = {
    checkId: progress.checkId,
    check: check.name,
    service: plan.service,
    version: plan.version,
    ...(status.artifactDigest ? { digest: status.artifactDigest } : {}),
    releaseId: plan.releaseId,
    environment: check.environment,
    changeClass: plan.changeClass,
    ...(check.ticket ? { ticket: check.ticket } : {}),
    requestedBy: input.requestedBy,
    callback: { url: '', service: plan.service, releaseId: plan.releaseId, check: progress.id },
  };
  const endpoint = { url: check.url, ...(check.tokenEnv ? { tokenEnv: check.tokenEnv } : {}) };
  const answer = await checkCalls.requestCheck.executeWithOptions(
    // No deadline of its own: retried until the check's deadline cancels it, so an unreachable system is a timeout
    // (as the policy says), never a failure of its own.
    { summary: `ask ${originOf(check.url)} to run check ${check.name}` },
    [{ request, ...endpoint }],
  );
  if (answer.status !== 'pending') {
    settle(run, progress, answer, `${check.name} (its answer to the request)`);
    return;
  }
  if (check.mode !== 'poll') return;
  // The status URL the system gave, on its own host only: an answer must not send the worker elsewhere.
  const statusUrl =
    (answer.statusUrl && originOf(answer.statusUrl) === originOf(check.url) ? answer.statusUrl : undefined) ??
    `${check.url}${check.url.includes('?') ? '&' : '?'}checkId=${encodeURIComponent(progress.checkId)}`;
  const result = await checkCalls.pollCheck.executeWithOptions(
    {
      summary: `poll check ${check.name} every ${check.pollSeconds}s`,
      startToCloseTimeout: `${check.timeoutSeconds + 60}s`,
      heartbeatTimeout: '30s',
    },
    [{ checkId: progress.checkId, check: check.name, ...endpoint, url: statusUrl, pollSeconds: check.pollSeconds }],
  );
  settle(run, progress, result, `${check.name} (polled)`);
}

/** Records a check's result once; later answers (a poll after a callback) change nothing. */
function settle(
  run: ReleaseRun,
  progress: CheckProgress,
  answer: Pick<CheckAnswer, 'summary' | 'detailsUrl'> & { status: CheckAnswer['status'] },
  by: string,
  /** The principal who reported it (a callback); the engine's own findings have none. */
  principal?: string,
): void {
  if (progress.status !== 'requested' || answer.status === 'pending') return;
  progress.status = answer.status === 'pass' ? 'passed' : 'failed';
  progress.reportedAt = now();
  progress.reportedBy = by;
  if (answer.summary) progress.summary = answer.summary;
  if (answer.detailsUrl) progress.detailsUrl = answer.detailsUrl;
  run.note(
    `check ${progress.name} ${progress.status}, reported by ${by}${answer.summary ? `: ${answer.summary}` : ''}`,
  );
  run.audit('check.reported', {
    ...(principal ? { actor: principal } : {}),
    gate: progress.id,
    ...(answer.summary ? { reason: answer.summary } : {}),
    details: {
      check: progress.name,
      environment: progress.environment,
      result: progress.status,
      reportedBy: by,
      ...(answer.detailsUrl ? { detailsUrl: answer.detailsUrl } : {}),
    },
  });
}

/** Why a check report must be refused (from the update's validator); undefined when the release takes it. */
export function checkReportRefusal(
  run: ReleaseRun,
  report: CheckReportInput,
): { type: 'CheckNotWaiting' | 'NotAReporter'; message: string } | undefined {
  const progress = run.status.checks?.find((c) => c.id === report.check);
  if (!progress) {
    const known = run.plan.gates.filter((g) => g.kind === 'check').map((g) => g.id);
    return {
      type: 'CheckNotWaiting',
      message: `release ${run.plan.releaseId} has not asked for check "${report.check}"${known.length ? ` (its checks: ${known.join(', ')}${run.status.checks?.length ? '' : ', none asked yet'})` : ' (it has no external checks)'}`,
    };
  }
  if (progress.status !== 'requested' || run.compensating || run.status.outcome) {
    return {
      type: 'CheckNotWaiting',
      message:
        progress.status === 'requested'
          ? `release ${run.plan.releaseId} is rolling back or has ended: it no longer waits for check ${report.check}`
          : `check ${report.check} of release ${run.plan.releaseId} is no longer waiting for a result: it ${progress.status === 'timed-out' ? 'timed out' : `was ${progress.status}`}${progress.reportedBy ? ` (reported by ${progress.reportedBy})` : ''}`,
    };
  }
  const reporters = run.plan.gates.find((g) => g.id === report.check)?.check?.reporters;
  if (reporters && !reporters.includes(report.by)) {
    return {
      type: 'NotAReporter',
      message: `${report.by} may not report check ${progress.name}: its reporters are ${reporters.join(', ')}`,
    };
  }
  return undefined;
}

/** A check's result by callback (the validator has checked the signature and the refusal above). */
export function onCheckReport(
  run: ReleaseRun,
  report: CheckReportInput,
): { check: string; status: 'passed' | 'failed' } {
  run.messages.accept(report);
  const progress = run.status.checks?.find((c) => c.id === report.check);
  if (!progress) throw releaseFailure('CheckNotWaiting', `no check ${report.check}`);
  settle(run, progress, report, report.by, report.by);
  return { check: report.check, status: progress.status === 'passed' ? 'passed' : 'failed' };
}

/** The check's deadline passed without a result: the release fails, or a person decides, as the policy says. */
async function timedOut(
  run: ReleaseRun,
  planned: GatePlan,
  check: PlannedCheck,
  progress: CheckProgress,
): Promise<void> {
  progress.status = 'timed-out';
  const why = `external check ${check.name} did not answer within ${check.timeoutSeconds}s`;
  run.note(why);
  run.audit('check.timed-out', {
    gate: planned.id,
    details: { check: check.name, environment: check.environment, onTimeout: check.onTimeout },
  });
  if (check.onTimeout === 'fail') {
    await run.record.flush();
    throw releaseFailure('CheckFailed', `${why} (its policy fails the release then)`);
  }
  const { outcome, decision } = await askForWaiver(
    run,
    planned,
    'check',
    `${why}; ${check.askRoles.join(' or ')} may let the release go on without it, with a reason`,
  );
  if (outcome === 'approved' && decision) {
    progress.status = 'waived';
    run.note(`${decision.by} let the release go on without check ${check.name}: ${decision.comment ?? ''}`);
    run.audit('check.waived', {
      actor: decision.by,
      gate: planned.id,
      ...(decision.comment ? { reason: decision.comment } : {}),
      details: { check: check.name, environment: check.environment },
    });
    await run.record.flush();
    return;
  }
  throw releaseFailure(
    'CheckFailed',
    `${why}; ${outcome === 'rejected' ? `${decision?.by ?? 'someone'} stopped the release${decision?.comment ? `: ${decision.comment}` : ''}` : `nobody decided within ${planned.timeoutSeconds}s`}`,
  );
}

function originOf(url: string): string {
  const match = /^(https?:\/\/[^/?#]+)/.exec(url);
  return match?.[1] ?? 'its system';
}
