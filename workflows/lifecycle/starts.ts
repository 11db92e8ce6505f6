// Starting releases and emergency rollbacks through the service's coordinator (update-with-start), signed by the
// API's key.
import type { Client } from '@temporalio/client';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { EngineError } from '../../domain/errors';
import { releaseWorkflowId, rollbackWorkflowId, serviceWorkflowId } from '../../domain/names';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import {
  requestReleaseUpdate,
  requestRollbackUpdate,
  rollbackStatusQuery,
  statusQuery,
  type Admission,
  type EmergencyRollbackInput,
  type ReleaseInput,
} from '../messages';
import { ReleaseService, ReleaseVersion } from '../search-attributes';
import type { serviceWorkflow } from '../service';
import { needingWorker, refusalOf, WRITE_DEADLINE_MS } from './worker-calls';

/** Task queue of the orchestrator worker (coordinators, releases and their bookkeeping activities). */
export const RELEASE_TASK_QUEUE = 'releases';

export interface StartedRelease extends Admission {
  releaseId: string;
}

function coordinator(service: string, taskQueue: string, limits: CoordinatorLimits) {
  const { queueLimit, historyLimit } = limits;
  return new WithStartWorkflowOperation<typeof serviceWorkflow>('serviceWorkflow', {
    workflowId: serviceWorkflowId(service),
    taskQueue,
    args: [
      {
        service,
        ...(queueLimit !== undefined ? { queueLimit } : {}),
        ...(historyLimit !== undefined ? { historyLimit } : {}),
      },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `Release coordinator of ${service}: one release at a time, queue, emergency rollbacks`,
    typedSearchAttributes: [{ key: ReleaseService, value: service }],
  });
}

/** For the service's coordinator when a start creates it (tests set them low). */
export interface CoordinatorLimits {
  /** The most releases it queues. */
  queueLimit?: number;
  /** The history length at which it continues-as-new. */
  historyLimit?: number;
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
  options: CoordinatorLimits & {
    signer: DecisionSigner;
    taskQueue?: string;
    queue?: boolean;
  },
): Promise<StartedRelease> {
  const { plan } = request;
  // Signed once: a retry below sends the very same request (the coordinator remembers its release id).
  const input: ReleaseInput = options.signer.sign(releaseWorkflowId(plan.service, plan.releaseId), 'release', request);
  return submitRelease(client, input, options);
}

/**
 * Hands a release request the API signed to the service's coordinator: the second half of startRelease, and what a
 * train does with the member requests the API signed when the train was requested. Idempotent by release id.
 */
export async function submitRelease(
  client: Client,
  input: ReleaseInput,
  options: CoordinatorLimits & { taskQueue?: string; queue?: boolean },
): Promise<StartedRelease> {
  const { plan } = input;
  // A workflow under this id may exist that the coordinator no longer remembers (it remembers the last SEEN_LIMIT ids)
  // or never knew (started directly on Temporal): its id can never be used again, and the coordinator answers before
  // it learns that, so look first.
  const existing = await versionOf(client, releaseWorkflowId(plan.service, plan.releaseId));
  if (existing !== undefined) return alreadyThere(plan, existing);
  let admission: Admission | undefined;
  for (let attempt = 1; !admission; attempt++) {
    try {
      admission = await needingWorker(
        client,
        WRITE_DEADLINE_MS,
        (why) =>
          `${why}: the request for release ${plan.releaseId} of ${plan.service} was not confirmed and the release may have started; ask again with the same release id (it starts at most once)`,
        () =>
          client.workflow.executeUpdateWithStart(requestReleaseUpdate, {
            args: [{ input, queue: options.queue ?? false }],
            startWorkflowOperation: coordinator(plan.service, options.taskQueue ?? RELEASE_TASK_QUEUE, options),
          }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowUpdateFailedError)) throw err;
      const refusal = refusalOf(err);
      if (refusal.type === 'QueueFull') throw new EngineError('QUEUE_FULL', refusal.message);
      // The release in the way may have just reached its outcome (it is writing its last audit records and
      // notifications) or closed before its coordinator noticed: wait for it a little, then try again.
      if (attempt < 20 && refusal.blockedBy && (await isFinishing(client, refusal.blockedBy))) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(3000, 200 * attempt)));
        continue;
      }
      throw new EngineError('RELEASE_IN_PROGRESS', refusal.message);
    }
  }
  // The coordinator answers in the workflow task that starts the release (or from its memory of one it started);
  // Temporal creates the release's workflow a moment later. The caller may act on the release as soon as this
  // returns, so return once it exists, asking Temporal, not the worker.
  const version = await versionOnceItExists(client, admission.workflowId);
  if (version === undefined) {
    // An id the coordinator remembers whose workflow Temporal no longer keeps (past its retention).
    if (admission.alreadyStarted) return { ...admission, releaseId: plan.releaseId };
    throw new EngineError(
      'WORKER_UNAVAILABLE',
      `the coordinator of ${plan.service} admitted release ${plan.releaseId} but its workflow did not start within ${WRITE_DEADLINE_MS / 1000}s; check the release (release.get), or ask again with the same release id (it starts at most once)`,
    );
  }
  // Another version under this id (started outside the coordinator a moment ago): a conflict.
  if (version !== plan.version) return alreadyThere(plan, version);
  return { ...admission, releaseId: plan.releaseId };
}

