// Names and identifiers shared by every layer. The regexes are deliberately strict: these strings end up in
// workflow ids, task queue names, parameter-store paths and file names.
import { z } from 'zod';

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or dashes, starting with a letter');
export type ServiceName = z.infer<typeof ServiceName>;

export const RegionName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or dashes, starting with a letter');
export type RegionName = z.infer<typeof RegionName>;

export const EnvironmentName = RegionName;
export type EnvironmentName = z.infer<typeof EnvironmentName>;

export const Version = z.string().max(128).regex(SEMVER, 'must be a semantic version such as 1.2.3');
export type Version = z.infer<typeof Version>;

export const ReleaseId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, dots, dashes or underscores');
export type ReleaseId = z.infer<typeof ReleaseId>;

export const Sha256Digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must look like sha256:<64 hex digits>');
export type Sha256Digest = z.infer<typeof Sha256Digest>;

/** Workflow id of a release: `release/<service>/<releaseId>`. */
export function releaseWorkflowId(service: string, releaseId: string): string {
  return `release/${service}/${releaseId}`;
}

/** Workflow id of a region's rollout within a release. */
export function regionRolloutWorkflowId(service: string, releaseId: string, region: string): string {
  return `region-rollout/${service}/${releaseId}/${region}`;
}

/** Workflow id of a service's coordinator (one release at a time, its queue, emergency rollbacks). */
export function serviceWorkflowId(service: string): string {
  return `service/${service}`;
}

/** Workflow id of an emergency rollback. */
export function rollbackWorkflowId(service: string, rollbackId: string): string {
  return `rollback/${service}/${rollbackId}`;
}

/**
 * Workflow id of the record of one alert: Alertmanager repeats a firing alert (every repeat_interval, and after a
 * failed delivery) with the same fingerprint and startsAt, so a repeat maps to the same id and is recorded once.
 */
export function alertRecordWorkflowId(service: string, fingerprint: string, startsAt: string): string {
  return `alert/${service}/${fingerprint}/${startsAt}`;
}

/** Task queue that the region's agent polls for region-local work. */
export function regionTaskQueue(region: string): string {
  return `deploy.${region}`;
}

/** Parses `service@version` (the form pipelines and the CLI use). */
export function parseArtifactRef(ref: string): { service: string; version: string } | undefined {
  const at = ref.indexOf('@');
  if (at <= 0) return undefined;
  return { service: ref.slice(0, at), version: ref.slice(at + 1) };
}
