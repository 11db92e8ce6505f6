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
import { read } from './worker-calls';

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
