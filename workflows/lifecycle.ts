// Client-side helpers for the engine's workflows: start a release through its service coordinator, decide on gates,
// pause/resume/abort, roll back, and read state, with Temporal's errors turned into EngineErrors in plain words.
// Used by the API and tests; never bundled into workflow code (workflows/index.ts does not import it).
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  isGrpcServiceError,
  QueryNotRegisteredError,
  ServiceError,
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure, type QueryDefinition, WorkflowNotFoundError } from '@temporalio/common';
import type { Gate, RefusalCode } from '../domain/approval';
import { EngineError, type EngineErrorCode } from '../domain/errors';
import { releaseWorkflowId, rollbackWorkflowId, serviceWorkflowId } from '../domain/names';
import { isFinalStage, type ReleaseStage as ReleaseStageName, type ReleaseStatus } from '../domain/release-status';
import type { DecisionSigner } from '../providers/keys/decision-keys';
import {
  abortUpdate,
  approveUpdate,
  pauseUpdate,
  recheckFreezeSignal,
  rejectUpdate,
  requestReleaseUpdate,
  requestRollbackUpdate,
  resumeUpdate,
  rollbackStatusQuery,
  serviceStateQuery,
  statusQuery,
  type Admission,
  type DecisionInput,
  type EmergencyRollbackInput,
  type ReleaseInput,
  type RollbackStatus,
  type ServiceState,
} from './messages';
import { ReleaseService, ReleaseStage, ReleaseVersion } from './search-attributes';
import type { serviceWorkflow } from './service';

/** Task queue of the orchestrator worker (coordinators, releases and their bookkeeping activities). */
export const RELEASE_TASK_QUEUE = 'releases';

// Queries and updates need the worker: while none polls, Temporal holds them until "no poller seen" (about 30 s).
// Callers hear sooner, in words: reads after READ_DEADLINE_MS, writes (updates) after WRITE_DEADLINE_MS.
const READ_DEADLINE_MS = 3_500;
const WRITE_DEADLINE_MS = 15_000;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_FAILED_PRECONDITION = 9;

function waitedForWorker(err: unknown): boolean {
  // Update calls report their deadline as this error rather than a gRPC status.
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  const grpc = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(grpc)) return false;
  const code: number = grpc.code;
  return (
    code === GRPC_DEADLINE_EXCEEDED ||
    (code === GRPC_FAILED_PRECONDITION && /no poller seen/i.test(grpc.details ?? grpc.message))
  );
}

/**
 * Runs a query or an update with a deadline. When it runs out and Temporal itself still answers, the worker is
 * away: a WORKER_UNAVAILABLE EngineError with `message`; otherwise Temporal is unreachable (TEMPORAL_UNAVAILABLE).
 */
async function needingWorker<T>(client: Client, deadlineMs: number, message: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await client.connection.withDeadline(Date.now() + deadlineMs, fn);
  } catch (err) {
    if (!waitedForWorker(err)) throw err;
    const temporalAnswers = await client.connection
      .withDeadline(Date.now() + 1000, () => client.workflowService.getSystemInfo({}))
      .then(
        () => true,
        () => false,
      );
    if (temporalAnswers) throw new EngineError('WORKER_UNAVAILABLE', message);
    throw new EngineError(
      'TEMPORAL_UNAVAILABLE',
      'the Temporal server cannot be reached right now; nothing was changed, try again shortly',
    );
  }
}

const NOT_POLLING = 'the release worker is not polling (it may be restarting)';

/** A query with the read deadline; `what` names what is being read, for the message. */
function read<T>(client: Client, what: string, query: () => Promise<T>): Promise<T> {
  return needingWorker(
    client,
    READ_DEADLINE_MS,
    `${NOT_POLLING}, so ${what} cannot be read now; try again shortly`,
    query,
  );
}

export interface StartedRelease extends Admission {
  releaseId: string;
}

function coordinator(service: string, taskQueue: string) {
  return new WithStartWorkflowOperation<typeof serviceWorkflow>('serviceWorkflow', {
    workflowId: serviceWorkflowId(service),
    taskQueue,
    args: [{ service }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `Release coordinator of ${service}: one release at a time, queue, emergency rollbacks`,
    typedSearchAttributes: [{ key: ReleaseService, value: service }],
  });
}

/** What the workflow refused an update with: its failure type, message, and the workflow in the way (if any). */
function refusalOf(err: WorkflowUpdateFailedError): { type: string | undefined; message: string; blockedBy?: string } {
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return { type: undefined, message: cause?.message ?? err.message };
  const [blockedBy] = cause.details ?? [];
  return {
    type: cause.type ?? undefined,
    message: cause.message,
    ...(typeof blockedBy === 'string' ? { blockedBy } : {}),
  };
}

/** True when a release or rollback is closed, or has its outcome and is only writing its last records. */
async function isFinishing(client: Client, workflowId: string): Promise<boolean> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    if ((await handle.describe()).status.name !== 'RUNNING') return true;
    if (workflowId.startsWith('release/')) return (await handle.query(statusQuery)).outcome !== undefined;
    if (workflowId.startsWith('rollback/')) return (await handle.query(rollbackStatusQuery)).finishedAt !== undefined;
    return false;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return true;
    throw err;
  }
}

