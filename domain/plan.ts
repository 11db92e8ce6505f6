// Turns a release request and the service's catalog entry into the plan the release workflow executes.
import type { ServiceSpec } from './catalog';
import type { ChangeClass } from './release-request';
import { regionTaskQueue } from './names';

export interface WavePlan {
  index: number;
  environment: string;
  regions: { region: string; taskQueue: string }[];
}

export interface ReleasePlan {
  service: string;
  version: string;
  releaseId: string;
  changeClass: ChangeClass;
  bakeSeconds: number;
  waves: WavePlan[];
}

export interface PlanRequest {
  service: string;
  version: string;
  releaseId: string;
  changeClass: ChangeClass;
  bakeSeconds?: number | undefined;
}

/** Computes waves (in environment order, then wave order) for a release of `request` to `service`. */
export function planRelease(request: PlanRequest, service: ServiceSpec): ReleasePlan {
  if (request.service !== service.name) {
    throw new Error(`plan for ${request.service} was given the catalog entry of ${service.name}`);
  }
  const waves: WavePlan[] = [];
  for (const env of service.environments) {
    for (const regions of env.waves) {
      waves.push({
        index: waves.length,
        environment: env.name,
        regions: regions.map((region) => ({ region, taskQueue: regionTaskQueue(region) })),
      });
    }
  }
  return {
    service: service.name,
    version: request.version,
    releaseId: request.releaseId,
    changeClass: request.changeClass,
    bakeSeconds: request.bakeSeconds ?? service.bakeSeconds,
    waves,
  };
}
