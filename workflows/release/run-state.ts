// The state of one release run, shared by the modules of the release workflow: what the status query shows, the
// control flags that messages set, the saga, and the cancellation scope of the pipeline. The stage has one writer
// (setStage), reached through enterStage (the pipeline) and pause/resume (people).
import { CancellationScope, type ChildWorkflowHandle, patched, workflowInfo } from '@temporalio/workflow';
import { releaseFailure } from '../failures';
import type { RegionProgress, ReleaseStage, ReleaseStatus } from '../../domain/release-status';
import { isFinalStage } from '../../domain/stages';
import type { AlertInput, DecisionInput, ReleaseInput } from '../messages';
import { SignedMessages } from '../authorization';
import type { regionRolloutWorkflow } from '../region-rollout';
import { Saga } from '../saga';
import { noteOn, now, publishStage } from '../journal';
import { showDetails } from './details';
import { ReleaseRecord } from './record';

/** A region's request for a human decision on an inconclusive analysis, waiting to be opened as a gate. */
export interface PendingDecision {
  region: string;
  step: number;
  percent: number;
  reasons: string[];
}

export class ReleaseRun {
  readonly plan: ReleaseInput['plan'];
  readonly workflowId: string;
  readonly status: ReleaseStatus;
  readonly record: ReleaseRecord;
  /** Every step registers its way back here before it runs. */
  readonly saga = new Saga();
  /** The pipeline's scope: an abort cancels it. */
  readonly main = new CancellationScope();

  /** The signed messages this release accepted (nonces), and the signed decision that closed each gate. */
  readonly messages = new SignedMessages();
  readonly decisionMessages = new Map<string, DecisionInput>();
  /** Evidence gates judged already (the first environment's before the artifact is promoted). */
  readonly evidenceJudged = new Set<string>();

  // ---- set by messages ----
  admitted: boolean;
  abort: { by: string; reason: string } | undefined;
  compensating = false;
  /** How many times the calendar changed (recheckFreeze): a release waiting for a freeze reads it again. */
  freezeRechecks = 0;
  /** The release is watching its promoted regions: an alert from monitoring rolls it back (see watch.ts). */
  watching: { phase: string } | undefined;
  /** The signed alert that arrived while watching. */
  alert: AlertInput | undefined;
  /** Why the release is being rolled back (the artifact's demotion records it). */
  rollbackReason = 'rolled back';

  // ---- regions in flight ----
  readonly running = new Map<string, ChildWorkflowHandle<typeof regionRolloutWorkflow>>();
  readonly pendingDecisions: PendingDecision[] = [];
  /** Reports received per region, to notice a region that has gone silent. */
  readonly heardFrom = new Map<string, number>();

  /** Its regions go on after a pause only with the signed resume this run forwards (see handlers' resume). */
  readonly signsRegionResumes: boolean;

  private stageBeforePause: ReleaseStage | undefined;

  /**
   * @param signed the run started after signed messages: only signed updates act on it, and it forwards the signed
   *   decisions its regions need.
   */
  constructor(
    readonly input: ReleaseInput,
    readonly signed = false,
  ) {
    const { plan } = input;
    this.plan = plan;
    this.workflowId = workflowInfo().workflowId;
    this.admitted = !input.queued;
    this.status = {
      releaseId: plan.releaseId,
      service: plan.service,
      version: plan.version,
      changeClass: plan.changeClass,
      requestedBy: input.requestedBy,
      ...(input.reason ? { reason: input.reason } : {}),
      ...(input.ticket ? { ticket: input.ticket } : {}),
      stage: input.queued ? 'queued' : 'validating',
      paused: false,
      regions: plan.waves.flatMap((wave) =>
        wave.regions.map(({ region }): RegionProgress => ({
          region,
          environment: wave.environment,
          wave: wave.index,
          status: 'pending',
          version: plan.version,
          trafficPercent: 0,
          verdicts: [],
        })),
      ),
      gates: plan.gates
        .filter((g) => g.kind === 'approval')
        .map((g) => ({
          id: g.id,
          kind: 'approval',
          description: g.description,
          status: 'pending',
          quorum: g.quorum,
          roles: g.roles,
          timeoutSeconds: g.timeoutSeconds,
          decisions: [],
        })),
      compensations: [],
      timeline: [],
      startedAt: now(),
    };
    // Releases started before the audit trail, schema migrations and notifications existed replay without them.
    const governed = patched('audit-migrations-notifications');
    this.record = new ReleaseRecord(this.workflowId, plan, input.requestedBy, governed);
    // Runs started after this forward the person's signed resume to their regions, which then need it to go on.
    this.signsRegionResumes = signed && patched('signed-region-resume');
  }

  /** True for releases started after the audit trail, migrations and notifications existed. */
  get governed(): boolean {
    return this.record.enabled;
  }

  note(message: string, region?: string): void {
    noteOn(this.status.timeline, message, region);
    showDetails(this.status);
  }

  audit: ReleaseRecord['audit'] = (action, fields) => this.record.audit(action, fields);

  /** The pipeline moves to `stage`; while paused, it is remembered and shown again on resume. */
  enterStage(stage: ReleaseStage): void {
    if (this.status.paused && stage !== 'rolling-back' && !isFinalStage(stage)) {
      this.stageBeforePause = stage;
      return;
    }
    this.setStage(stage);
  }

  /** A person paused the release: nothing new starts until resume. False when there was nothing to pause. */
  pause(): boolean {
    if (this.status.paused || this.status.outcome || this.compensating) return false;
    this.stageBeforePause = this.status.stage;
    this.status.paused = true;
    this.setStage('paused');
    return true;
  }

  /** A person resumed the release: back to the stage it was in (or reached meanwhile). */
  resume(): boolean {
    if (!this.status.paused) return false;
    this.status.paused = false;
    this.enterStage(this.stageBeforePause ?? 'deploying');
    return true;
  }

  private setStage(stage: ReleaseStage): void {
    if (this.status.stage === stage) return;
    this.status.stage = stage;
    publishStage(stage);
    showDetails(this.status);
  }

  regionOf(region: string): RegionProgress {
    const progress = this.status.regions.find((r) => r.region === region);
    if (!progress) throw releaseFailure('PlanInvalid', `region ${region} is not in the plan`);
    return progress;
  }

  touch(progress: RegionProgress, change: Partial<RegionProgress>): void {
    Object.assign(progress, change, { updatedAt: now() });
  }
}
