// External checks (issue 16), the part workflows use: what the plan carries, what the other system receives and
// answers, and the ids. Free of zod, so the workflow bundle stays small (domain/checks.ts has the catalog's schema).
import type { Role } from './roles';

/** The check as the plan carries it: where and how, but never a secret. */
export interface PlannedCheck {
  name: string;
  environment: string;
  url: string;
  tokenEnv?: string;
  mode: 'callback' | 'poll';
  pollSeconds: number;
  timeoutSeconds: number;
  onTimeout: 'fail' | 'ask';
  askRoles: Role[];
  askWaitSeconds: number;
  reporters?: string[];
  /** The ITSM validation of the release's change ticket. */
  ticket?: string;
}

/** The name of the ticket validation check. */
export const TICKET_CHECK = 'change-ticket';

/** A check's gate id, which also identifies it in the callback. */
export function checkGateId(name: string, environment: string): string {
  return `check-${name}-${environment}`;
}

/** What the webhook's response or the status URL may say: a result, or that it is still running (and where to ask). */
export interface CheckAnswer {
  status: 'pass' | 'fail' | 'pending';
  summary?: string;
  detailsUrl?: string;
  statusUrl?: string;
}

/**
 * Reads a check system's JSON answer leniently: a status of pass/passed/success/approved is a pass, fail/failed/
 * failure/rejected/error a failure; anything else (no body, "queued", "running") means pending.
 */
export function readCheckAnswer(body: unknown): CheckAnswer {
  const root = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const said = typeof root.status === 'string' ? root.status.toLowerCase() : '';
  const status = ['pass', 'passed', 'success', 'succeeded', 'approved'].includes(said)
    ? 'pass'
    : ['fail', 'failed', 'failure', 'rejected', 'error'].includes(said)
      ? 'fail'
      : 'pending';
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, 2000) : undefined);
  const summary = text(root.summary);
  // Only web addresses: a details link is shown to people, and the status URL is called by the worker.
  const web = (v: unknown) => {
    const url = text(v);
    return url && /^https?:\/\//i.test(url) ? url : undefined;
  };
  const detailsUrl = web(root.detailsUrl);
  const statusUrl = web(root.statusUrl);
  return {
    status,
    ...(summary ? { summary } : {}),
    ...(detailsUrl ? { detailsUrl } : {}),
    ...(statusUrl ? { statusUrl } : {}),
  };
}

/** What the engine posts to a check's URL. `checkId` is the idempotency key: a retried request is the same check. */
export interface CheckRequest {
  checkId: string;
  check: string;
  service: string;
  version: string;
  digest?: string;
  releaseId: string;
  environment: string;
  changeClass: string;
  ticket?: string;
  requestedBy: string;
  /** How to answer: POST this URL with the checker's token and `{ service, releaseId, check, status, summary }`. */
  callback?: { url: string; service: string; releaseId: string; check: string };
}

/** The check's id in the outside world: one per release and gate. */
export function checkId(releaseId: string, gateId: string): string {
  return `${releaseId}/${gateId}`;
}

/** One line about a check's policy, for the plan and the gate. */
export function describeCheck(check: PlannedCheck): string {
  const answered = check.mode === 'poll' ? `polled every ${check.pollSeconds}s` : 'reported by callback';
  const timeout =
    check.onTimeout === 'ask'
      ? `after ${check.timeoutSeconds}s ${check.askRoles.join(' or ')} decide`
      : `fails after ${check.timeoutSeconds}s`;
  const what = check.ticket ? `change ${check.ticket} is approved and its window open` : `${check.name} passes`;
  return `external check ${check.name}: ${what} (${answered}; ${timeout})`;
}
