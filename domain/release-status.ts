// The state of a release as the status query returns it: what the API, the CLI and the web page show.
import type { ChangeClass } from './release-request';

export type ReleaseStage = 'validating' | 'deploying' | 'succeeded' | 'failed';
export type RegionStatus = 'pending' | 'deploying' | 'baking' | 'succeeded' | 'failed';
export type ReleaseResult = 'succeeded' | 'failed' | 'rolled-back';

export interface RegionProgress {
  region: string;
  environment: string;
  wave: number;
  status: RegionStatus;
  /** Version this release brings to the region. */
  version: string;
  /** Version the region ran before this release touched it (known once deployed). */
  previousVersion?: string;
  /** Share of the region's traffic on the new version, 0-100. */
  trafficPercent: number;
  updatedAt?: string;
}

export interface TimelineEvent {
  at: string;
  message: string;
  region?: string;
}

export interface ReleaseOutcome {
  result: ReleaseResult;
  reason?: string;
  finishedAt: string;
}

export interface ReleaseStatus {
  releaseId: string;
  service: string;
  version: string;
  changeClass: ChangeClass;
  requestedBy: string;
  reason?: string;
  /** Content digest of the artifact every region runs, once resolved. */
  artifactDigest?: string;
  stage: ReleaseStage;
  regions: RegionProgress[];
  timeline: TimelineEvent[];
  startedAt: string;
  outcome?: ReleaseOutcome;
}

/** Stages after which nothing more happens to the release. */
export function isFinalStage(stage: ReleaseStage): boolean {
  return stage === 'succeeded' || stage === 'failed';
}
