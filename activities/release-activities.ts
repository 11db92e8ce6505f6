// Orchestrator activities: run on the release task queue, next to the workflow.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, type QueryDefinition, WorkflowNotFoundError } from '@temporalio/common';
import { EngineError } from '../domain/errors';
import { judgeEvidence, type EvidencePolicy, type RuleFailure } from '../domain/evidence';
import { evidenceFrom } from '../providers/artifacts/attestations';
import type { ReleaseResult } from '../domain/release-status';
import { trainWorkflowId } from '../domain/workflow-ids';
import { submitRelease, submitRollback } from '../workflows/lifecycle/starts';
import {
  rollbackStatusQuery,
  serviceStateQuery,
  statusQuery,
  trainStatusQuery,
  type EmergencyRollbackInput,
  type ReleaseInput,
} from '../workflows/messages';
import type { ArtifactRecord } from '../domain/artifact';
import { serviceWorkflowId } from '../domain/names';
import type { ReleaseCalendar } from '../domain/calendar';
import type { LedgerRecord } from '../domain/ledger';
import type { ArtifactStore, PromotionRecord } from '../providers/artifacts/artifact-store';
import type { ArtifactVerifier } from '../providers/artifacts/verifier';
import type { CalendarStore } from '../providers/calendar-store';
import type { ConfigStore } from '../providers/config-store/config-store';
import { configParity, describeParity } from '../providers/config-store/parity';
import type { VersionLedger } from '../providers/config-store/version-ledger';
import { translateErrors } from './errors';
import { createCheckActivities, type CheckActivityDeps } from './check-activities';
import { createGovernanceActivities, type GovernanceActivityDeps } from './governance-activities';
import { createMigrationActivities, type MigrationActivityDeps } from './migration-activities';

export interface ReleaseActivityDeps extends GovernanceActivityDeps, MigrationActivityDeps, CheckActivityDeps {
  /** Environment config (parity between environments); the ledger and calendar live in the same store. */
  config: ConfigStore;
  artifacts: ArtifactStore;
  /** Checks digests and signatures before anything is released. */
  verifier: ArtifactVerifier;
  ledger: VersionLedger;
  calendar: CalendarStore;
}

interface ArtifactInput {
  service: string;
  version: string;
  signatureRequired: boolean;
}

