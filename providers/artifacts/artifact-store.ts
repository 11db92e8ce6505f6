// The artifact store interface: content-addressed bytes plus an immutable service@version -> digest index.
import type { ArtifactRecord } from '../../domain/artifact';

export interface ArtifactStore {
  /** The record for `service@version`, or undefined when no such artifact was ever stored. */
  resolve(service: string, version: string): Promise<ArtifactRecord | undefined>;
  /** The bytes of an artifact, verified against its digest; throws ArtifactIntegrityError on mismatch. */
  read(digest: string): Promise<Buffer>;
  /** Stores bytes as `service@version`; idempotent for the same bytes, refuses different bytes (immutability). */
  put(service: string, version: string, bytes: Buffer): Promise<ArtifactRecord>;
  list(service?: string): Promise<ArtifactRecord[]>;
}

export class ArtifactIntegrityError extends Error {
  override readonly name = 'ArtifactIntegrityError';
}

export class ArtifactConflictError extends Error {
  override readonly name = 'ArtifactConflictError';
}
