// Metrics from the fleet's own routers (the local fleet counts per version): a window is the difference of two
// readings of cumulative counters.
import { windowCounts } from '../../domain/canary';
import type { CallOptions, FleetTarget, RegionRef } from '../fleet/fleet-target';
import type { MetricsSnapshot, MetricsSource } from './metrics-source';

export class FleetMetricsSource implements MetricsSource {
  constructor(
    private readonly fleet: Pick<FleetTarget, 'metrics'>,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async snapshot(ref: RegionRef, options?: CallOptions): Promise<MetricsSnapshot> {
    const metrics = await this.fleet.metrics(ref, options);
    return { takenAt: this.clock().toISOString(), counters: metrics.versions };
  }

  async window(ref: RegionRef, since: MetricsSnapshot, options?: CallOptions) {
    const now = (await this.fleet.metrics(ref, options)).versions;
    return Object.fromEntries(
      Object.entries(now).map(([version, counts]) => [version, windowCounts(since.counters?.[version], counts)]),
    );
  }
}
