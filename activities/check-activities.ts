// Orchestrator activities of external checks (issue 16): the webhook that asks another system to run a check, the
// poll of its status, and the report of a release's outcome to its change ticket. Every call carries an
// Idempotency-Key, so a retried activity is the same request to the other system, never a second check. Tokens come
// from the worker's environment by name: they never enter a workflow's history or a log line; errors name only the
// other system's origin (a URL's path may be a credential too).
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { type CheckAnswer, type CheckRequest, readCheckAnswer } from '../domain/check-request';
import { CHECK_TOKEN_PREFIX } from '../domain/checks';
import type { ActivityFailureType } from '../domain/failures';

export interface CheckActivityDeps {
  /** The API's public address: the callback a check system answers to. Absent: checks are told no callback. */
  apiUrl?: string;
  /** Where tokenEnv names are looked up (the worker's environment). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** How long one HTTP call to a check system may take. */
const CALL_TIMEOUT_MS = 10_000;

interface Endpoint {
  url: string;
  tokenEnv?: string;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}

function failure(type: ActivityFailureType, message: string, nonRetryable: boolean): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable });
}

export function createCheckActivities({ apiUrl, env = process.env }: CheckActivityDeps) {
  /** One call; a refusal (4xx but 408 and 429) is not retried, anything else is. Returns the JSON body, if any. */
  async function call(
    what: string,
    endpoint: Endpoint,
    init: { method: 'GET' | 'POST'; idempotencyKey: string; body?: unknown },
  ): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json', 'idempotency-key': init.idempotencyKey };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (endpoint.tokenEnv) {
      // The catalog allows only these names; checked again here, so no plan can send another secret of the worker.
      const token = endpoint.tokenEnv.startsWith(CHECK_TOKEN_PREFIX) ? env[endpoint.tokenEnv] : undefined;
      if (!token) {
        throw failure(
          'CheckRefused',
          `${what}: the worker has no ${endpoint.tokenEnv} in its environment (the token the catalog names for ${originOf(endpoint.url)})`,
          true,
        );
      }
      headers.authorization = `Bearer ${token}`;
    }
    let response: Response;
    try {
      response = await fetch(endpoint.url, {
        method: init.method,
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        // A redirect would take the token, or the poll, to another host than the catalog names: not followed.
        redirect: 'manual',
      });
    } catch (err) {
      const why =
        err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${CALL_TIMEOUT_MS} ms` : 'unreachable';
      throw failure('CheckUnreachable', `${what}: ${originOf(endpoint.url)} is ${why}; trying again`, false);
    }
    const text = await response.text().catch(() => '');
    if (response.status >= 300 && response.status < 400) {
      throw failure(
        'CheckRefused',
        `${what}: ${originOf(endpoint.url)} answered a redirect (${response.status}), which is not followed`,
        true,
      );
    }
    if (!response.ok) {
      const refused =
        response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
      // The status only: the body is the other system's words, which go no further than this worker.
      throw failure(
        refused ? 'CheckRefused' : 'CheckUnreachable',
        `${what}: ${originOf(endpoint.url)} answered ${response.status}${refused ? '' : '; trying again'}`,
        refused,
      );
    }
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      return {};
    }
  }

  return {
    /**
     * Asks the check's system to run it (POST, Idempotency-Key = checkId) and returns its answer: a result when the
     * system decides at once, else pending (with the URL to poll, when it gives one).
     */
    async requestCheck(input: { request: CheckRequest; url: string; tokenEnv?: string }): Promise<CheckAnswer> {
      const { request } = input;
      const callback = apiUrl
        ? {
            callback: {
              url: `${apiUrl.replace(/\/$/, '')}/api/v1/check/report`,
              service: request.service,
              releaseId: request.releaseId,
              check: request.callback?.check ?? '',
            },
          }
        : {};
      // Without the API's address there is no callback to offer: the system must answer in its response, or be polled.
      const { callback: _unset, ...fields } = request;
      const body = { ...fields, ...callback };
      return readCheckAnswer(
        await call(`check ${request.check} of release ${request.releaseId}`, input, {
          method: 'POST',
          idempotencyKey: request.checkId,
          body,
        }),
      );
    },

    /**
     * Asks for a check's result every pollSeconds until it has one; heartbeats each time, so a worker that dies is
     * noticed and the poll resumes elsewhere, and the release's timeout (a cancellation) stops it. A call that fails
     * is tried again at the next poll.
     */
    async pollCheck(input: { checkId: string; check: string; url: string; tokenEnv?: string; pollSeconds: number }) {
      const context = Context.current();
      for (let polls = 1; ; polls++) {
        let answer: CheckAnswer | undefined;
        let problem: string | undefined;
        try {
          answer = readCheckAnswer(
            await call(`poll of check ${input.check}`, input, { method: 'GET', idempotencyKey: input.checkId }),
          );
        } catch (err) {
          if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
          problem = err instanceof Error ? err.message : String(err);
        }
        if (answer && answer.status !== 'pending') return answer;
        // Heartbeats at least every 10 s while it waits: a worker that dies is noticed in seconds, not a poll later.
        for (let waited = 0; waited < input.pollSeconds; waited += 10) {
          context.heartbeat({ polls, ...(problem ? { problem } : {}) });
          await context.sleep(Math.min(10, input.pollSeconds - waited) * 1000);
        }
      }
    },

    /** Reports a release's outcome for its change ticket (ITSM); a courtesy, retried a few times by its profile. */
    async reportToTicket(input: {
      ticket: string;
      url: string;
      tokenEnv?: string;
      outcome: Record<string, string | number | boolean | undefined>;
    }): Promise<{ delivered: true }> {
      await call(`report to ticket ${input.ticket}`, input, {
        method: 'POST',
        idempotencyKey: `${String(input.outcome.releaseId)}/ticket-report`,
        body: { ticket: input.ticket, ...input.outcome },
      });
      return { delivered: true };
    },
  };
}

export type CheckActivities = ReturnType<typeof createCheckActivities>;
