// Messages of the engine's workflows. Only definitions and their payload types live here, so the API and the CLI
// import them without pulling in workflow bodies.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Gate } from '../domain/approval';
import type { AuditFilter, AuditRecord, AuditVerification } from '../domain/audit';
import type { AnalysisPolicy, CanaryVerdict } from '../domain/canary';
import type { SmokeTestSpec } from '../domain/catalog';
import type { IncidentNote } from '../domain/incident';
import type { PlannedStep, ReleasePlan, SequentialCanaryPlan } from '../domain/plan';
import type { ReleaseStatus } from '../domain/release-status';
import type { Principal, Role } from '../domain/roles';
import type { TrainPlan, TrainStatus } from '../domain/train';
import type { Authorization } from '../domain/signed-message';

// ---- release ----

/** Input of releaseWorkflow. */
export interface ReleaseInput {
  plan: ReleasePlan;
  /** Principal that started the release (from the API token, never from the request body). */
  requestedBy: string;
  reason?: string;
  /** Set by the service coordinator when another release is in progress: wait for `admit` before starting. */
  queued?: boolean;
  /** The people who wrote the change (commit authors, the merger), as the pipeline knows them: none may approve it. */
  authors?: string[];
  /**
   * The train this release is a member of (issue 15). Signed with the request; the release asks the train whether it
   * sent it now before doing anything, so a member request read from the train's history cannot be replayed.
   */
  train?: TrainRef;
  /** The change ticket the release carries out (issue 16; releases before it: absent). */
  ticket?: string;
  /** The API's signature over the request (releases started before signed messages: absent). */
  authorization?: Authorization;
}

/** A train a release or an emergency rollback belongs to. */
export interface TrainRef {
  trainId: string;
  /**
   * On a train's undo: the version the train brought. A region that runs anything else (it never got the train's
   * version, or a later release changed it) is left alone.
   */
  version?: string;
}

/** The fields of a release request the API signs (`queued` is the coordinator's, not the requester's). */
export function signedReleaseFields(input: ReleaseInput) {
  const { plan, requestedBy, reason, authors, train, ticket, authorization } = input;
  return { plan, requestedBy, reason, authors, train, ticket, authorization };
}

/** A decision on a gate. The principal is the one the API authenticated. */
export interface DecisionInput {
  gate: string;
  principal: Principal;
  comment?: string;
  /** The API's signature over the decision. */
  authorization?: Authorization;
}

/** Pause, resume or abort, as a person asked it through the API. */
export interface ControlInput {
  by: string;
  reason?: string;
  authorization?: Authorization;
}

/** Full state of the release: stage, per-region progress and traffic, gates, compensations, timeline, outcome. */
export const statusQuery = defineQuery<ReleaseStatus>('status');
/** Approve a waiting gate; refused (to the caller, not into history) by the synchronous validator. */
export const approveUpdate = defineUpdate<Gate, [DecisionInput]>('approve');
/** Reject a waiting gate: the release rolls back. */
export const rejectUpdate = defineUpdate<Gate, [DecisionInput]>('reject');
/** Hold before the next step (a bake in progress keeps counting). Signed; refused by its validator otherwise. */
export const pauseUpdate = defineUpdate<void, [ControlInput]>('pauseRelease');
export const resumeUpdate = defineUpdate<void, [ControlInput]>('resumeRelease');
/** Stop and roll back everything done so far. */
export const abortUpdate = defineUpdate<void, [ControlInput]>('abortRelease');
/**
 * A firing alert from monitoring (the Alertmanager webhook), as the API authenticated and signed it. Inside the
 * release's watch window it rolls the release back; outside it the validator refuses it (nothing enters history) and
 * the API records it and suggests an emergency rollback.
 */
export interface AlertInput {
  /** The principal of the webhook's token. */
  by: string;
  alertname: string;
  /** The alert's region label, when it has one (informational: the whole release rolls back). */
  region?: string;
  /** The alert's summary or description annotation. */
  reason?: string;
  fingerprint?: string;
  startsAt?: string;
  authorization?: Authorization;
}
export const alertUpdate = defineUpdate<{ action: 'rolling-back'; releaseId: string }, [AlertInput]>('alert');
/**
 * An external check's result (issue 16), as the API took it from the system that ran it (check.report) and signed
 * it. The validator refuses a report for a check the release is not waiting for, or from a principal the check does
 * not name among its reporters.
 */
export interface CheckReportInput {
  /** The principal of the checker's token. */
  by: string;
  /** The check's gate id, `check-<name>-<environment>`. */
  check: string;
  status: 'pass' | 'fail';
  summary?: string;
  detailsUrl?: string;
  authorization?: Authorization;
}
export const checkReportUpdate = defineUpdate<{ check: string; status: 'passed' | 'failed' }, [CheckReportInput]>(
  'reportCheck',
);
/**
 * Input of alertRecordWorkflow: an alert that rolled nothing back (no release in flight, or the release outside its
 * watch window), put on the audit trail with what a person could do about it. Signed by the API ('alert').
 */
