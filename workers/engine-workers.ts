// Builds the engine's workers on one connection: the orchestrator (coordinators, releases, rollbacks and their
// bookkeeping activities on the release task queue) and, in the embedded default, an agent per region polling
// deploy.<region> (the region's rollout child workflows and its fleet activities). In production each region runs
// its own agent (workers/region-agent.ts) next to its fleet instead.
import { readFile } from 'node:fs/promises';
import type { AesGcmPayloadCodec } from '../providers/codec/encryption-codec';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import {
  createRegionActivities,
  createReleaseActivities,
  type RegionActivityDeps,
  type ReleaseActivityDeps,
} from '../activities';
import { regionTaskQueue } from '../domain/names';
import { bundleEngineWorkflows, keysMissingFrom } from './bundle';
import { workerDataConverter } from './data-converter';

export interface EngineWorkersOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Release task queue (workflows + orchestrator activities); omit to run region agents only. */
  releaseTaskQueue?: string;
  /** Regions whose deploy.<region> queue this process serves. */
  regions: string[];
  /** Providers of the orchestrator's activities (needed with releaseTaskQueue). */
  releaseDeps?: ReleaseActivityDeps;
  /** Providers of the region activities (needed with regions). */
  regionDeps?: RegionActivityDeps;
  /**
   * The API's public keys the workflows trust for signed messages (key id -> raw ed25519 key, hex). They are compiled
   * into the bundle; a prebuilt bundle must already hold them (workers/bundle.ts).
   */
  trustedKeys: Record<string, string>;
  /** A prebuilt bundle (tests build one per run), built by bundleEngineWorkflows with the same trusted keys. */
  workflowBundle?: { codePath: string } | { code: string };
  /** Seals every payload the workers send to Temporal (payload encryption); omit to send them in clear. */
  payloadCodec?: AesGcmPayloadCodec;
  identity?: string;
  /**
   * The most workflows the orchestrator keeps in memory (coordinators, releases, rollbacks); the least recently used
   * beyond it are evicted and replayed from their history when they next have work. Default ORCHESTRATOR_CACHE.
   */
  maxCachedWorkflows?: number;
}

/**
 * Workflows the orchestrator keeps in memory by default. A release parked at a gate for days needs none of its memory
 * until someone decides: evicted, it is replayed from its history (a few hundred events) when the decision comes. The
 * SDK's default (about 2,300 on a 4 GiB heap) keeps them all: about 1 MiB of worker memory per parked release with its
 * coordinator (bench/, P3 with 200 parked), so 1,000 parked would hold about 1 GiB more. This bounds it.
 */
export const ORCHESTRATOR_CACHE = 400;

export async function createEngineWorkers(options: EngineWorkersOptions): Promise<Worker[]> {
  const { connection, namespace = 'default' } = options;
  if (Object.keys(options.trustedKeys).length === 0) {
    throw new Error(
      'no trusted decision keys: the workflows would refuse every release and decision (see README, "Signed decisions")',
    );
  }
  let workflows: { workflowBundle: WorkerOptions['workflowBundle'] };
  if (options.workflowBundle) {
    const prebuilt = options.workflowBundle;
    const code = 'code' in prebuilt ? prebuilt.code : await readFile(prebuilt.codePath, 'utf8');
    const missing = keysMissingFrom(code, options.trustedKeys);
    if (missing.length > 0) {
      throw new Error(
        `the prebuilt workflow bundle does not trust decision key(s) ${missing.join(', ')}; rebuild it with the worker's trusted keys (workers/bundle.ts)`,
      );
    }
    workflows = { workflowBundle: prebuilt };
  } else {
    workflows = { workflowBundle: await bundleEngineWorkflows({ trustedKeys: options.trustedKeys }) };
  }
  const dataConverter = workerDataConverter(options.payloadCodec);
  const workers: Worker[] = [];
  if (options.releaseTaskQueue) {
    if (!options.releaseDeps) throw new Error('releaseDeps are needed to serve the release task queue');
    workers.push(
      await Worker.create({
        connection,
        namespace,
        taskQueue: options.releaseTaskQueue,
        ...workflows,
        maxCachedWorkflows: options.maxCachedWorkflows ?? ORCHESTRATOR_CACHE,
        dataConverter,
        activities: createReleaseActivities(options.releaseDeps),
        ...(options.identity ? { identity: `${options.identity}/orchestrator` } : {}),
      }),
    );
  }
  if (options.regions.length > 0) {
    const regionDeps = options.regionDeps;
    if (!regionDeps) throw new Error('regionDeps are needed to serve regions');
    for (const region of options.regions) {
      workers.push(
        await Worker.create({
          connection,
          namespace,
          taskQueue: regionTaskQueue(region),
          ...workflows,
          dataConverter,
          activities: createRegionActivities(regionDeps),
          ...(options.identity ? { identity: `${options.identity}/${region}` } : {}),
        }),
      );
    }
  }
  return workers;
}

/** Runs workers until they stop; if one fails, the others are shut down and the error is rethrown. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  const runs = workers.map((worker) => worker.run());
  try {
    await Promise.all(runs);
  } catch (err) {
    for (const worker of workers) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    }
    await Promise.allSettled(runs);
    throw err;
  }
}

/** Connects to Temporal, retrying while the server is still starting. */
export async function connectWithRetry(
  address: string,
  options: { attempts?: number; log?: (message: string) => void } = {},
): Promise<NativeConnection> {
  const attempts = options.attempts ?? 30;
  for (let attempt = 1; ; attempt++) {
    try {
      return await NativeConnection.connect({ address });
    } catch (err) {
      if (attempt >= attempts) {
        throw new Error(`cannot reach Temporal at ${address} after ${attempts} attempts: ${(err as Error).message}`);
      }
      options.log?.(`waiting for Temporal at ${address} (${(err as Error).message})`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * attempt)));
    }
  }
}
