// Client-side reads across many workflows, through Temporal visibility (the search attributes every release keeps
// current): the release list with its filters, the facts DORA figures are computed from, and audit trail reads.
// Lives in the API, its only user (workflow code never imports @temporalio/client).
import {
  type Client,
  type WorkflowExecutionInfo,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { type FinishedRelease, type FinishedRollback, mergeTrainReleases } from '../domain/dora';
import { EngineError } from '../domain/errors';
import { isFinalStage, type ReleaseStage as Stage, type ReleaseStatus } from '../domain/release-status';
import type { auditReadWorkflow } from '../workflows/audit-read';
import type { AuditReadRequest, AuditReadResult, RollbackStatus } from '../workflows/messages';
import {
  ReleaseChangeClass,
  ReleaseRegions,
  ReleaseRequestedBy,
  ReleaseService,
  ReleaseStage,
  ReleaseTrain,
  ReleaseVersion,
} from '../workflows/search-attributes';

export interface ReleaseListFilter {
  service?: string;
  stage?: Stage;
  /** `running` for releases still in flight, else the final result. */
  outcome?: 'running' | 'succeeded' | 'rolled-back' | 'failed' | 'aborted';
  requestedBy?: string;
  /** ISO times: releases started in [startedAfter, startedBefore). */
  startedAfter?: string;
  startedBefore?: string;
  limit: number;
}

export interface ReleaseSummary {
  releaseId: string;
  service: string;
  version: string;
  stage: string;
  changeClass: string;
  requestedBy: string;
  regions: string[];
  running: boolean;
  startedAt: string;
  closedAt?: string;
  workflowId: string;
}

/** A visibility query string literal. Inputs are validated names, but quote defensively all the same. */
function literal(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function releaseListQuery(filter: Omit<ReleaseListFilter, 'limit'>): string {
  const clauses = ['WorkflowType = "releaseWorkflow"'];
  if (filter.service) clauses.push(`ReleaseService = ${literal(filter.service)}`);
  if (filter.stage) clauses.push(`ReleaseStage = ${literal(filter.stage)}`);
  if (filter.outcome === 'running') clauses.push('ExecutionStatus = "Running"');
  else if (filter.outcome) clauses.push(`ReleaseStage = ${literal(filter.outcome)}`);
  if (filter.requestedBy) clauses.push(`ReleaseRequestedBy = ${literal(filter.requestedBy)}`);
  if (filter.startedAfter) clauses.push(`StartTime >= ${literal(filter.startedAfter)}`);
  if (filter.startedBefore) clauses.push(`StartTime < ${literal(filter.startedBefore)}`);
  return clauses.join(' AND ');
}

function summaryOf(info: WorkflowExecutionInfo): ReleaseSummary {
  const attributes = info.typedSearchAttributes;
  const [, service = '', releaseId = ''] = info.workflowId.split('/');
  return {
    releaseId,
    service: attributes.get(ReleaseService) ?? service,
    version: attributes.get(ReleaseVersion) ?? '',
    stage: attributes.get(ReleaseStage) ?? info.status.name.toLowerCase(),
    changeClass: attributes.get(ReleaseChangeClass) ?? '',
    requestedBy: attributes.get(ReleaseRequestedBy) ?? '',
    regions: attributes.get(ReleaseRegions) ?? [],
    running: info.status.name === 'RUNNING',
    startedAt: info.startTime.toISOString(),
    ...(info.closeTime ? { closedAt: info.closeTime.toISOString() } : {}),
    workflowId: info.workflowId,
  };
}

/** Releases matching `filter`, newest first. */
export async function listReleases(client: Client, filter: ReleaseListFilter): Promise<ReleaseSummary[]> {
  const found: ReleaseSummary[] = [];
  for await (const info of client.workflow.list({ query: releaseListQuery(filter), pageSize: filter.limit })) {
    found.push(summaryOf(info));
    if (found.length >= filter.limit) break;
  }
  return found.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** The status a finished release ended with: its result, or the status carried by its failure. */
async function finalStatus(client: Client, workflowId: string): Promise<ReleaseStatus | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).result()) as ReleaseStatus;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause;
    const [status] = cause instanceof ApplicationFailure ? (cause.details ?? []) : [];
    return (status as ReleaseStatus | undefined) ?? undefined;
  }
}

async function collect(client: Client, query: string, max: number): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query })) {
    found.push(info);
    if (found.length >= max) break;
  }
  return found;
}

