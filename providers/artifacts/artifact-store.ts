// The artifact store interface: content-addressed bytes plus an immutable service@version -> digest index.
import type { ArtifactRecord } from '../../domain/artifact';
import type { ArtifactSignature } from './signing';

/** candidate: stored, never released; released: promoted by a release; demoted: taken back by a rollback. */
export type PromotionStatus = 'candidate' | 'released' | 'demoted';

export interface PromotionRecord {
  status: PromotionStatus;
  at?: string;
  releaseId?: string;
  reason?: string;
}

export interface ArtifactStore {
  /** The record for `service@version`, or undefined when no such artifact was ever stored. */
  resolve(service: string, version: string): Promise<ArtifactRecord | undefined>;
  /** The bytes of an artifact, verified against its digest; throws ArtifactIntegrityError on mismatch. */
  read(digest: string): Promise<Buffer>;
  /** Stores bytes as `service@version`; idempotent for the same bytes, refuses different bytes (immutability). */
  put(service: string, version: string, bytes: Buffer): Promise<ArtifactRecord>;
  list(service?: string): Promise<ArtifactRecord[]>;
  /** Marks `service@version` released by `releaseId`. Idempotent. */
  promote(service: string, version: string, releaseId: string): Promise<PromotionRecord>;
  /** Takes a release back (the version must not be used again without a new promotion). Idempotent. */
  demote(service: string, version: string, releaseId: string, reason: string): Promise<PromotionRecord>;
  promotion(service: string, version: string): Promise<PromotionRecord>;
  /** Stores the signature of `service@version` (it must be for that artifact's digest). */
  putSignature(service: string, version: string, signature: ArtifactSignature): Promise<void>;
  signature(service: string, version: string): Promise<ArtifactSignature | undefined>;
  /**
   * Keeps an attestation (a DSSE envelope about the artifact, issue 16) with `service@version`, idempotently; whether
   * it counts is decided when a release reads it (providers/artifacts/attestations.ts).
   */
  putAttestation?(service: string, version: string, envelope: unknown): Promise<void>;
  /** The attestations kept with `service@version`, oldest first. */
  attestations?(service: string, version: string): Promise<unknown[]>;
}

export class ArtifactIntegrityError extends Error {
  override readonly name = 'ArtifactIntegrityError';
}

export class ArtifactConflictError extends Error {
  override readonly name = 'ArtifactConflictError';
}
