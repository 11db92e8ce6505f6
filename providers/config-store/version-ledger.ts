// The version ledger: which version each service runs in each region, kept in the config store at
//   /release-engine/services/<service>/regions/<region>/version
// as JSON ({ version, digest, releaseId, recordedAt }). The parameter's history is the region's release history.
import { z } from 'zod';
import type { ConfigStore } from './config-store';

export const LedgerEntry = z.object({
  version: z.string(),
  digest: z.string().optional(),
  releaseId: z.string(),
  recordedAt: z.string(),
  /** Written by a rollback: the version the region was rolled back from. */
  rolledBackFrom: z.string().optional(),
  reason: z.string().optional(),
});
export type LedgerEntry = z.infer<typeof LedgerEntry>;

export const LEDGER_ROOT = '/release-engine/services';

export function ledgerParameterName(service: string, region: string): string {
  return `${LEDGER_ROOT}/${service}/regions/${region}/version`;
}

export class VersionLedger {
  constructor(private readonly store: ConfigStore) {}

  async current(service: string, region: string): Promise<LedgerEntry | undefined> {
    const parameter = await this.store.get(ledgerParameterName(service, region));
    return parameter ? LedgerEntry.parse(JSON.parse(parameter.value)) : undefined;
  }

  /** Records that `region` now runs `entry.version`. A repeat of the current entry writes nothing (retry-safe). */
  async record(service: string, region: string, entry: LedgerEntry): Promise<{ written: boolean }> {
    const current = await this.current(service, region);
    if (current && current.version === entry.version && current.releaseId === entry.releaseId)
      return { written: false };
    await this.store.put(ledgerParameterName(service, region), JSON.stringify(entry), { overwrite: true });
    return { written: true };
  }

  /**
   * Records what a region was seen running when the ledger does not already say so (its first release, or a change
   * made outside the engine), so that version can be rolled back to. Safe to repeat.
   */
  async observe(service: string, region: string, version: string, recordedAt: string): Promise<{ written: boolean }> {
    const current = await this.current(service, region);
    if (current?.version === version) return { written: false };
    await this.store.put(
      ledgerParameterName(service, region),
      JSON.stringify({ version, releaseId: 'observed', recordedAt, reason: 'found running before a release' }),
      { overwrite: true },
    );
    return { written: true };
  }

  /** Every entry ever recorded for the region, oldest first. */
  async history(service: string, region: string): Promise<LedgerEntry[]> {
    const versions = await this.store.history(ledgerParameterName(service, region));
    return versions.map((p) => LedgerEntry.parse(JSON.parse(p.value)));
  }
}