/**
 * Starts a release under `release/<service>/<releaseId>` through the service's coordinator. While another release
 * is in progress this is refused (RELEASE_IN_PROGRESS) unless `queue`. Starting the same release id again returns
 * the existing release; the same id with a different version is refused.
 */
export async function startRelease(
  client: Client,
  request: Omit<ReleaseInput, 'authorization' | 'queued'>,
  options: { signer: DecisionSigner; taskQueue?: string; queue?: boolean },
): Promise<StartedRelease> {
  const { plan } = request;
  // Signed once: a retry below sends the very same request (the coordinator remembers its release id).
  const input: ReleaseInput = options.signer.sign(releaseWorkflowId(plan.service, plan.releaseId), 'release', request);
  let admission: Admission | undefined;
  for (let attempt = 1; !admission; attempt++) {
    try {
      admission = await needingWorker(
        client,
        WRITE_DEADLINE_MS,
        `${NOT_POLLING}: the request for release ${plan.releaseId} of ${plan.service} was not confirmed; send it again shortly (the same release id starts it at most once)`,
        () =>
          client.workflow.executeUpdateWithStart(requestReleaseUpdate, {
            args: [{ input, queue: options.queue ?? false }],
            startWorkflowOperation: coordinator(plan.service, options.taskQueue ?? RELEASE_TASK_QUEUE),
          }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowUpdateFailedError)) throw err;
      const refusal = refusalOf(err);
      // The release in the way may have just reached its outcome (it is writing its last audit records and
      // notifications) or closed before its coordinator noticed: wait for it a little, then try again.
      if (attempt < 20 && refusal.blockedBy && (await isFinishing(client, refusal.blockedBy))) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(3000, 200 * attempt)));
        continue;
      }
      throw new EngineError('RELEASE_IN_PROGRESS', refusal.message);
    }
  }
  if (admission.alreadyStarted) {
    const existing = await client.workflow.getHandle(admission.workflowId).describe();
    const version = existing.typedSearchAttributes.get(ReleaseVersion);
    if (version !== plan.version) {
      throw new EngineError(
        'RELEASE_ID_CONFLICT',
        `release ${plan.releaseId} of ${plan.service} already exists for version ${version ?? 'unknown'}, not ${plan.version}; use a new release id`,
      );
    }
  }
  return { ...admission, releaseId: plan.releaseId };
}

