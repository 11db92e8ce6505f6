// Verifies an artifact before it is released: it exists, its bytes match its digest, and (when the service requires
// it, or whenever a signature is present) it carries a valid ed25519 signature by a key the service trusts.
import type { ArtifactRecord } from '../../domain/artifact';
import type { ArtifactStore } from './artifact-store';
import { ArtifactIntegrityError } from './artifact-store';
import { checkSignature, type TrustedKey } from './signing';
import type { TrustSource } from './trust-store';

import type { ArtifactProblem } from '../../domain/failures';

export type { ArtifactProblem };

export class ArtifactRejectedError extends Error {
  override readonly name = 'ArtifactRejectedError';
  constructor(
    readonly problem: ArtifactProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifiedArtifact {
  record: ArtifactRecord;
  /** Key id of the trusted signature, when signed. */
  signedBy?: string;
}

export class ArtifactVerifier {
  constructor(
    private readonly store: ArtifactStore,
    private readonly trust: TrustSource,
  ) {}

  /** The keys the service trusts (for its artifacts and the attestations about them). */
  trustedKeys(service: string): Promise<TrustedKey[]> {
    return this.trust.keysFor(service);
  }

  async verify(service: string, version: string, policy: { signatureRequired: boolean }): Promise<VerifiedArtifact> {
    const ref = `${service}@${version}`;
    const record = await this.store.resolve(service, version);
    if (!record)
      throw new ArtifactRejectedError('ArtifactNotFound', `there is no artifact ${ref} in the artifact store`);
    try {
      await this.store.read(record.digest);
    } catch (err) {
      if (err instanceof ArtifactIntegrityError)
        throw new ArtifactRejectedError('ArtifactTampered', `${ref}: ${err.message}`);
      throw err;
    }
    const signature = await this.store.signature(service, version);
    if (!signature) {
      if (policy.signatureRequired) {
        throw new ArtifactRejectedError(
          'ArtifactUnsigned',
          `${ref} (${record.digest}) is not signed, and ${service} only releases signed artifacts`,
        );
      }
      return { record };
    }
    const check = checkSignature(signature, record.digest, await this.trust.keysFor(service));
    if (!check.ok) {
      const problem = check.problem === 'untrusted-key' ? 'ArtifactUntrustedKey' : 'ArtifactSignatureInvalid';
      throw new ArtifactRejectedError(problem, `${ref} (${record.digest}) is refused: ${check.message}`);
    }
    return { record, signedBy: check.keyId };
  }
}
