import { createHash } from 'node:crypto';

/** `sha256:<hex>` of the given bytes. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
