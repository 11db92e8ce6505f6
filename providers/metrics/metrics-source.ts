// Where canary analysis gets its numbers: requests, errors and latency per version of a service in a region,
// over a window that starts with a snapshot and ends now.
import type { MetricCounts } from '../../domain/canary';
import type { CallOptions, RegionRef } from '../fleet/fleet-target';

/** The start of an analysis window. Opaque to the workflow; kept in its history between the two calls. */
export interface MetricsSnapshot {
  takenAt: string;
  /** Cumulative counters per version at `takenAt`, for sources that only expose counters. */
  counters?: Record<string, MetricCounts>;
}

export interface MetricsSource {
  snapshot(ref: RegionRef, options?: CallOptions): Promise<MetricsSnapshot>;
  /** Counts per version between `since` and now. */
  window(ref: RegionRef, since: MetricsSnapshot, options?: CallOptions): Promise<Record<string, MetricCounts>>;
}
