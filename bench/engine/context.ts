// What every scenario works with: the Temporal client, the API, both worker processes, the bare task queue, and the
// helpers that start, follow and clean up releases and their bare twins. Waiting is done by polling state that the
// engine keeps anyway (the status and coordinator queries, visibility counts, the workers' counters), never by
// sleeping a guessed time.
import type { Client } from '@temporalio/client';
import { releaseWorkflowId } from '../../domain/names';
import { getReleaseStatus, getServiceState } from '../../workflows/lifecycle';
import { sleep } from '../support';
import type { BenchApi, CallResult } from './api';
import { APPROVAL_GATE, type ServicePool } from './catalog';
import type { WorkerProcess } from './processes';

export interface Bench {
  client: Client;
  api: BenchApi;
  engine: WorkerProcess;
  bare: WorkerProcess;
  bareTaskQueue: string;
  /** One-region services for releases parked at the gate (P2, P3) and for starts (P6). */
  parkPool: ServicePool;
  startPool: ServicePool;
  log: (message: string) => void;
}

/** Polls `check` every `everyMs` until it returns true; throws with `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** An API call that must succeed. */
export function expectOk(what: string, result: CallResult): CallResult {
  if (result.status !== 200) {
    throw new Error(`${what}: HTTP ${result.status}: ${result.body.error?.message ?? JSON.stringify(result.body)}`);
  }
  return result;
}

/** Starts a release through the API as the pipeline. */
export function startRelease(
  bench: Bench,
  service: string,
  version: string,
  releaseId: string,
  changeClass: 'standard' | 'normal',
): Promise<CallResult> {
  return bench.api.call('release.start', { service, version, releaseId, changeClass }, 'ci');
}

/**
 * An API call as a careful client makes it: sent again (up to `attempts` times) while the API answers 5xx, which for
 * a start or a decision means "not confirmed, may still be applied" (the same release id starts a release once; a
 * repeated approval is refused). Every answer is kept, so failures are counted, not hidden. A 409 after a 5xx says
 * the first try did take effect (the release exists, the gate is decided).
 */
export async function persistently(
  call: () => Promise<CallResult>,
  attempts = 5,
): Promise<{ ok: boolean; answers: CallResult[] }> {
  const answers: CallResult[] = [];
  for (let i = 0; i < attempts; i++) {
    const answer = await call();
    answers.push(answer);
    if (answer.status === 200) return { ok: true, answers };
    if (answer.status === 409 && i > 0) return { ok: true, answers };
    if (answer.status < 500) return { ok: false, answers };
  }
  return { ok: false, answers };
}

/** Approves the release's approval gate through the API as an approver. */
export function approveRelease(bench: Bench, service: string, releaseId: string): Promise<CallResult> {
  return bench.api.call('release.approve', { service, releaseId, gate: APPROVAL_GATE }, 'alice');
}

/** Waits until the release's approval gate waits for a decision. */
export function waitForGate(bench: Bench, service: string, releaseId: string, timeoutMs = 120_000) {
  return waitUntil(
    `the approval gate of release ${releaseId} of ${service}`,
    async () => {
      const status = await getReleaseStatus(bench.client, service, releaseId).catch(() => undefined);
      return status?.gates.find((g) => g.id === APPROVAL_GATE)?.status === 'waiting';
    },
    timeoutMs,
    50,
  );
}

/** Waits until the release workflow has closed, and returns its outcome. */
export async function releaseResult(bench: Bench, service: string, releaseId: string): Promise<string> {
  const status = (await bench.client.workflow.getHandle(releaseWorkflowId(service, releaseId)).result()) as {
    outcome?: { result?: string };
  };
  return status.outcome?.result ?? 'unknown';
}

/** Waits until the service's coordinator has nothing in flight (it has noticed its last release or rollback end). */
export function waitIdle(bench: Bench, service: string, timeoutMs = 60_000) {
  return waitUntil(
    `the coordinator of ${service} to be idle`,
    async () => (await getServiceState(bench.client, service)).active === undefined,
    timeoutMs,
    50,
  );
}

/** How many workflows of a type are running now (Temporal visibility). */
export function countRunning(bench: Bench, workflowType: string): Promise<number> {
  return bench.client.workflow
    .count(`WorkflowType = "${workflowType}" AND ExecutionStatus = "Running"`)
    .then((c) => c.count);
}

/** Runs `count` jobs with `concurrency` callers, each taking the next job when its previous one is done. */
export async function concurrently<T>(count: number, concurrency: number, job: (i: number) => Promise<T>) {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) results[i] = await job(i);
    }),
  );
  return results;
}

/** Terminates workflows by id (those already closed are skipped). */
export async function terminateAll(bench: Bench, workflowIds: string[], reason: string): Promise<void> {
  await concurrently(workflowIds.length, 16, (i) =>
    bench.client.workflow
      .getHandle(workflowIds[i] as string)
      .terminate(reason)
      .catch(() => undefined),
  );
}

/** Wall time of `fn` in seconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - started) / 1000, value };
}
