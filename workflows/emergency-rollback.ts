// Emergency rollback, for SREs: put a service (every region, or the named ones) back on its last known-good version
// from the version ledger, all regions in parallel, with no approval but an audited reason. The service coordinator
// aborts any release in flight first and admits this workflow once that release has finished its own rollback.
import { condition, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RegionActivities, ReleaseActivities } from '../activities';
import { rollbackTarget, type LedgerRecord, type UnsafeVersions } from '../domain/ledger';
import { regionTaskQueue } from '../domain/workflow-ids';
import {
  admitSignal,
  rollbackStatusQuery,
  type EmergencyRollbackInput,
  type RollbackRegionState,
  type RollbackStatus,
  signedRollbackFields,
} from './messages';
import { confirmAdmission, confirmTrainStep, refuseUnsignedStart, TRAIN_MEMBER_PATCH } from './authorization';
import { reportEndWhenAsked } from './end-report';
import { INCIDENT_RECORD_PATCH } from './incident-note';
import { noteOn, now, publishStage } from './journal';
import { compensationStep, quickStep } from './profiles';
import { recordRollbackIncident } from './rollback-record';
import { innermostMessage } from './saga';

const ledger = proxyActivities<ReleaseActivities>(quickStep);

export async function emergencyRollbackWorkflow(input: EmergencyRollbackInput): Promise<RollbackStatus> {
  // Started directly on Temporal (not through the API and the coordinator): fails here, having changed nothing.
  const signed = refuseUnsignedStart('rollback', input, signedRollbackFields, (i) => i.service);
  const status: RollbackStatus = {
    rollbackId: input.rollbackId,
    service: input.service,
    reason: input.reason,
    requestedBy: input.requestedBy,
    stage: input.queued ? 'queued' : 'rolling-back',
    regions: input.regions.map((region) => ({ region, status: 'pending' })),
    timeline: [],
    startedAt: now(),
  };
  const note = (message: string, region?: string) => noteOn(status.timeline, message, region);
  const enterStage = (stage: RollbackStatus['stage']) => {
    status.stage = stage;
    publishStage(stage);
  };
  let admitted = !input.queued;
  setHandler(admitSignal, () => {
    admitted = true;
  });
  setHandler(rollbackStatusQuery, () => status);
  const reportEnd = reportEndWhenAsked(input.service, workflowInfo().workflowId);

  note(`emergency rollback of ${input.service} requested by ${input.requestedBy}: ${input.reason}`);
  if (!admitted) {
    note('waiting for the release in progress to finish rolling itself back');
    await condition(() => admitted);
    // An admission is a signal: a run with signed messages asks its coordinator whether it really sent it.
    while (signed && !(await confirmAdmission(input.service, workflowInfo().workflowId, note))) {
      admitted = false;
      await condition(() => admitted);
    }
  }
  enterStage('rolling-back');
  // A train undoing its member: only when its train asks for it now (rollbacks before trains name none).
  if (input.train && patched(TRAIN_MEMBER_PATCH)) {
    note(`train ${input.train.trainId} undoes ${input.service}`);
    await confirmTrainStep(input.train.trainId, 'emergency rollback');
  }

  await Promise.all(status.regions.map((state) => rollBack(state)));

  const failed = status.regions.filter((r) => r.status === 'failed');
  enterStage(failed.length === 0 ? 'succeeded' : 'failed');
  status.finishedAt = now();
  note(
    failed.length === 0
      ? `emergency rollback done in ${status.regions.length} regions`
      : `emergency rollback failed in ${failed.map((r) => r.region).join(', ')}: those regions need a human`,
  );
  // Every emergency rollback opens a post-incident record, with its story on the audit trail (rollbacks from before
  // records existed wrote nothing there).
  if (patched(INCIDENT_RECORD_PATCH)) await recordRollbackIncident(workflowInfo().workflowId, input, status);
  await reportEnd();
  return status;

  /**
   * The versions of the region's ledger no rollback may go to: those of releases this rollback aborted, and those
   * whose artifact was demoted (a release of it was rolled back).
   */
  async function unsafeVersions(region: string, history: readonly LedgerRecord[]): Promise<UnsafeVersions> {
    const unsafe = new Map<string, string>((input.avoid ?? []).map(({ version, why }) => [version, why] as const));
    const versions = [...new Set(history.map((e) => e.version))].filter((v) => !unsafe.has(v));
    if (versions.length === 0) return unsafe;
    const promotions = await ledger.artifactPromotions.executeWithOptions(
      { summary: `${region}: which versions of its ledger were demoted` },
      [{ service: input.service, versions }],
    );
    for (const version of versions) {
      const promotion = promotions[version];
      if (promotion?.status !== 'demoted') continue;
      unsafe.set(
        version,
        `its artifact was demoted${promotion.releaseId ? ` by release ${promotion.releaseId}` : ''}${promotion.reason ? `: ${promotion.reason}` : ''}`,
      );
    }
    return unsafe;
  }

  async function rollBack(state: RollbackRegionState): Promise<void> {
    const { region } = state;
    const taskQueue = regionTaskQueue(region);
    const inRegion = {
      quick: proxyActivities<RegionActivities>({ ...quickStep, taskQueue }),
      revert: proxyActivities<RegionActivities>({ ...compensationStep, taskQueue }),
    };
    try {
      const running = await inRegion.quick.inspectRegion.executeWithOptions(
        { summary: `${region}: read the running version` },
        [{ service: input.service, region }],
      );
      const history = await ledger.ledgerHistory.executeWithOptions({ summary: `${region}: read the version ledger` }, [
        { service: input.service, region },
      ]);
      // Rollbacks started before safe targets existed chose from the ledger alone.
      const safeTargets = patched('rollback-safe-targets');
      const unsafe = safeTargets ? await unsafeVersions(region, history) : new Map<string, string>();
      const decision = rollbackTarget(history, running.stableVersion, unsafe);
      state.from = running.stableVersion;
      // A train undoes only what it brought: a region on another version is not its to move.
      const brought = input.train?.version;
      if (brought !== undefined && running.stableVersion !== brought) {
        state.status = 'already-good';
        state.why = `it runs ${running.stableVersion ?? 'nothing'}, not ${brought}, which train ${input.train?.trainId} brought`;
        note(`${region}: ${state.why}; left as it is`, region);
        return;
      }
      if (decision.kind === 'already-good') {
        state.status = 'already-good';
        state.to = decision.version;
        if (safeTargets) state.why = decision.why;
        note(
          `${region}: already on ${decision.version}, its last known-good version${safeTargets ? ` (${decision.why})` : ''}; nothing to do`,
          region,
        );
        return;
      }
      if (decision.kind === 'none') {
        state.status = 'no-known-good';
        if (safeTargets) state.why = decision.reason;
        note(
          `${region}: ${decision.reason}; left as it is${safeTargets ? ': an SRE must decide where it goes' : ''}`,
          region,
        );
        return;
      }
      const target = decision.to;
      state.to = target.version;
      state.status = 'reverting';
      if (safeTargets) {
        state.why = decision.why;
        note(`${region}: going back to ${target.version}: ${decision.why}`, region);
      }
      await inRegion.revert.revertRegion.executeWithOptions(
        { summary: `${region}: back to ${target.version} (emergency)` },
        [{ service: input.service, region, version: target.version, releaseId: input.rollbackId }],
      );
      await ledger.recordRegionVersion.executeWithOptions(
        { summary: `${region}: record ${target.version} in the version ledger (emergency rollback)` },
        [
          {
            service: input.service,
            region,
            version: target.version,
            releaseId: input.rollbackId,
            recordedAt: now(),
            ...(running.stableVersion && running.stableVersion !== target.version
              ? { rolledBackFrom: running.stableVersion }
              : {}),
            reason: `emergency rollback by ${input.requestedBy}: ${input.reason}`,
          },
        ],
      );
      state.status = 'reverted';
      note(`${region}: back on ${target.version} (was ${running.stableVersion ?? 'nothing'})`, region);
    } catch (err) {
      state.status = 'failed';
      state.error = innermostMessage(err);
      note(`${region}: rollback failed: ${state.error}`, region);
    }
  }
}
