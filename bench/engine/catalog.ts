// The bench's service catalog, built here rather than read from config/: ten regions, and services whose canary has
// three steps with zero bakes, judged by the fixed-window judge (one analysis per step, right after the traffic
// shift), so nothing waits on metrics. Every service requires signed artifacts and has one production environment,
// so a `normal` change gets the approval gate `production-approval` before its first wave.
import { ServiceCatalog } from '../../domain/catalog';
import type { BenchService } from './providers';

export const REGIONS = Array.from({ length: 10 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);

/** P1 and P4: ten regions in waves of 1, 3 and 6. */
export const ORCHESTRA = 'orchestra';
export const ORCHESTRA_WAVES = [REGIONS.slice(0, 1), REGIONS.slice(1, 4), REGIONS.slice(4, 10)];
/** P4: the single-region service whose emergency rollback is the slowest single-region revert. */
export const SOLO = 'solo';
/** The approval gate a normal change meets before the first production wave (domain/plan.ts). */
export const APPROVAL_GATE = 'production-approval';

/** A set of one-region services (each used by one release at a time: releases of one service queue). */
export class ServicePool {
  private next = 0;

  constructor(
    readonly prefix: string,
    readonly size: number,
  ) {}

  name(i: number): string {
    return `${this.prefix}-${String(i + 1).padStart(4, '0')}`;
  }

  /** The region of the i-th service: spread over all ten, so no region agent carries them all. */
  region(i: number): string {
    return REGIONS[i % REGIONS.length] as string;
  }

  /** The next unused service, or undefined when all are taken. */
  take(): string | undefined {
    return this.next < this.size ? this.name(this.next++) : undefined;
  }

  /** Uses the services again from the first (their releases must have ended). */
  rewind(): void {
    this.next = 0;
  }

  get taken(): number {
    return this.next;
  }
}

const CANARY = {
  steps: [{ percent: 10 }, { percent: 25 }, { percent: 50 }],
  judge: 'fixed-window',
};

function spec(name: string, waves: string[][], description: string) {
  return {
    name,
    description,
    bakeSeconds: 0,
    canary: CANARY,
    smokeTest: { requests: 1 },
    approvals: { timeoutSeconds: 3600 },
    signing: { required: true },
    environments: [{ name: 'production', waves }],
  };
}

export interface BenchCatalog {
  catalog: ServiceCatalog;
  /** What the engine worker must hold: regions running 1.0.0 and the signed versions each service releases. */
  services: BenchService[];
}

/** The catalog: orchestra and solo with `releases` versions each (1.1.0, 1.2.0, ...), and the one-region pools. */
export function benchCatalog(releases: number, pools: ServicePool[]): BenchCatalog {
  const versions = Array.from({ length: releases }, (_, i) => `1.${i + 1}.0`);
  const entries = [
    { ...spec(ORCHESTRA, ORCHESTRA_WAVES, 'P1/P4: ten regions in waves of 1, 3, 6'), versions },
    { ...spec(SOLO, [[REGIONS[0] as string]], 'P4: one region'), versions },
    ...pools.flatMap((pool) =>
      Array.from({ length: pool.size }, (_, i) => ({
        ...spec(pool.name(i), [[pool.region(i)]], `${pool.prefix} pool: one region`),
        versions: ['1.1.0'],
      })),
    ),
  ];
  const catalog = ServiceCatalog.parse({ services: entries.map(({ versions: _, ...service }) => service) });
  const services = entries.map((e) => ({
    name: e.name,
    regions: e.environments.flatMap((env) => env.waves.flat()),
    versions: e.versions,
  }));
  return { catalog, services };
}
