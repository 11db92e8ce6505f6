// GET /artifacts/v1/<service>/<version>?digest=&expires=&sig=: the artifact a worker signed a URL for, to a host that
// holds no engine credential (providers/artifacts/artifact-urls.ts). Refusals are plain words; the blob is served only
// when it still hashes to the digest the URL names.
import { type Request, type Response, Router } from 'express';
import type { ArtifactRecord } from '../domain/artifact';
import type { ArtifactUrlSigner } from '../providers/artifacts/artifact-urls';

export interface ArtifactBlobs {
  resolve(service: string, version: string): Promise<ArtifactRecord | undefined>;
  /** The bytes of `digest`; throws when they no longer hash to it. */
  read(digest: string): Promise<Buffer>;
}

export function artifactDownloads(options: { signer: ArtifactUrlSigner; blobs: ArtifactBlobs }): Router {
  const router = Router();
  router.get('/v1/:service/:version', async (req: Request, res: Response) => {
    const service = String(req.params.service ?? '');
    const version = String(req.params.version ?? '');
    const query = req.query as Record<string, unknown>;
    const text = (name: string): string | undefined => {
      const value = query[name];
      return typeof value === 'string' ? value : undefined;
    };
    const digest = text('digest') ?? '';
    const refusal = options.signer.refusal({ service, version, digest }, text('expires'), text('sig'));
    if (refusal) return plain(res, 403, `artifact ${service}@${version}: ${refusal}`);
    let record: ArtifactRecord | undefined;
    try {
      record = await options.blobs.resolve(service, version);
    } catch {
      return plain(res, 503, 'the artifact store did not answer; try again');
    }
    if (!record) return plain(res, 404, `there is no artifact ${service}@${version}`);
    if (record.digest !== digest) {
      return plain(res, 409, `artifact ${service}@${version} is ${record.digest}, not the ${digest} this URL names`);
    }
    let bytes: Buffer;
    try {
      bytes = await options.blobs.read(digest);
    } catch (err) {
      return plain(res, 409, `artifact ${service}@${version}: ${(err as Error).message}`);
    }
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('x-artifact-digest', digest);
    res.setHeader('cache-control', 'private, no-store');
    res.end(bytes);
  });
  return router;
}

function plain(res: Response, status: number, message: string): void {
  res.status(status).type('text/plain').send(`${message}\n`);
}
