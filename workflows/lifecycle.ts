// Client-side helpers for the release workflow: start it under its deterministic id and read its state.
// Used by the API and tests; never bundled into workflow code (it is not imported by workflows/index.ts).
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { EngineError } from '../domain/errors';
import { releaseWorkflowId } from '../domain/names';
import type { ReleaseStatus } from '../domain/release-status';
import { statusQuery, type ReleaseInput } from './messages';
import type { releaseWorkflow } from './release';
import {
  ReleaseChangeClass,
  ReleaseRegions,
  ReleaseRequestedBy,
  ReleaseService,
  ReleaseStage,
  ReleaseVersion,
} from './search-attributes';

/** Task queue of the orchestrator worker (release workflows and their bookkeeping activities). */
export const RELEASE_TASK_QUEUE = 'releases';

export interface StartedRelease {
  workflowId: string;
  runId: string | undefined;
  /** True when a release with this id already existed; nothing new was started. */
  alreadyStarted: boolean;
}

/**
 * Starts a release under `release/<service>/<releaseId>`. Starting the same release id again returns the existing
 * release instead of a second one; the same id with a different version is refused.
 */
export async function startRelease(
  client: Client,
  input: ReleaseInput,
  options: { taskQueue?: string } = {},
): Promise<StartedRelease> {
  const { plan } = input;
  const workflowId = releaseWorkflowId(plan.service, plan.releaseId);
  try {
    const handle = await client.workflow.start<typeof releaseWorkflow>('releaseWorkflow', {
      workflowId,
      taskQueue: options.taskQueue ?? RELEASE_TASK_QUEUE,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `Release ${plan.service}@${plan.version} (${plan.changeClass}) requested by ${input.requestedBy}`,
      typedSearchAttributes: [
        { key: ReleaseService, value: plan.service },
        { key: ReleaseVersion, value: plan.version },
        { key: ReleaseStage, value: 'validating' },
        { key: ReleaseChangeClass, value: plan.changeClass },
        { key: ReleaseRegions, value: plan.waves.flatMap((w) => w.regions.map((r) => r.region)) },
        { key: ReleaseRequestedBy, value: input.requestedBy },
      ],
    });
    return { workflowId, runId: handle.firstExecutionRunId, alreadyStarted: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const existing = await client.workflow.getHandle(workflowId).describe();
    const version = existing.typedSearchAttributes.get(ReleaseVersion);
    if (version !== plan.version) {
      throw new EngineError(
        'RELEASE_ID_CONFLICT',
        `release ${plan.releaseId} of ${plan.service} already exists for version ${version ?? 'unknown'}, not ${plan.version}; use a new release id`,
      );
    }
    return { workflowId, runId: existing.runId, alreadyStarted: true };
  }
}

/** The release's state from its status query; undefined when there is no such release. */
export async function getReleaseStatus(
  client: Client,
  service: string,
  releaseId: string,
): Promise<ReleaseStatus | undefined> {
  try {
    return await client.workflow.getHandle(releaseWorkflowId(service, releaseId)).query(statusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
