// Short-lived signed download URLs for artifacts: how a host told to deploy (by the exec driver's command, or an SSM
// document) fetches the exact artifact the engine verified, without holding any engine credential. The worker signs
// (service, version, digest, expiry) with a key it shares with the API (a file, 0600); the API serves the blob only for
// a valid, unexpired signature, and only if it still hashes to the digest. The host checks the digest again before
// unpacking: the URL says which bytes to expect.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ArtifactRef {
  service: string;
  version: string;
  digest: string;
}

/** How long a URL stays valid by default: long enough for a slow download, short enough to be useless later. */
export const DEFAULT_URL_TTL_SECONDS = 900;

/** The shared key, created (random, 0600) by whichever process needs it first. */
export function loadOrCreateArtifactUrlKey(file: string): Buffer {
  try {
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process wrote it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
}

export class ArtifactUrlSigner {
  constructor(
    private readonly key: Buffer,
    /** The API's address as hosts reach it, e.g. https://releases.example.com */
    private readonly baseUrl: string,
  ) {
    if (key.length < 32) throw new Error('the artifact URL key must be at least 32 bytes');
  }

  /** A URL for `ref`, valid for `ttlSeconds` from `now`. */
  url(ref: ArtifactRef, ttlSeconds = DEFAULT_URL_TTL_SECONDS, now = Date.now()): string {
    const expires = Math.floor(now / 1000) + ttlSeconds;
    const path = `/artifacts/v1/${encodeURIComponent(ref.service)}/${encodeURIComponent(ref.version)}`;
    const query = new URLSearchParams({ digest: ref.digest, expires: String(expires), sig: this.sign(ref, expires) });
    return `${this.baseUrl.replace(/\/+$/, '')}${path}?${query.toString()}`;
  }

  /** Why a download may not proceed, in words, or undefined when the signature holds and has not expired. */
  refusal(
    ref: ArtifactRef,
    expires: string | undefined,
    sig: string | undefined,
    now = Date.now(),
  ): string | undefined {
    if (!expires || !/^\d{1,12}$/.test(expires) || !sig) return 'the URL lacks its expiry or signature';
    const expected = Buffer.from(this.sign(ref, Number(expires)));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return 'the signature does not match this artifact (ask the engine for a new URL)';
    }
    if (Number(expires) * 1000 < now) return 'the URL has expired (ask the engine for a new one)';
    return undefined;
  }

  private sign(ref: ArtifactRef, expires: number): string {
    return createHmac('sha256', this.key)
      .update(['artifact-download-v1', ref.service, ref.version, ref.digest, String(expires)].join('\n'))
      .digest('base64url');
  }
}