/** Which releases and rollbacks the service's coordinator runs and queues (none if it never ran). */
export async function getServiceState(client: Client, service: string): Promise<ServiceState> {
  try {
    return await read(client, `what ${service}'s coordinator runs and queues`, () =>
      client.workflow.getHandle(serviceWorkflowId(service)).query(serviceStateQuery),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { service, queued: [] };
    throw err;
  }
}

/** Asks the coordinator to abort what runs for the service and roll it back to its last known-good versions. */
export async function requestEmergencyRollback(
  client: Client,
  request: Omit<EmergencyRollbackInput, 'authorization' | 'queued' | 'avoid'>,
  options: { signer: DecisionSigner; taskQueue?: string },
): Promise<{ workflowId: string; aborted: string[]; alreadyStarted: boolean }> {
  const input: EmergencyRollbackInput = options.signer.sign(
    rollbackWorkflowId(request.service, request.rollbackId),
    'rollback',
    request,
  );
  try {
    return await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      `${NOT_POLLING}: the emergency rollback of ${input.service} was not confirmed; send it again shortly (the same rollback id starts it at most once)`,
      () =>
        client.workflow.executeUpdateWithStart(requestRollbackUpdate, {
          args: [input],
          startWorkflowOperation: coordinator(input.service, options.taskQueue ?? RELEASE_TASK_QUEUE),
        }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new EngineError('ROLLBACK_REFUSED', refusalOf(err).message);
    throw err;
  }
}

/** The release's state from its status query; undefined when there is no such release. */
export async function getReleaseStatus(
  client: Client,
  service: string,
  releaseId: string,
): Promise<ReleaseStatus | undefined> {
  const workflowId = releaseWorkflowId(service, releaseId);
  try {
    return await read(client, `the status of release ${releaseId} of ${service}`, () =>
      client.workflow.getHandle(workflowId).query(statusQuery),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    if (err instanceof QueryNotRegisteredError) return realRunStatus(client, workflowId, statusQuery);
    throw err;
  }
}

/**
 * The status of the newest run of `workflowId` that answers its status query. A run started directly on Temporal
 * under a finished release's (or rollback's) id is refused before it installs any handler: it must not hide the
 * real one.
 */
async function realRunStatus<T>(client: Client, workflowId: string, query: QueryDefinition<T>): Promise<T | undefined> {
  const runs: { runId: string; startTime: number }[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    runs.push({ runId: execution.runId, startTime: execution.startTime.getTime() });
  }
  for (const { runId } of runs.sort((a, b) => b.startTime - a.startTime)) {
    try {
      return await client.workflow.getHandle(workflowId, runId).query(query);
    } catch (err) {
      if (!(err instanceof QueryNotRegisteredError)) throw err;
    }
  }
  return undefined;
}

/** The emergency rollback's state; undefined when there is no such rollback. */
export async function getRollbackStatus(
  client: Client,
  service: string,
  rollbackId: string,
): Promise<RollbackStatus | undefined> {
  const workflowId = rollbackWorkflowId(service, rollbackId);
  try {
    return await read(client, `the status of rollback ${rollbackId} of ${service}`, () =>
      client.workflow.getHandle(workflowId).query(rollbackStatusQuery),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    if (err instanceof QueryNotRegisteredError) return realRunStatus(client, workflowId, rollbackStatusQuery);
    throw err;
  }
}

const REFUSAL_CODES: Record<RefusalCode | 'Unauthorized', EngineErrorCode> = {
  UnknownGate: 'GATE_NOT_FOUND',
  GateNotWaiting: 'GATE_NOT_WAITING',
  MissingRole: 'DECISION_FORBIDDEN',
  SelfApproval: 'DECISION_FORBIDDEN',
  Unauthorized: 'DECISION_FORBIDDEN',
  DuplicateDecision: 'DUPLICATE_DECISION',
};

/** A release's handle, after checking it exists and is still running (a finished release takes no decisions). */
async function runningRelease(client: Client, service: string, releaseId: string): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(releaseWorkflowId(service, releaseId));
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new EngineError('RELEASE_NOT_FOUND', `there is no release ${releaseId} of ${service}`);
    }
    throw err;
  }
  const stage = description.typedSearchAttributes.get(ReleaseStage);
  // A release that has its outcome may still run for a moment (last audit records, notifications): it is finished.
  if (description.status.name !== 'RUNNING' || (stage && isFinalStage(stage as ReleaseStageName))) {
    throw new EngineError(
      'RELEASE_FINISHED',
      `release ${releaseId} of ${service} has already finished (${stage ?? description.status.name.toLowerCase()})`,
    );
  }
  return handle;
}

/** Approves or rejects a gate as `input.principal`; refusals come back as EngineErrors with the workflow's words. */
export async function decideGate(
  client: Client,
  service: string,
  releaseId: string,
  decision: 'approve' | 'reject',
  input: Omit<DecisionInput, 'authorization'>,
  signer: DecisionSigner,
): Promise<Gate> {
  const handle = await runningRelease(client, service, releaseId);
  const signed = signer.sign(handle.workflowId, decision, input);
  try {
    return await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      `${NOT_POLLING}: the ${decision === 'approve' ? 'approval' : 'rejection'} of gate ${input.gate} was not confirmed and may still be applied when the worker is back; check the release (release.get) before deciding again`,
      () => handle.executeUpdate(decision === 'approve' ? approveUpdate : rejectUpdate, { args: [signed] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err);
      const code = REFUSAL_CODES[refusal.type as RefusalCode | 'Unauthorized'] ?? 'GATE_NOT_WAITING';
      throw new EngineError(code, refusal.message);
    }
    throw err;
  }
}

/** Pauses, resumes or aborts a running release, as a signed update. */
export async function controlRelease(
  client: Client,
  service: string,
  releaseId: string,
  action:
    | { kind: 'pause'; by: string; reason?: string }
    | { kind: 'resume'; by: string }
    | { kind: 'abort'; by: string; reason: string },
  signer: DecisionSigner,
): Promise<void> {
  const handle = await runningRelease(client, service, releaseId);
  const { kind, ...fields } = action;
  const update = kind === 'pause' ? pauseUpdate : kind === 'resume' ? resumeUpdate : abortUpdate;
  try {
    await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      `${NOT_POLLING}: the ${kind} of release ${releaseId} was not confirmed and may still be applied when the worker is back; check the release (release.get) before asking again`,
      () => handle.executeUpdate(update, { args: [signer.sign(handle.workflowId, kind, fields)] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err);
      throw new EngineError('DECISION_FORBIDDEN', refusal.message);
    }
    throw err;
  }
}

/** Tells every release waiting for a freeze to end that the calendar changed; returns how many were told. */
export async function recheckFreezes(client: Client): Promise<number> {
  let count = 0;
  for await (const execution of client.workflow.list({
    query: `ReleaseStage = "waiting-for-freeze" AND ExecutionStatus = "Running"`,
  })) {
    try {
      await client.workflow.getHandle(execution.workflowId, execution.runId).signal(recheckFreezeSignal);
      count += 1;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return count;
}
