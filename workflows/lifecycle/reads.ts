// Reading the state of a service's coordinator, a release or an emergency rollback, within the read deadline.
import type { Client } from '@temporalio/client';
import { QueryNotRegisteredError } from '@temporalio/client';
import { WorkflowNotFoundError, type QueryDefinition } from '@temporalio/common';
import { releaseWorkflowId, rollbackWorkflowId, serviceWorkflowId } from '../../domain/names';
import { type ReleaseStatus } from '../../domain/release-status';
import {
  rollbackStatusQuery,
  serviceStateQuery,
  statusQuery,
  type RollbackStatus,
  type ServiceState,
} from '../messages';
import { EngineError } from '../../domain/errors';
import { COULD_NOT_ANSWER, read, TRY_LATER } from './worker-calls';

/** Which releases and rollbacks the service's coordinator runs and queues (none if it never ran). */
export async function getServiceState(client: Client, service: string): Promise<ServiceState> {
  const what = `what ${service}'s coordinator runs and queues`;
  try {
    return await read(client, what, () =>
      client.workflow.getHandle(serviceWorkflowId(service)).query(serviceStateQuery),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { service, queued: [] };
    // The coordinator always has this handler: the worker failed to answer (see realRunStatus).
    if (err instanceof QueryNotRegisteredError) {
      throw new EngineError('WORKER_UNAVAILABLE', `${COULD_NOT_ANSWER}, so ${what} ${TRY_LATER}`);
    }
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
  const what = `the status of release ${releaseId} of ${service}`;
  try {
    return await read(client, what, () => client.workflow.getHandle(workflowId).query(statusQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    if (err instanceof QueryNotRegisteredError) return realRunStatus(client, workflowId, statusQuery, what);
    throw err;
  }
}

/**
 * The status of the newest run of `workflowId` that answers its status query. A run started directly on Temporal
 * under a finished release's (or rollback's) id is refused before it installs any handler: it must not hide the
 * real one. Temporal reports a query the worker failed to answer (one shutting down, say) the same way, and the
 * payload codec hides the reason, so a run still running that cannot answer means the worker cannot, for now.
 */
async function realRunStatus<T>(
  client: Client,
  workflowId: string,
  query: QueryDefinition<T>,
  what: string,
): Promise<T | undefined> {
  const runs: { runId: string; startTime: number; running: boolean }[] = [];
  await read(client, what, async () => {
    for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
      runs.push({
        runId: execution.runId,
        startTime: execution.startTime.getTime(),
        running: execution.status.name === 'RUNNING',
      });
    }
  });
  for (const { runId, running } of runs.sort((a, b) => b.startTime - a.startTime)) {
    try {
      return await read(client, what, () => client.workflow.getHandle(workflowId, runId).query(query));
    } catch (err) {
      if (!(err instanceof QueryNotRegisteredError)) throw err;
      if (running) throw new EngineError('WORKER_UNAVAILABLE', `${COULD_NOT_ANSWER}, so ${what} ${TRY_LATER}`);
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
  const what = `the status of rollback ${rollbackId} of ${service}`;
  try {
    return await read(client, what, () => client.workflow.getHandle(workflowId).query(rollbackStatusQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    if (err instanceof QueryNotRegisteredError) return realRunStatus(client, workflowId, rollbackStatusQuery, what);
    throw err;
  }
}