export function createReleaseActivities(deps: ReleaseActivityDeps) {
  const { artifacts, verifier, ledger, calendar, config } = deps;
  return {
    ...createGovernanceActivities(deps),
    ...createMigrationActivities(deps),
    ...createCheckActivities(deps),

    /** Finds `service@version` and verifies it: bytes against the digest, signature against the trusted keys. */
    async resolveArtifact(input: ArtifactInput): Promise<ArtifactRecord & { signedBy?: string }> {
      return translateErrors(async () => {
        const { record, signedBy } = await verifier.verify(input.service, input.version, input);
        return { ...record, ...(signedBy ? { signedBy } : {}) };
      });
    },

    /** Verifies the artifact again (it may have changed since validation) and marks it released by this release. */
    async promoteArtifact(input: ArtifactInput & { releaseId: string }): Promise<PromotionRecord> {
      return translateErrors(async () => {
        await verifier.verify(input.service, input.version, input);
        return artifacts.promote(input.service, input.version, input.releaseId);
      });
    },

    /** Takes the artifact's release back (compensation of promoteArtifact). */
    async demoteArtifact(input: {
      service: string;
      version: string;
      releaseId: string;
      reason: string;
    }): Promise<PromotionRecord> {
      return translateErrors(() => artifacts.demote(input.service, input.version, input.releaseId, input.reason));
    },

    /** Records in the version ledger that a region now runs a version. Safe to repeat. */
    async recordRegionVersion(input: {
      service: string;
      region: string;
      version: string;
      digest?: string;
      releaseId: string;
      recordedAt: string;
      rolledBackFrom?: string;
      reason?: string;
    }): Promise<void> {
      const { service, region, ...entry } = input;
      await ledger.record(service, region, entry);
    },

    /** Records the version a region was found running, if the ledger does not already say so. */
    async observeRegionVersion(input: { service: string; region: string; version: string; recordedAt: string }) {
      return ledger.observe(input.service, input.region, input.version, input.recordedAt);
    },

    /** observeRegionVersion for the regions of one wave at once (each is idempotent, so a retry is too). */
    async observeRegionVersions(input: {
      service: string;
      regions: { region: string; version: string }[];
      recordedAt: string;
    }) {
      for (const { region, version } of input.regions) {
        await ledger.observe(input.service, region, version, input.recordedAt);
      }
    },

    /** The promotion state of each version (released, demoted by a rollback, ...): a rollback never goes to a demoted one. */
    async artifactPromotions(input: { service: string; versions: string[] }): Promise<Record<string, PromotionRecord>> {
      const entries = await Promise.all(
        input.versions.map(async (version) => [version, await artifacts.promotion(input.service, version)] as const),
      );
      return Object.fromEntries(entries);
    },

    /** The region's ledger history, oldest first. */
    async ledgerHistory(input: { service: string; region: string }): Promise<LedgerRecord[]> {
      return ledger.history(input.service, input.region);
    },

    /** Whether two environments of the service define the same config keys (values differ by design). */
    async checkConfigParity(input: { service: string; base: string; other: string }) {
      const report = await configParity(config, input.service, input.base, input.other);
      return { ...report, description: describeParity(report) };
    },

    /**
     * Whether the service's coordinator really admitted `workflowId` (it is the one in progress). An admission is a
     * signal, which anyone with write access to the namespace could send: the release asks the coordinator itself.
     */
    async confirmAdmission(input: {
      service: string;
      workflowId: string;
    }): Promise<{ admitted: boolean; active?: string }> {
      try {
        const state = await Context.current()
          .client.workflow.getHandle(serviceWorkflowId(input.service))
          .query(serviceStateQuery);
        return {
          admitted: state.active?.workflowId === input.workflowId,
          ...(state.active ? { active: state.active.workflowId } : {}),
        };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { admitted: false };
        throw err;
      }
    },

    /**
     * Which of `workflowIds` have closed (or are gone): the coordinator's check on a release or rollback it did not
     * start itself (carried over continue-as-new), whose end it learns only from a signal that anyone could send.
     * A workflow reports its end just before it closes: with `waitMs`, one still running is looked at again until it
     * closes or the time is up.
     */
    async closedWorkflows(input: { workflowIds: string[]; waitMs?: number }): Promise<string[]> {
      const { client } = Context.current();
      const isClosed = async (workflowId: string) => {
        try {
          return (await client.workflow.getHandle(workflowId).describe()).status.name !== 'RUNNING';
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return true;
          throw err;
        }
      };
      const deadline = Date.now() + (input.waitMs ?? 0);
      const closed = new Set<string>();
      for (;;) {
        const open = input.workflowIds.filter((id) => !closed.has(id));
        for (const [i, done] of (await Promise.all(open.map(isClosed))).entries()) if (done) closed.add(open[i]!);
        if (closed.size === input.workflowIds.length || Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
        Context.current().heartbeat();
      }
      return [...closed];
    },

    // ---- release trains (workflows/train.ts) ----

    /**
     * Hands a train member's release, signed by the API when the train was requested, to its service's coordinator.
     * Idempotent by release id: a retry after the coordinator admitted it finds the release and starts nothing.
     */
    async startTrainRelease(input: { input: ReleaseInput; queue: boolean }): Promise<{ queuedBehind: string[] }> {
      const { client, info } = Context.current();
      try {
        const started = await submitRelease(client, input.input, { taskQueue: info.taskQueue, queue: input.queue });
        return { queuedBehind: started.queuedBehind };
      } catch (err) {
        if (
          err instanceof EngineError &&
          ['RELEASE_IN_PROGRESS', 'QUEUE_FULL', 'RELEASE_ID_CONFLICT'].includes(err.code)
        )
          throw ApplicationFailure.nonRetryable(err.message, 'ServiceBusy');
        throw err;
      }
    },

    /**
     * Waits for a release to end (Temporal's long poll on its result, no polling of the release) and says how: the
     * outcome its status query gives, or the failure that ended it otherwise.
     */
    async awaitReleaseEnd(input: { workflowId: string }): Promise<{ result: ReleaseResult; reason?: string }> {
      const { status, ended } = await awaitEnd(input.workflowId, statusQuery);
      if (status?.outcome) {
        return { result: status.outcome.result, ...(status.outcome.reason ? { reason: status.outcome.reason } : {}) };
      }
      return { result: 'failed', reason: ended ?? 'the release ended without an outcome' };
    },

    /** Hands the emergency rollback that undoes a train member to its coordinator; retried while the service is busy. */
    async startTrainUndo(rollback: EmergencyRollbackInput): Promise<void> {
      const { client, info } = Context.current();
      try {
        await submitRollback(client, rollback, { taskQueue: info.taskQueue });
      } catch (err) {
        if (err instanceof EngineError && err.code === 'ROLLBACK_REFUSED')
          throw ApplicationFailure.nonRetryable(err.message, 'Unauthorized');
        throw err;
      }
    },

    /** Waits for an emergency rollback to end; whether every region went back. */
    async awaitRollbackEnd(input: { workflowId: string }): Promise<{ ok: boolean; reason?: string }> {
      const { status, ended } = await awaitEnd(input.workflowId, rollbackStatusQuery);
      if (status?.stage === 'succeeded') return { ok: true };
      const failed = status?.regions.filter((r) => r.status === 'failed').map((r) => r.region) ?? [];
      return {
        ok: false,
        reason: failed.length > 0 ? `it failed in ${failed.join(', ')}` : (ended ?? 'it ended without going back'),
      };
    },

    /**
     * Whether train `trainId` asks for `workflowId` now: the train runs (on this task queue, as the engine's train
     * workflow) and has that member's release starting or running, or is undoing that member. A member request read
     * from the train's history and replayed on Temporal gets no.
     */
    async confirmTrainStep(input: { trainId: string; workflowId: string }): Promise<{ ok: boolean; reason?: string }> {
      const { client, info } = Context.current();
      const handle = client.workflow.getHandle(trainWorkflowId(input.trainId));
      try {
        const described = await handle.describe();
        if (described.type !== 'trainWorkflow' || described.taskQueue !== info.taskQueue) {
          return { ok: false, reason: `${trainWorkflowId(input.trainId)} is not one of this engine's trains` };
        }
        if (described.status.name !== 'RUNNING') return { ok: false, reason: `train ${input.trainId} has ended` };
        const train = await handle.query(trainStatusQuery);
        if (train.undo.some((u) => u.workflowId === input.workflowId && u.state === 'undoing')) return { ok: true };
        if (train.aborted) return { ok: false, reason: `train ${input.trainId} was aborted` };
        const step = train.steps.find((s) => s.workflowId === input.workflowId);
        if (step && (step.state === 'starting' || step.state === 'running')) return { ok: true };
        return { ok: false, reason: `train ${input.trainId} is not releasing it now` };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { ok: false, reason: `there is no train ${input.trainId}` };
        throw err;
      }
    },

    /**
     * Judges the artifact's attestations against an evidence policy (issue 16): those that count (signed by a key the
     * service trusts, about this digest), what the policy finds wrong with them, and why the others do not count.
     */
    async judgeEvidence(input: {
      service: string;
      version: string;
      policy: EvidencePolicy;
    }): Promise<{ failures: RuleFailure[]; ignored: string[]; counted: string[] }> {
      const record = await artifacts.resolve(input.service, input.version);
      if (!record)
        throw ApplicationFailure.nonRetryable(
          `there is no artifact ${input.service}@${input.version}`,
          'ArtifactNotFound',
        );
      const envelopes = (await artifacts.attestations?.(input.service, input.version)) ?? [];
      const { evidence, ignored } = evidenceFrom(envelopes, record.digest, await verifier.trustedKeys(input.service));
      const counted = (['vulnerabilities', 'tests', 'perf', 'licenses'] as const).filter(
        (k) => evidence[k] !== undefined,
      );
      return { failures: judgeEvidence(input.policy, evidence), ignored, counted };
    },

    /** The release calendar (freeze windows). */
    async loadCalendar(): Promise<ReleaseCalendar> {
      return calendar.load();
    },
  };
}

/**
 * Waits, heartbeating, for a workflow to end (Temporal's long poll on its result: nothing polls the workflow), then
 * reads its status: `ended` is the failure that ended it, if one did. Cancellation-aware: a worker shutting down
 * cancels the wait, and the train waits again on another. A workflow that ended on its own terms has a status: if it
 * cannot be read now (its worker restarting), this throws and the activity is retried rather than the workflow taken
 * for failed.
 */
async function awaitEnd<T>(
  workflowId: string,
  query: QueryDefinition<T>,
): Promise<{ status: T | undefined; ended: string | undefined }> {
  const context = Context.current();
  const handle = context.client.workflow.getHandle(workflowId);
  const beat = setInterval(() => context.heartbeat(), 5_000);
  try {
    let ended: string | undefined;
    await Promise.race([
      handle.result().catch((err: Error) => {
        ended = (err.cause as Error | undefined)?.message ?? err.message;
      }),
      context.cancelled,
    ]);
    const status = await handle.query(query).catch((err: unknown) => {
      if (ended === undefined) throw err;
      return undefined;
    });
    return { status, ended };
  } finally {
    clearInterval(beat);
  }
}

export type ReleaseActivities = ReturnType<typeof createReleaseActivities>;