export interface AlertRecordInput extends Omit<AlertInput, 'authorization' | 'fingerprint' | 'startsAt'> {
  service: string;
  fingerprint: string;
  startsAt: string;
  /** The release the alert was sent to, when one was in flight. */
  releaseId?: string;
  /** Why the alert rolled nothing back, in words. */
  why: string;
  /** What a person can do, e.g. the relctl command of an emergency rollback. */
  suggestion: string;
  authorization?: Authorization;
}
/** Releases started before signed messages are paused, resumed and aborted by these signals; later ones ignore them. */
export const pauseSignal = defineSignal<[{ by: string; reason?: string }]>('pause');
export const resumeSignal = defineSignal<[{ by: string }]>('resume');
/**
 * From the service coordinator, when an emergency rollback aborts the release: it carries the rollback's signed
 * request, which the release verifies (a workflow cannot send updates, so this one stays a signal).
 */
export const abortSignal = defineSignal<[{ by: string; reason: string; rollback?: EmergencyRollbackInput }]>('abort');
/** From the service coordinator: a queued release may start. */
export const admitSignal = defineSignal('admit');
/**
 * From a newer run of the service coordinator (one that continued-as-new while this release or rollback was in its
 * line, so it is no longer this workflow's parent and does not hear of its end): tell the coordinator when you end.
 * Sent by anyone else, it costs one signal at the end and nothing more.
 */
export const reportEndSignal = defineSignal('reportEnd');
/**
 * To the service coordinator, from a release or rollback that was asked to report its end. The coordinator trusts
 * nothing in it: it only looks (an activity that describes the workflow) whether the workflow named has closed.
 */
export const lineEntryEndedSignal = defineSignal<[{ workflowId: string }]>('lineEntryEnded');
/** The release calendar changed: a release waiting for a freeze to end checks again. */
export const recheckFreezeSignal = defineSignal('recheckFreeze');

// ---- region rollout (child of a release, on the region's task queue) ----

export interface RegionRolloutInput {
  releaseWorkflowId: string;
  releaseId: string;
  service: string;
  region: string;
  version: string;
  digest: string;
  /** What the region ran before: where it goes back to if the rollout fails or is cancelled. */
  previousVersion: string | undefined;
  steps: PlannedStep[];
  analysis: AnalysisPolicy;
  /** Present: the sequential judge looks during each bake (region rollouts started before it: absent). */
  sequential?: SequentialCanaryPlan;
  smokeTest: SmokeTestSpec;
  paused: boolean;
  /** The release forwards signed resumes: a resume without one (sent by anyone else) is ignored. */
  resumesSigned?: boolean;
}

export interface RegionRolloutResult {
  verdicts: (CanaryVerdict & { step: number; percent: number })[];
  smokeTest: { passed: boolean; failures: number; requests: number };
  /** The reports the release had not been sent yet, in order (rollouts with lean reports send them here). */
  reports?: RegionEvent[];
}

/** Progress reported by a region rollout to its release. */
export type RegionEvent =
  | { region: string; kind: 'deployed'; output?: string }
  | { region: string; kind: 'traffic'; step: number; percent: number; output?: string }
  | { region: string; kind: 'verdict'; step: number; percent: number; verdict: CanaryVerdict }
  | { region: string; kind: 'needs-decision'; step: number; percent: number; verdict: CanaryVerdict }
  | { region: string; kind: 'promoted'; output?: string }
  | { region: string; kind: 'smoke-test'; passed: boolean; failures: number; requests: number }
  | { region: string; kind: 'reverted'; to: string; reason: string; output?: string };

export const regionEventSignal = defineSignal<[RegionEvent]>('regionEvent');
/** Several reports of one region, in order, sent at once (rollouts with lean reports). */
export const regionEventsSignal = defineSignal<[RegionEvent[]]>('regionEvents');
/** Hold or go on; going on carries the person's signed resume when the region was started with resumesSigned. */
export const regionPauseSignal = defineSignal<[{ paused: boolean; resume?: ControlInput }]>('regionPause');
/** The human decision on an inconclusive analysis: proceed, or roll the region back. */
export const regionDecisionSignal =
  defineSignal<[{ step: number; proceed: boolean; by: string; approval?: DecisionInput }]>('regionDecision');

// ---- service coordinator (one per service: one release at a time, a queue, emergency rollbacks) ----

export interface ServiceInput {
  service: string;
  /** Release and rollback ids already seen, carried over continue-as-new (keeps starts idempotent). */
  seen?: string[];
  /** The most releases queued behind the one in progress (default QUEUE_LIMIT in workflows/service.ts). */
  queueLimit?: number;
  /** History length past which the coordinator continues-as-new (default HISTORY_LIMIT; tests set it low). */
  historyLimit?: number;
  /**
   * The line (the release or rollback in progress first, then those queued) carried over continue-as-new while
   * busy. These workflows were started by an earlier run of the coordinator.
   */
  carried?: CarriedEntry[];
}

/** A release or rollback in the coordinator's line, as carried over continue-as-new. */
export interface CarriedEntry {
  kind: 'release' | 'rollback';
  id: string;
  workflowId: string;
  requestedBy: string;
  /** The version a release brings (releases only). */
  version?: string;
  admitted: boolean;
}