/** The releases and emergency rollbacks of `service` that finished in [from, to): what DORA figures are made of. */
export async function doraFacts(
  client: Client,
  service: string,
  period: { from: string; to: string },
  artifactCreatedAt: (version: string) => Promise<string | undefined>,
  options: { max?: number } = {},
): Promise<{ releases: FinishedRelease[]; rollbacks: FinishedRollback[] }> {
  const max = options.max ?? 1000;
  const closedIn = `CloseTime >= ${literal(period.from)} AND CloseTime < ${literal(period.to)} AND ExecutionStatus != "Running"`;
  const [releaseInfos, rollbackInfos] = await Promise.all([
    collect(client, `WorkflowType = "releaseWorkflow" AND ReleaseService = ${literal(service)} AND ${closedIn}`, max),
    collect(
      client,
      `WorkflowType = "emergencyRollbackWorkflow" AND ReleaseService = ${literal(service)} AND ${closedIn}`,
      max,
    ),
  ]);

  const releases = await inBatches(releaseInfos, async (info): Promise<FinishedRelease> => {
    const summary = summaryOf(info);
    const train = info.typedSearchAttributes.get(ReleaseTrain);
    const stage = summary.stage as Stage;
    // A release terminated by hand has no final stage: it did not deliver its change, so it counts as failed.
    const result = isFinalStage(stage) ? (stage as FinishedRelease['result']) : 'failed';
    let rollbackStartedAt: string | undefined;
    if (result !== 'succeeded') {
      const status = await finalStatus(client, info.workflowId);
      // Only a release that had changed a region restored anything; one stopped before its first region did not.
      if (status?.regions.some((r) => r.status === 'reverted')) {
        rollbackStartedAt = status.timeline.find((e) => e.message.startsWith('rolling back'))?.at;
      }
    }
    const createdAt = await artifactCreatedAt(summary.version);
    return {
      releaseId: summary.releaseId,
      version: summary.version,
      result,
      startedAt: summary.startedAt,
      finishedAt: summary.closedAt ?? summary.startedAt,
      ...(createdAt ? { artifactCreatedAt: createdAt } : {}),
      ...(rollbackStartedAt ? { rollbackStartedAt } : {}),
      ...(train ? { train } : {}),
    };
  });

  const restored = await inBatches(rollbackInfos, async (info): Promise<FinishedRollback[]> => {
    let status: RollbackStatus;
    try {
      status = (await client.workflow.getHandle(info.workflowId).result()) as RollbackStatus;
    } catch {
      return []; // a failed rollback restored nothing
    }
    return [
      {
        rollbackId: status.rollbackId,
        requestedAt: info.startTime.toISOString(),
        finishedAt: (info.closeTime ?? info.startTime).toISOString(),
        undidVersions: status.regions.flatMap((r) => (r.status === 'reverted' && r.from ? [r.from] : [])),
      },
    ];
  });
  const rollbacks = restored.flat();
  return { releases: mergeTrainReleases(releases), rollbacks };
}

/** Maps `items` with `fn`, a few at a time: one round trip per item, without flooding the server. */
async function inBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, size = 16): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return results;
}

/** How long the API waits for the orchestrator to answer an audit read. */
const AUDIT_READ_TIMEOUT = '30s';

/** Reads the audit trail through the orchestrator worker, on record as a read by `requestedBy`. */
export async function readAuditTrail(
  client: Client,
  request: AuditReadRequest,
  requestedBy: string,
  options: { taskQueue: string },
): Promise<AuditReadResult> {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '');
  const what =
    request.kind === 'verify' ? 'verify' : `list${request.filter.service ? ` ${request.filter.service}` : ''}`;
  try {
    return await client.workflow.execute<typeof auditReadWorkflow>('auditReadWorkflow', {
      workflowId: `audit-read/${stamp}-${crypto.randomUUID().slice(0, 6)}`,
      taskQueue: options.taskQueue,
      args: [{ request, requestedBy }],
      workflowExecutionTimeout: AUDIT_READ_TIMEOUT,
      staticSummary: `audit trail ${what}, read by ${requestedBy}`,
    });
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof TimeoutFailure) {
      throw new EngineError(
        'WORKER_UNAVAILABLE',
        `the orchestrator worker did not answer within ${AUDIT_READ_TIMEOUT}: is it running (task queue ${options.taskQueue}), and can it reach the audit database?`,
      );
    }
    throw err;
  }
}
