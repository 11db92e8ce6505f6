// The artifact store in memory (content-addressed bytes, an immutable service@version index, promotion status,
// signatures), a trust source holding public keys in memory, and the real verifier with a latch in front of it so a
// test can make verification slow. Artifacts are real archives (packed like the CLI packs them), so the real
// migration activities read the migrations a version carries.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArtifactRecord } from '../../../domain/artifact';
import {
  ArtifactConflictError,
  ArtifactIntegrityError,
  type ArtifactStore,
  type PromotionRecord,
} from '../../../providers/artifacts/artifact-store';
import { sha256Digest } from '../../../providers/artifacts/digest';
import { packArtifact } from '../../../providers/artifacts/pack';
import { type ArtifactSignature, keyIdOf, type TrustedKey } from '../../../providers/artifacts/signing';
import type { TrustSource } from '../../../providers/artifacts/trust-store';
import { ArtifactVerifier, type VerifiedArtifact } from '../../../providers/artifacts/verifier';
import type { Journal } from './journal';
import { Latch } from './latch';

const key = (service: string, version: string) => `${service}@${version}`;

export class MemoryArtifactStore implements ArtifactStore {
  private readonly blobs = new Map<string, Buffer>();
  private readonly records = new Map<string, ArtifactRecord>();
  private readonly promotions = new Map<string, PromotionRecord>();
  private readonly signatures = new Map<string, ArtifactSignature>();

  constructor(private readonly journal?: Journal) {}

  resolve(service: string, version: string): Promise<ArtifactRecord | undefined> {
    return Promise.resolve(this.records.get(key(service, version)));
  }

  read(digest: string): Promise<Buffer> {
    const bytes = this.blobs.get(digest);
    if (!bytes) return Promise.reject(new ArtifactIntegrityError(`no blob ${digest} in the artifact store`));
    const actual = sha256Digest(bytes);
    if (actual !== digest) {
      return Promise.reject(new ArtifactIntegrityError(`blob ${digest} does not match its digest (it is ${actual})`));
    }
    return Promise.resolve(Buffer.from(bytes));
  }

  put(service: string, version: string, bytes: Buffer): Promise<ArtifactRecord> {
    const digest = sha256Digest(bytes);
    const existing = this.records.get(key(service, version));
    if (existing) {
      if (existing.digest !== digest) {
        return Promise.reject(
          new ArtifactConflictError(`${service}@${version} already exists with digest ${existing.digest}`),
        );
      }
      return Promise.resolve(existing);
    }
    this.blobs.set(digest, Buffer.from(bytes));
    const record: ArtifactRecord = {
      service,
      version,
      digest,
      size: bytes.length,
      createdAt: new Date().toISOString(),
    };
    this.records.set(key(service, version), record);
    return Promise.resolve(record);
  }

  list(service?: string): Promise<ArtifactRecord[]> {
    return Promise.resolve([...this.records.values()].filter((r) => service === undefined || r.service === service));
  }

  promote(service: string, version: string, releaseId: string): Promise<PromotionRecord> {
    const current = this.promotions.get(key(service, version));
    if (current?.status === 'released' && current.releaseId === releaseId) return Promise.resolve(current);
    return this.setPromotion(service, version, { status: 'released', at: new Date().toISOString(), releaseId });
  }

  demote(service: string, version: string, releaseId: string, reason: string): Promise<PromotionRecord> {
    const current = this.promotions.get(key(service, version));
    if (current?.status === 'demoted' && current.releaseId === releaseId) return Promise.resolve(current);
    return this.setPromotion(service, version, { status: 'demoted', at: new Date().toISOString(), releaseId, reason });
  }

  promotion(service: string, version: string): Promise<PromotionRecord> {
    return Promise.resolve(this.promotions.get(key(service, version)) ?? { status: 'candidate' });
  }

  putSignature(service: string, version: string, signature: ArtifactSignature): Promise<void> {
    const record = this.records.get(key(service, version));
    if (!record)
      return Promise.reject(new ArtifactIntegrityError(`there is no artifact ${service}@${version} to sign`));
    if (signature.digest !== record.digest) {
      return Promise.reject(
        new ArtifactConflictError(
          `the signature is for ${signature.digest}, but ${service}@${version} is ${record.digest}`,
        ),
      );
    }
    this.signatures.set(key(service, version), signature);
    return Promise.resolve();
  }

  signature(service: string, version: string): Promise<ArtifactSignature | undefined> {
    return Promise.resolve(this.signatures.get(key(service, version)));
  }

  /** Flips one byte of the stored bytes of service@version, as a corrupted or tampered store would. */
  tamper(service: string, version: string): void {
    const record = this.records.get(key(service, version));
    const bytes = record && this.blobs.get(record.digest);
    if (!record || !bytes) throw new Error(`there is no artifact ${service}@${version} to tamper with`);
    const changed = Buffer.from(bytes);
    changed[changed.length - 1] = (changed[changed.length - 1] ?? 0) ^ 0xff;
    this.blobs.set(record.digest, changed);
  }

  private setPromotion(service: string, version: string, record: PromotionRecord): Promise<PromotionRecord> {
    if (!this.records.has(key(service, version))) {
      return Promise.reject(new ArtifactIntegrityError(`there is no artifact ${service}@${version} to change`));
    }
    this.promotions.set(key(service, version), record);
    this.journal?.add('artifacts', `${record.status} ${service}@${version} by ${record.releaseId}`);
    return Promise.resolve(record);
  }
}

/** Packs an artifact archive of service@version carrying the given migration files (name under migrations/ -> SQL). */
export async function packVersion(
  service: string,
  version: string,
  migrations: Record<string, string> = {},
): Promise<Buffer> {
  const empty = await mkdtemp(join(tmpdir(), 'memory-artifact-'));
  try {
    const files = Object.fromEntries(Object.entries(migrations).map(([name, sql]) => [`migrations/${name}`, sql]));
    return await packArtifact(empty, { service, version, entrypoint: 'server.mjs' }, files);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
}

/** Public keys each service trusts, kept in memory. */
export class MemoryTrustSource implements TrustSource {
  private readonly keys: { publicKeyPem: string; services: string[] }[] = [];

  trust(publicKeyPem: string, services: string[]): void {
    this.keys.push({ publicKeyPem, services });
  }

  keysFor(service: string): Promise<TrustedKey[]> {
    return Promise.resolve(
      this.keys
        .filter((k) => k.services.includes('*') || k.services.includes(service))
        .map((k) => ({ id: keyIdOf(k.publicKeyPem), publicKeyPem: k.publicKeyPem })),
    );
  }
}

/** The real verifier; while a test holds its latch, every verification waits before it starts. */
export class LatchedVerifier extends ArtifactVerifier {
  private latch: Latch | undefined;
  /** service@version of every verification asked for, in order. */
  readonly calls: string[] = [];

  /** Makes verifications wait until the returned latch is opened. */
  hold(): Latch {
    this.latch = new Latch();
    return this.latch;
  }

  /** Lets every waiting and future verification through. */
  release(): void {
    this.latch?.open();
  }

  /** Verifications waiting at the latch now. */
  get waiting(): number {
    return this.latch?.waiting ?? 0;
  }

  override async verify(
    service: string,
    version: string,
    policy: { signatureRequired: boolean },
  ): Promise<VerifiedArtifact> {
    this.calls.push(key(service, version));
    await this.latch?.wait();
    return super.verify(service, version, policy);
  }
}
