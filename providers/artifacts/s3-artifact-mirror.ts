// Artifacts for hosts from S3: before a deploy, the region agent copies the artifact it verified into a bucket, under a
// key made of its digest (once: an object already there is not written again), and gives the hosts a presigned GET URL
// that lasts 15 minutes. Hosts need no engine credential and no AWS credential; the Deploy document checks the digest
// of what it fetched before unpacking, so an object changed in the bucket afterwards is refused on the host.
import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { FleetError } from '../fleet/fleet-target';
import { type ArtifactRef, DEFAULT_URL_TTL_SECONDS } from './artifact-urls';

/** Reads a verified artifact's bytes (the engine's artifact store). */
export interface ArtifactBytes {
  /** The bytes of `digest`; throws when they no longer hash to it. */
  read(digest: string): Promise<Buffer>;
}

export interface S3Location {
  bucket: string;
  /** Key prefix, e.g. "release-engine/artifacts/" (default). */
  prefix?: string;
}

export function s3Client(options: {
  region: string;
  endpoint?: string | undefined;
  /** Default: the SDK's usual chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // An endpoint of our own (moto_server, MinIO) serves buckets by path, not by host name.
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
  });
}

export class S3ArtifactMirror {
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    private readonly location: S3Location,
    private readonly bytes: ArtifactBytes,
  ) {
    this.prefix = location.prefix ?? 'release-engine/artifacts/';
  }

  /** The object key of an artifact: its service and digest (a version can never name other bytes). */
  keyOf(ref: ArtifactRef): string {
    return `${this.prefix}${ref.service}/${ref.digest.replace(/^sha256:/, '')}.tar.gz`;
  }

  /** A presigned URL of the artifact, copied to the bucket first if it is not there. */
  async url(ref: ArtifactRef, ttlSeconds = DEFAULT_URL_TTL_SECONDS): Promise<string> {
    const Key = this.keyOf(ref);
    const { bucket: Bucket } = this.location;
    if (!(await this.exists(Bucket, Key))) {
      const body = await this.bytes.read(ref.digest);
      const sha256 = createHash('sha256').update(body).digest();
      await this.call(`copy ${ref.service}@${ref.version} to s3://${Bucket}/${Key}`, () =>
        this.client.send(
          new PutObjectCommand({
            Bucket,
            Key,
            Body: body,
            ContentType: 'application/gzip',
            // S3 refuses the upload if the bytes arrive changed.
            ChecksumSHA256: sha256.toString('base64'),
            Metadata: { digest: ref.digest, service: ref.service, version: ref.version },
          }),
        ),
      );
    }
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket, Key }), { expiresIn: ttlSeconds });
  }

  private async exists(Bucket: string, Key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket, Key }));
      return true;
    } catch (err) {
      const e = err as S3ServiceException;
      if (e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404) return false;
      throw toFleetError(`look for s3://${Bucket}/${Key}`, err);
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toFleetError(what, err);
    }
  }
}

function toFleetError(what: string, err: unknown): FleetError {
  if (err instanceof FleetError) return err;
  if (err instanceof S3ServiceException) {
    // A missing bucket or a refused credential fails the same way next time; a server fault may not.
    return new FleetError(`S3 could not ${what}: ${err.name}: ${err.message}`, err.$fault === 'server');
  }
  return new FleetError(`could not reach S3 to ${what}: ${(err as Error).message}`, true);
}