export interface ReleaseRequestMessage {
  input: ReleaseInput;
  /** Wait behind a release in progress instead of being refused. */
  queue: boolean;
}

export interface Admission {
  workflowId: string;
  /** The release already existed (same release id); nothing new was started. */
  alreadyStarted: boolean;
  /** Releases ahead of this one, when it was queued. */
  queuedBehind: string[];
}

export interface EmergencyRollbackInput {
  service: string;
  rollbackId: string;
  regions: string[];
  reason: string;
  requestedBy: string;
  queued?: boolean;
  /** Versions no region may be taken to, with why: those of the releases this rollback aborted. */
  avoid?: { version: string; why: string }[];
  /** The train that undoes its member with this rollback (signed; checked with the train before anything). */
  train?: TrainRef;
  /** The API's signature over the request (rollbacks started before signed messages: absent). */
  authorization?: Authorization;
}

/** The fields of an emergency rollback request the API signs. */
export function signedRollbackFields(input: EmergencyRollbackInput) {
  const { service, rollbackId, regions, reason, requestedBy, train, authorization } = input;
  return { service, rollbackId, regions, reason, requestedBy, train, authorization };
}

export interface ServiceState {
  service: string;
  active?: { kind: 'release' | 'rollback'; id: string; workflowId: string; requestedBy: string };
  queued: { kind: 'release' | 'rollback'; id: string; workflowId: string; requestedBy: string }[];
}

/** Ask the coordinator to start a release; refused (to the caller) while another is in progress, unless queued. */
export const requestReleaseUpdate = defineUpdate<Admission, [ReleaseRequestMessage]>('requestRelease');
/** Abort whatever runs for the service and roll it back to its last known-good versions. */
export const requestRollbackUpdate = defineUpdate<
  { workflowId: string; aborted: string[]; alreadyStarted: boolean },
  [EmergencyRollbackInput]
>('requestRollback');
export const serviceStateQuery = defineQuery<ServiceState>('serviceState');

// ---- emergency rollback ----

export interface RollbackRegionState {
  region: string;
  status: 'pending' | 'reverting' | 'reverted' | 'already-good' | 'no-known-good' | 'failed';
  from?: string;
  to?: string;
  /** Why the region goes to `to`, stays, or has no safe target (rollbacks started before this existed: absent). */
  why?: string;
  error?: string;
}

export interface RollbackStatus {
  rollbackId: string;
  service: string;
  reason: string;
  requestedBy: string;
  stage: 'queued' | 'rolling-back' | 'succeeded' | 'failed';
  regions: RollbackRegionState[];
  timeline: { at: string; message: string; region?: string }[];
  startedAt: string;
  finishedAt?: string;
}

export const rollbackStatusQuery = defineQuery<RollbackStatus>('rollbackStatus');

// ---- release trains ----

/** One release of a train member, signed by the API when the train was requested. */
export interface TrainStepRequest {
  /** Index of the plan's stage this release belongs to. */
  stage: number;
  service: string;
  version: string;
  /** With lockstep, the environment this release goes through; otherwise all of the service's. */
  environment?: string;
  release: ReleaseInput;
  /** The emergency rollback that undoes this release (its regions only), should the train fail after it. */
  undo?: EmergencyRollbackInput;
}

/** Input of trainWorkflow, signed as a whole by the API ('train'). */
export interface TrainInput {
  plan: TrainPlan;
  requestedBy: string;
  reason?: string;
  authors?: string[];
  /** Members wait behind a release in progress of their service instead of failing the train. */
  queue: boolean;
  steps: TrainStepRequest[];
  /** Trains before per-release undos: one emergency rollback per member (every region of its service). */
  undo: EmergencyRollbackInput[];
  /** The train's one approval (normal and emergency trains), before the stage it names. */
  approval?: { beforeStage: number; quorum: number; roles: Role[]; timeoutSeconds: number; description: string };
  authorization?: Authorization;
}

/** The fields of a train request the API signs: all of them. */
export function signedTrainFields(input: TrainInput) {
  return input;
}

export const trainStatusQuery = defineQuery<TrainStatus>('trainStatus');

// ---- audit trail reads (the API asks the orchestrator) ----

export type AuditReadRequest = { kind: 'list'; filter: AuditFilter } | { kind: 'verify' };

export interface AuditReadInput {
  request: AuditReadRequest;
  /** Who asked, as the API authenticated them: on record in the read's own history. */
  requestedBy: string;
}

export type AuditReadResult =
  { kind: 'list'; records: AuditRecord[] } | { kind: 'verify'; verification: AuditVerification };

// ---- post-incident records (the API asks the orchestrator to record what people do) ----

/** Input of incidentNoteWorkflow: one change to a post-incident record, signed by the API ('incident'). */
export interface IncidentNoteInput {
  service: string;
  incidentId: string;
  /** The principal the API authenticated. */
  by: string;
  note: IncidentNote;
  authorization?: Authorization;
}
