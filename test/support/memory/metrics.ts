// A metrics source whose numbers the test decides: per version (and optionally per region), what each analysis
// window of that version shows: a pass, a fail, an inconclusive window (too few requests), or exact counts. A list
// is used in order, one entry per analysis, the last one repeating. Versions nobody programmed look healthy, which is
// what a baseline should look like.
import type { MetricCounts } from '../../../domain/canary';
import type { RegionRef } from '../../../providers/fleet/fleet-target';
import type { MetricsSnapshot, MetricsSource } from '../../../providers/metrics/metrics-source';
import type { MemoryFleet } from './fleet';

export type WindowShape = 'pass' | 'fail' | 'inconclusive' | { requests: number; errors: number };

const REQUESTS = 400;

/** Counts of a window of the given shape; latency is the same for every shape, so only errors and volume decide. */
export function countsOf(shape: WindowShape): MetricCounts {
  const { requests, errors } =
    shape === 'pass'
      ? { requests: REQUESTS, errors: 0 }
      : shape === 'fail'
        ? { requests: REQUESTS, errors: REQUESTS / 4 }
        : shape === 'inconclusive'
          ? { requests: 3, errors: 0 }
          : shape;
  return { requests, errors, latencyMsSum: requests * 10, latencyBuckets: { '25': requests, '+Inf': requests } };
}

export class MemoryMetrics implements MetricsSource {
  private readonly programs: { version: string; region?: string; shapes: WindowShape[]; used: number }[] = [];
  /** Windows handed out, in order: which version in which region looked like what. */
  readonly windows: { region: string; version: string; shape: WindowShape }[] = [];

  constructor(private readonly fleet: MemoryFleet) {}

  /** What the analysis windows of `version` show (in `region` only, when given); a later call overrides an earlier. */
  program(version: string, shapes: WindowShape | WindowShape[], options: { region?: string } = {}): void {
    this.programs.unshift({
      version,
      ...(options.region ? { region: options.region } : {}),
      shapes: Array.isArray(shapes) ? shapes : [shapes],
      used: 0,
    });
  }

  snapshot(): Promise<MetricsSnapshot> {
    return Promise.resolve({ takenAt: new Date().toISOString() });
  }

  /** Counts per version running in the region; each programmed version moves on to its next shape. */
  window(ref: RegionRef): Promise<Record<string, MetricCounts>> {
    const running = Object.keys(this.fleet.inspect(ref.service, ref.region).weights);
    const counts: Record<string, MetricCounts> = {};
    for (const version of running) {
      const program = this.programs.find(
        (p) => p.version === version && (p.region === undefined || p.region === ref.region),
      );
      let shape: WindowShape = 'pass';
      if (program) {
        shape = program.shapes[Math.min(program.used, program.shapes.length - 1)] ?? 'pass';
        program.used += 1;
      }
      this.windows.push({ region: ref.region, version, shape });
      counts[version] = countsOf(shape);
    }
    return Promise.resolve(counts);
  }
}
