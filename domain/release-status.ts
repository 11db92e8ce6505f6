// The state of a release as the status query returns it: what the API, the CLI and the web page show.
import { z } from 'zod';
import type { Gate } from './approval';
import type { CanaryVerdict } from './canary';
import type { ChangeClass } from './release-request';

export const ReleaseStage = z.enum([
  'queued',
  'validating',
  'waiting-for-freeze',
  /** An external check (issue 16) was asked of another system, which has not answered yet. */
  'awaiting-check',
  'awaiting-approval',
  'deploying',
  'watching',
  'paused',
  'needs-decision',
  'rolling-back',
  'needs-attention',
  'succeeded',
  'rolled-back',
  'failed',
  'aborted',
]);
export type ReleaseStage = z.infer<typeof ReleaseStage>;

export type RegionStatus =
  | 'pending'
  | 'deploying'
  | 'canary'
  | 'needs-decision'
  | 'promoting'
  | 'smoke-testing'
  | 'succeeded'
  | 'failed'
  | 'reverted';

/**
 * succeeded: every region runs the version; rolled-back: it was undone; failed: something could not be undone (see
 * compensations); aborted: a person stopped it before it changed anything (not a change failure).
 */
export type ReleaseResult = 'succeeded' | 'failed' | 'rolled-back' | 'aborted';

export interface StepVerdict extends CanaryVerdict {
  step: number;
  percent: number;
}

export interface RegionProgress {
  region: string;
  environment: string;
  wave: number;
  status: RegionStatus;
  /** Version this release brings to the region. */
  version: string;
  /** Version the region ran before this release touched it (read before the first change). */
  previousVersion?: string;
  /** Share of the region's traffic on the new version, 0-100. */
  trafficPercent: number;
  /** Index of the canary step in progress or last done. */
  canaryStep?: number;
  verdicts: StepVerdict[];
  smokeTest?: { passed: boolean; failures: number; requests: number };
  /** The region's rollout child workflow. */
  workflowId?: string;
  /** Set while the region's rollout has reported nothing for longer than expected (is its agent running?). */
  stalledSince?: string;
  updatedAt?: string;
}

export interface TimelineEvent {
  at: string;
  message: string;
  region?: string;
}

/** Schema migrations of one phase in one environment's database. */
export interface MigrationProgress {
  environment: string;
  phase: 'expand' | 'contract';
  ids: string[];
  state: 'pending' | 'applied' | 'reverted' | 'failed' | 'left';
  /** What the dry run found the migrations would change, in words. */
  changes?: string[];
}

export type CompensationStatus = 'running' | 'done' | 'failed' | 'skipped' | 'needs-human';

export interface CompensationRecord {
  name: string;
  status: CompensationStatus;
  at: string;
  error?: string;
}

export interface ReleaseOutcome {
  result: ReleaseResult;
  reason?: string;
  finishedAt: string;
}

/** An external check (issue 16): requested of another system, then passed, failed or timed out. */
export interface CheckProgress {
  /** Its gate id, `check-<name>-<environment>`: the callback names it. */
  id: string;
  name: string;
  environment: string;
  /** The id the other system knows it by (`<releaseId>/<gate id>`, its idempotency key). */
  checkId: string;
  /** cancelled: the release was aborted while it waited. */
  status: 'requested' | 'passed' | 'failed' | 'timed-out' | 'waived' | 'cancelled';
  requestedAt: string;
  /** When it must have answered. */
  deadline: string;
  reportedAt?: string;
  /** Who answered: the principal of the callback, or `<name> (polled)`, or `<name> (answer to the request)`. */
  reportedBy?: string;
  summary?: string;
  detailsUrl?: string;
}

export interface ReleaseStatus {
  releaseId: string;
  service: string;
  version: string;
  changeClass: ChangeClass;
  requestedBy: string;
  reason?: string;
  /** The change ticket the release carries out (issue 16). */
  ticket?: string;
  /** Content digest of the artifact every region runs, once resolved. */
  artifactDigest?: string;
  stage: ReleaseStage;
  paused: boolean;
  regions: RegionProgress[];
  gates: Gate[];
  /** External checks asked of other systems (issue 16; releases without any: absent). */
  checks?: CheckProgress[];
  /** Schema migrations the artifact carries, per environment and phase (releases started before this existed: absent). */
  migrations?: MigrationProgress[];
  compensations: CompensationRecord[];
  timeline: TimelineEvent[];
  startedAt: string;
  outcome?: ReleaseOutcome;
}

export { isFinalStage } from './stages';
