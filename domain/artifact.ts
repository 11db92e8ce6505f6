// The artifact a release ships: an immutable archive, identified by the sha256 of its bytes.
import { z } from 'zod';
import { isValidRange } from './dependencies';
import { ServiceName, Sha256Digest, Version } from './names';

/** `artifact.json` at the root of every artifact archive. */
export const ArtifactManifest = z.strictObject({
  service: ServiceName,
  version: Version,
  /** File (relative to the archive root) that the fleet runs with `node`. */
  entrypoint: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'must be a relative path inside the artifact')
    .refine((path) => !path.split('/').includes('..'), 'must not leave the artifact'),
  /**
   * Versions this one needs of the services it depends on, as semver ranges: { "payments": ">=1.4.0" }. A release is
   * refused where they are not met.
   */
  requires: z
    .record(ServiceName, z.string().max(200).refine(isValidRange, 'must be a semver range such as >=1.4.0 or ^2.1.0'))
    .optional(),
});
export type ArtifactManifest = z.infer<typeof ArtifactManifest>;

/** What the artifact store knows about one `service@version`. */
export const ArtifactRecord = z.strictObject({
  service: ServiceName,
  version: Version,
  digest: Sha256Digest,
  size: z.number().int().nonnegative(),
  createdAt: z.iso.datetime(),
});
export type ArtifactRecord = z.infer<typeof ArtifactRecord>;
