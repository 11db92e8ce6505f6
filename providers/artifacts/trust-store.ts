// Which public keys each service trusts for artifact signatures: a JSON file managed by operators (TRUSTED_KEYS_FILE),
// read at every check so a rotated key takes effect without a restart. Key ids are derived from the keys themselves.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ServiceName } from '../../domain/names';
import { keyIdOf, type TrustedKey } from './signing';

export const TrustFile = z.strictObject({
  keys: z.array(
    z.strictObject({
      /** PEM-encoded ed25519 public key. */
      publicKey: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }),
      /** Services that trust this key; "*" for all. */
      services: z.array(z.union([ServiceName, z.literal('*')])).min(1),
      comment: z.string().max(200).optional(),
    }),
  ),
});
export type TrustFile = z.infer<typeof TrustFile>;

export interface TrustSource {
  keysFor(service: string): Promise<TrustedKey[]>;
}

export class FileTrustStore implements TrustSource {
  constructor(readonly path: string) {}

  async keysFor(service: string): Promise<TrustedKey[]> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(this.path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`cannot read the trusted keys file ${this.path}: ${(err as Error).message}`);
    }
    const parsed = TrustFile.safeParse(raw);
    if (!parsed.success)
      throw new Error(`the trusted keys file ${this.path} is invalid:\n${z.prettifyError(parsed.error)}`);
    return parsed.data.keys
      .filter((k) => k.services.includes('*') || k.services.includes(service))
      .map((k) => ({ id: keyIdOf(k.publicKey), publicKeyPem: k.publicKey }));
  }
}
