// The drift check of the API: per region, the version ledger against what the fleet says the region runs, with the
// latest SRE acknowledgement. Read-only; the fleet is asked, never changed.
import { type RegionDrift, regionDrift } from '../domain/drift';
import type { Context } from './context';

export interface RegionDriftView {
  region: string;
  drift: RegionDrift;
}

/**
 * The drift of each of `regions`. `inFlight` names a release or rollback of the service in flight: it changes the
 * fleet before it records the ledger, so its regions are not judged until it ends.
 */
export async function serviceDrift(
  ctx: Pick<Context, 'fleet' | 'ledger' | 'driftAcks'>,
  service: string,
  regions: readonly string[],
  inFlight?: string,
): Promise<RegionDriftView[]> {
  return Promise.all(
    regions.map(async (region): Promise<RegionDriftView> => {
      if (inFlight) {
        return { region, drift: { status: 'unknown', reason: `${inFlight} is in flight; checked once it ends` } };
      }
      if (!ctx.fleet || !ctx.ledger) {
        return { region, drift: { status: 'unknown', reason: 'this API is not configured to read the fleet' } };
      }
      const [ledger, observed, ack] = await Promise.all([
        ctx.ledger.current(service, region),
        ctx.fleet.running({ service, region }).catch((err: unknown) => ({
          known: false as const,
          reason: `the fleet did not answer: ${(err as Error).message}`,
        })),
        ctx.driftAcks?.latest(service, region),
      ]);
      return { region, drift: regionDrift(ledger, observed, ack) };
    }),
  );
}
