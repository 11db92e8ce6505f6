// The embedded artifact store: a directory with blobs/sha256/<hex> and refs/<service>/<version>.json.
// Writes go to a temporary file and are renamed into place, so a reader never sees half an artifact.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ArtifactManifest, ArtifactRecord } from '../../domain/artifact';
import { ServiceName, Sha256Digest, Version } from '../../domain/names';
import {
  ArtifactConflictError,
  ArtifactIntegrityError,
  type ArtifactStore,
  type PromotionRecord,
} from './artifact-store';
import { sha256Digest } from './digest';
import { readArtifactManifest } from './pack';
import { ArtifactSignature } from './signing';

async function writeAtomically(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

export class LocalArtifactStore implements ArtifactStore {
  constructor(
    readonly root: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', Sha256Digest.parse(digest).slice('sha256:'.length));
  }

  private refPath(service: string, version: string): string {
    return join(this.root, 'refs', ServiceName.parse(service), `${Version.parse(version)}.json`);
  }

  async resolve(service: string, version: string): Promise<ArtifactRecord | undefined> {
    try {
      return ArtifactRecord.parse(JSON.parse(await readFile(this.refPath(service, version), 'utf8')));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  private readonly manifests = new Map<string, ArtifactManifest>();

  /** The manifest (artifact.json) of `service@version`, or undefined when there is no such artifact. */
  async manifest(service: string, version: string): Promise<ArtifactManifest | undefined> {
    const record = await this.resolve(service, version);
    if (!record) return undefined;
    // Artifacts are immutable: a digest's manifest never changes.
    const known = this.manifests.get(record.digest);
    if (known) return known;
    const manifest = await readArtifactManifest(await this.read(record.digest));
    this.manifests.set(record.digest, manifest);
    return manifest;
  }

  async read(digest: string): Promise<Buffer> {
    const bytes = await readFile(this.blobPath(digest));
    const actual = sha256Digest(bytes);
    if (actual !== digest) {
      throw new ArtifactIntegrityError(`artifact ${digest} is corrupt: its bytes hash to ${actual}`);
    }
    return bytes;
  }

  async put(service: string, version: string, bytes: Buffer): Promise<ArtifactRecord> {
    const digest = sha256Digest(bytes);
    const existing = await this.resolve(service, version);
    if (existing) {
      if (existing.digest !== digest) {
        throw new ArtifactConflictError(
          `${service}@${version} already exists with digest ${existing.digest}; artifacts are immutable, publish a new version`,
        );
      }
      return existing;
    }
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
    await writeAtomically(this.blobPath(digest), bytes);
    const record: ArtifactRecord = {
      service,
      version,
      digest,
      size: bytes.length,
      createdAt: this.clock().toISOString(),
    };
    await mkdir(join(this.root, 'refs', service), { recursive: true });
    await writeAtomically(this.refPath(service, version), `${JSON.stringify(record, null, 2)}\n`);
    return record;
  }

  private promotionPath(service: string, version: string): string {
    return join(this.root, 'refs', ServiceName.parse(service), `${Version.parse(version)}.promotion.json`);
  }

  async promotion(service: string, version: string): Promise<PromotionRecord> {
    try {
      return JSON.parse(await readFile(this.promotionPath(service, version), 'utf8')) as PromotionRecord;
    } catch (err) {
      if (isMissing(err)) return { status: 'candidate' };
      throw err;
    }
  }

  private async setPromotion(service: string, version: string, record: PromotionRecord): Promise<PromotionRecord> {
    if (!(await this.resolve(service, version))) {
      throw new ArtifactIntegrityError(`there is no artifact ${service}@${version} to change`);
    }
    await writeAtomically(this.promotionPath(service, version), `${JSON.stringify(record, null, 2)}\n`);
    return record;
  }

  async promote(service: string, version: string, releaseId: string): Promise<PromotionRecord> {
    const current = await this.promotion(service, version);
    if (current.status === 'released' && current.releaseId === releaseId) return current;
    return this.setPromotion(service, version, { status: 'released', at: this.clock().toISOString(), releaseId });
  }

  async demote(service: string, version: string, releaseId: string, reason: string): Promise<PromotionRecord> {
    const current = await this.promotion(service, version);
    if (current.status === 'demoted' && current.releaseId === releaseId) return current;
    return this.setPromotion(service, version, {
      status: 'demoted',
      at: this.clock().toISOString(),
      releaseId,
      reason,
    });
  }

  private signaturePath(service: string, version: string): string {
    return join(this.root, 'refs', ServiceName.parse(service), `${Version.parse(version)}.sig.json`);
  }

  async putSignature(service: string, version: string, signature: ArtifactSignature): Promise<void> {
    const record = await this.resolve(service, version);
    if (!record) throw new ArtifactIntegrityError(`there is no artifact ${service}@${version} to sign`);
    if (signature.digest !== record.digest) {
      throw new ArtifactConflictError(
        `the signature is for ${signature.digest}, but ${service}@${version} is ${record.digest}`,
      );
    }
    await writeAtomically(
      this.signaturePath(service, version),
      `${JSON.stringify(ArtifactSignature.parse(signature), null, 2)}\n`,
    );
  }

  async signature(service: string, version: string): Promise<ArtifactSignature | undefined> {
    try {
      return ArtifactSignature.parse(JSON.parse(await readFile(this.signaturePath(service, version), 'utf8')));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  private attestationDir(service: string, version: string): string {
    return join(this.root, 'refs', ServiceName.parse(service), `${Version.parse(version)}.attestations`);
  }

  async putAttestation(service: string, version: string, envelope: unknown): Promise<void> {
    if (!(await this.resolve(service, version))) {
      throw new ArtifactIntegrityError(`there is no artifact ${service}@${version} to attest`);
    }
    const text = `${JSON.stringify(envelope)}\n`;
    const dir = this.attestationDir(service, version);
    const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
    const existing = await readdir(dir).catch(() => [] as string[]);
    if (existing.some((f) => f.endsWith(`-${hash}.json`))) return;
    // Named by when it was kept, so the newest of a kind is the last one read.
    const stamp = this.clock().toISOString().replace(/[-:.]/g, '');
    await mkdir(dir, { recursive: true });
    await writeAtomically(join(dir, `${stamp}-${hash}.json`), text);
  }

  async attestations(service: string, version: string): Promise<unknown[]> {
    const dir = this.attestationDir(service, version);
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
    return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as unknown));
  }

  async list(service?: string): Promise<ArtifactRecord[]> {
    const services = service ? [service] : await readdir(join(this.root, 'refs')).catch(() => [] as string[]);
    const records: ArtifactRecord[] = [];
    for (const name of services) {
      const files = await readdir(join(this.root, 'refs', name)).catch(() => [] as string[]);
      const isRef = (f: string) => f.endsWith('.json') && !f.endsWith('.promotion.json') && !f.endsWith('.sig.json');
      for (const file of files.filter(isRef)) {
        const record = await this.resolve(name, file.slice(0, -'.json'.length));
        if (record) records.push(record);
      }
    }
    return records;
  }
}