/** The version of the release under `workflowId` once it exists, or undefined if it does not within WRITE_DEADLINE_MS. */
async function versionOnceItExists(client: Client, workflowId: string): Promise<string | null | undefined> {
  const deadline = Date.now() + WRITE_DEADLINE_MS;
  for (let attempt = 0; ; attempt++) {
    const version = await versionOf(client, workflowId);
    if (version !== undefined || Date.now() >= deadline) return version;
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, 10 * 2 ** attempt)));
  }
}

/** The version of the release under `workflowId` (null if it names none), or undefined when there is no such workflow. */
async function versionOf(client: Client, workflowId: string): Promise<string | null | undefined> {
  try {
    const described = await client.workflow.getHandle(workflowId).describe();
    return described.typedSearchAttributes.get(ReleaseVersion) ?? null;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** A start of a release id that exists: the same release again (idempotent), or a conflict if the version differs. */
function alreadyThere(plan: ReleaseInput['plan'], version: string | null): StartedRelease {
  if (version !== plan.version) {
    throw new EngineError(
      'RELEASE_ID_CONFLICT',
      `release ${plan.releaseId} of ${plan.service} already exists for version ${version ?? 'unknown'}, not ${plan.version}; use a new release id`,
    );
  }
  return {
    workflowId: releaseWorkflowId(plan.service, plan.releaseId),
    alreadyStarted: true,
    queuedBehind: [],
    releaseId: plan.releaseId,
  };
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
  return submitRollback(client, input, options);
}

/** Hands an emergency rollback the API signed to the service's coordinator (idempotent by rollback id). */
export async function submitRollback(
  client: Client,
  input: EmergencyRollbackInput,
  options: { taskQueue?: string },
): Promise<{ workflowId: string; aborted: string[]; alreadyStarted: boolean }> {
  try {
    return await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      (why) =>
        `${why}: the emergency rollback of ${input.service} was not confirmed and may have started; ask again with the same rollback id (it starts at most once)`,
      () =>
        client.workflow.executeUpdateWithStart(requestRollbackUpdate, {
          args: [input],
          startWorkflowOperation: coordinator(input.service, options.taskQueue ?? RELEASE_TASK_QUEUE, {}),
        }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err);
      // A train's undo waits for the service's release in flight rather than abort it (workflows/service.ts).
      if (refusal.type === 'ServiceBusy') throw new EngineError('RELEASE_IN_PROGRESS', refusal.message);
      throw new EngineError('ROLLBACK_REFUSED', refusal.message);
    }
    throw err;
  }
}
