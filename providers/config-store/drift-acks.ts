// SRE acknowledgements of drift, kept in the config store beside the version ledger (so the API finds them with the
// file store and with SSM Parameter Store alike) at
//   /release-engine/services/<service>/regions/<region>/drift-ack
// One parameter per region holds the latest acknowledgement; its history is every acknowledgement ever made.
import { z } from 'zod';
import type { DriftAcknowledgement } from '../../domain/drift';
import type { ConfigStore } from './config-store';
import { LEDGER_ROOT } from './version-ledger';

const Acknowledgement = z.object({
  fingerprint: z.string(),
  ledgerVersion: z.string(),
  runs: z.string(),
  by: z.string(),
  reason: z.string(),
  at: z.string(),
});

export function driftAckParameterName(service: string, region: string): string {
  return `${LEDGER_ROOT}/${service}/regions/${region}/drift-ack`;
}

export class DriftAckStore {
  constructor(private readonly store: ConfigStore) {}

  /** The latest acknowledgement for the region, if any. */
  async latest(service: string, region: string): Promise<DriftAcknowledgement | undefined> {
    const parameter = await this.store.get(driftAckParameterName(service, region));
    if (!parameter) return undefined;
    const parsed = Acknowledgement.safeParse(JSON.parse(parameter.value));
    return parsed.success ? parsed.data : undefined;
  }

  async record(service: string, region: string, ack: DriftAcknowledgement): Promise<void> {
    await this.store.put(driftAckParameterName(service, region), JSON.stringify(ack), { overwrite: true });
  }

  /** Every acknowledgement made for the region, oldest first. */
  async history(service: string, region: string): Promise<DriftAcknowledgement[]> {
    const versions = await this.store.history(driftAckParameterName(service, region));
    return versions.flatMap((p) => {
      const parsed = Acknowledgement.safeParse(JSON.parse(p.value));
      return parsed.success ? [parsed.data] : [];
    });
  }
}
