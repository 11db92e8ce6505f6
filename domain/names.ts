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

export {
  alertRecordWorkflowId,
  regionRolloutWorkflowId,
  regionTaskQueue,
  releaseWorkflowId,
  rollbackWorkflowId,
  serviceWorkflowId,
  trainWorkflowId,
} from './workflow-ids';

/** Parses `service@version` (the form pipelines and the CLI use). */
export function parseArtifactRef(ref: string): { service: string; version: string } | undefined {
  const at = ref.indexOf('@');
  if (at <= 0) return undefined;
  return { service: ref.slice(0, at), version: ref.slice(at + 1) };
}
