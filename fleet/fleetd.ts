// fleetd: the local demo fleet. One process that runs, per service and region, a weighted router in front of real
// instance processes, and exposes a control API that the `local` fleet target driver calls.
//
// Desired state (which versions run where, at what weight, on which ports) is written to disk before it is acted on:
// an instance's pid is recorded as soon as it is spawned, before fleetd waits for its health check, and a switch of
// the traffic is recorded before the old instances are stopped. So a fleetd killed at any point, once restarted,
// knows every process it started: it adopts instances that still answer, stops what was being stopped or what an
// unfinished deploy had started (the caller's retry starts it again), finishes an interrupted promote or revert, and
// replaces instances that are gone. Every mutating operation is idempotent by desired state and serialized per region,
// so a retried or duplicated request never starts a second deployment. Every change is appended to events.log: the
// fleet's own record of what happened.
//
// A canary deploy also starts a baseline: fresh instances of the stable version, kept under the label
// baselineLabel(stable) in the same versions map (so the crash handling above covers them), and routed the canary's
// share by setTraffic, so canary analysis compares two versions of the same age under the same load. The canary and
// its baseline start as one deploy: until both are healthy both are marked as started by it, so a restart abandons
// both and the retry starts both. A baseline outlives neither its canary nor its stable version: promote and revert
// retire it with the other versions, and a restart retires one that is left without them.
//
// Every control call but /healthz needs the bearer token fleetd writes at its first start (see control-token.ts): a
// fleet changed by anyone who can reach the port is a fleet the version ledger no longer describes. The region
// routers are the service's own traffic and stay open.
import { randomUUID } from 'node:crypto';
import { appendFile, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { Version } from '../domain/names';
import type { ArtifactStore } from '../providers/artifacts/artifact-store';
import { unpackArtifact } from '../providers/artifacts/pack';
import { bearerToken, ensureControlToken, tokenMatches } from '../providers/fleet/control-token';
import { baselineLabel, baselineVersion, type RegionState } from '../providers/fleet/fleet-target';
import {
  isAlive,
  probe,
  processesUnder,
  runsFrom,
  spawnInstance,
  stopProcess,
  waitUntilHealthy,
  type SpawnedInstance,
} from './instances';
import { LoadGenerator } from './load';
import { RegionRouter } from './router';

export interface FleetDaemonOptions {
  /** Holds state.json, events.log, unpacked releases and instance logs. */
  dataDir: string;
  /** The control API's bearer token file, written (0600) at the first start; default `<dataDir>/control-token`. */
  controlTokenFile?: string;
  artifacts: ArtifactStore;
  /** The (service, region) pairs this fleet serves. */
  regions: { service: string; region: string }[];
  /** Version each service runs where nothing has been deployed yet. */
  initialVersions: Record<string, string>;
  host?: string;
  controlPort?: number;
  /** Router port of the first region (then +1 per region); 0 picks free ports. */
  routerBasePort?: number;
  instancesPerRegion?: number;
  /** Synthetic requests per second sent to each region's router (0 disables). */
  loadRps?: number;
  /**
   * Send the synthetic load to a region only while it runs a canary (more than one version) or within this many
   * seconds of its last change (deploy, traffic, promote, revert), when a smoke test or a watch window may want it.
   * Unset: always (the demo stack, whose dashboards show traffic). The test engines set it: idle load was a quarter of
   * a core per engine, the most CPU a test run spent on anything.
   */
  loadIdleSeconds?: number;
  healthTimeoutMs?: number;
  log?: (message: string) => void;
}

// state.json. Fields added since the first format have defaults, so an older file still loads.
const InstanceRecord = z.object({
  port: z.number().int(),
  pid: z.number().int(),
  /** starting: spawned, not healthy yet; ready: routed to; stopping: being drained and stopped. */
  status: z.enum(['starting', 'ready', 'stopping']).default('ready'),
});
type InstanceRecord = z.infer<typeof InstanceRecord>;

const VersionRecord = z.object({
  digest: z.string(),
  /** The operation starting this version, until all its instances are healthy. A restart abandons such a version. */
  startedBy: z
    .object({ event: z.enum(['deploy', 'baseline', 'install', 'revert']), requestId: z.string().optional() })
    .optional(),
  /** Switched away from: no longer routed to, its instances are being stopped. A restart finishes stopping them. */
  retiring: z.boolean().default(false),
  /** Set on a baseline: the (stable) version its instances run; its key in `versions` is baselineLabel of that. */
  baselineOf: z.string().optional(),
  instances: z.array(InstanceRecord),
});
type VersionRecord = z.infer<typeof VersionRecord>;

const SwitchRecord = z.object({
  event: z.enum(['promote', 'revert']),
  version: z.string(),
  from: z.string().optional(),
  requestId: z.string(),
});
type SwitchRecord = z.infer<typeof SwitchRecord>;

const RegionRecord = z.object({
  service: z.string(),
  region: z.string(),
  routerPort: z.number().int(),
  stableVersion: z.string().optional(),
  weights: z.record(z.string(), z.number()),
  versions: z.record(z.string(), VersionRecord),
  /** A promote or revert whose switch is recorded; it is logged once the versions it retires are stopped. */
  switching: SwitchRecord.optional(),
});
type RegionRecord = z.infer<typeof RegionRecord>;

const StateFile = z.object({ regions: z.array(RegionRecord) });
type StateFile = z.infer<typeof StateFile>;

export interface FleetEvent {
  at: string;
  event: string;
  service: string;
  region: string;
  version?: string;
  from?: string;
  percent?: number;
  requestId?: string;
  detail?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const key = (service: string, region: string) => `${service}/${region}`;

/** The version a record's instances run: its key, or for a baseline the version it is the baseline of. */
const runs = (label: string, vr: VersionRecord) => vr.baselineOf ?? label;

/** A release version spelled like a baseline label would share its weights and counters with a baseline. */
function refuseBaselineLabel(version: string) {
  if (baselineVersion(version) !== undefined) {
    throw new HttpError(
      400,
      `${version} is spelled like the label fleetd gives baseline instances (<version>+baseline); release it under another version`,
    );
  }
}

export class FleetDaemon {
  private readonly host: string;
  private readonly records = new Map<string, RegionRecord>();
  private readonly routers = new Map<string, RegionRouter>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly load = new LoadGenerator();
  /** When each region last changed (see loadIdleSeconds). */
  private readonly lastChange = new Map<string, number>();
  private server: Server | undefined;
  private healer: NodeJS.Timeout | undefined;
  private healing = false;
  private eventsWrite: Promise<void> = Promise.resolve();
  private stateWrite: Promise<void> = Promise.resolve();
  private controlUrl = '';
  private controlToken = '';

  constructor(private readonly options: FleetDaemonOptions) {
    this.host = options.host ?? '127.0.0.1';
  }

  private get statePath() {
    return join(this.options.dataDir, 'state.json');
  }

  get eventsPath() {
    return join(this.options.dataDir, 'events.log');
  }

  /** Where the control API's bearer token is (the path may be logged; the token never is). */
  get controlTokenFile() {
    return this.options.controlTokenFile ?? join(this.options.dataDir, 'control-token');
  }

  private log(message: string) {
    (this.options.log ?? ((m: string) => process.stdout.write(`${m}\n`)))(message);
  }

  /** Loads state, adopts or restarts instances, installs initial versions, starts routers and the control API. */
  async start(): Promise<{
    controlUrl: string;
    controlTokenFile: string;
    routers: { service: string; region: string; url: string }[];
  }> {
    await mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    await chmod(this.options.dataDir, 0o700);
    const token = await ensureControlToken(this.controlTokenFile);
    this.controlToken = token.token;
    if (token.created) this.log(`fleetd: wrote a new control token to ${this.controlTokenFile}`);
    const saved = await this.readState();
    let nextPort = this.options.routerBasePort ?? 0;
    for (const { service, region } of this.options.regions) {
      const k = key(service, region);
      const record: RegionRecord = saved.get(k) ?? { service, region, routerPort: nextPort, weights: {}, versions: {} };
      if (nextPort !== 0) nextPort += 1;
      const router = new RegionRouter(service, region);
      record.routerPort = await router.listen(record.routerPort, this.host);
      this.records.set(k, record);
      this.routers.set(k, router);
    }
    await this.stopStrays();
    for (const record of this.records.values()) {
      await this.withRegionLock(record, async () => {
        await this.reconcile(record, { probe: true });
        if (!record.stableVersion) await this.install(record);
        this.applyRoutes(record);
      });
    }
    await this.writeState();
    this.server = await this.listenControl();
    const address = this.server.address() as AddressInfo;
    this.controlUrl = `http://${this.host}:${address.port}`;
    const routers = [...this.records.values()].map((r) => ({
      service: r.service,
      region: r.region,
      url: `http://${this.host}:${r.routerPort}`,
    }));
    if ((this.options.loadRps ?? 0) > 0) {
      const idleMs = this.options.loadIdleSeconds === undefined ? undefined : this.options.loadIdleSeconds * 1000;
      this.load.start(
        routers.map((r) => ({
          url: r.url,
          ...(idleMs === undefined ? {} : { active: () => this.busy(r.service, r.region, idleMs) }),
        })),
        this.options.loadRps ?? 0,
      );
    }
    this.healer = setInterval(() => void this.heal(), 2000);
    this.healer.unref();
    return { controlUrl: this.controlUrl, controlTokenFile: this.controlTokenFile, routers };
  }

  /** Stops the API, the load and the routers; stops instances too unless `keepInstances` (for tests of adoption). */
  async stop(options: { keepInstances?: boolean } = {}): Promise<void> {
    if (this.healer) clearInterval(this.healer);
    this.load.stop();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.all([...this.routers.values()].map((router) => router.close()));
    if (!options.keepInstances) {
      const pids = [...this.records.values()].flatMap((r) =>
        Object.values(r.versions).flatMap((v) => v.instances.map((i) => i.pid)),
      );
      await Promise.all(pids.map((pid) => stopProcess(pid)));
    }
    await this.stateWrite;
    await this.eventsWrite;
  }

  // ---- operations (each runs under its region's lock) ----

  async deploy(service: string, region: string, version: string, digest: string, requestId: string) {
    refuseBaselineLabel(version);
    const record = this.record(service, region);
    return this.change(record, async () => {
      const previousVersion = record.stableVersion;
      const existing = record.versions[version];
      if (existing && existing.instances.length > 0) {
        if (existing.digest !== digest) {
          throw new HttpError(
            409,
            `${service}@${version} already runs in ${region} with digest ${existing.digest}, not ${digest}`,
          );
        }
        await this.event({ event: 'deploy-noop', service, region, version, requestId, detail: 'already running' });
        return { previousVersion, alreadyRunning: true };
      }
      const baseline = this.baselineFor(record, version);
      const started = await this.startVersion(
        record,
        version,
        digest,
        { event: 'deploy', requestId },
        { pending: true },
      );
      let startedBaseline: VersionRecord | undefined;
      if (baseline) {
        try {
          startedBaseline = await this.startVersion(
            record,
            baseline.label,
            baseline.digest,
            { event: 'baseline', requestId },
            { pending: true, baselineOf: baseline.version },
          );
        } catch (err) {
          // A canary without its baseline would be judged against the warm stable instances: no deploy at all.
          await this.discardVersion(record, version);
          throw new HttpError(
            502,
            `${service}@${version} was not deployed in ${region}: its baseline (fresh instances of ${baseline.version}) did not start, so its instances were stopped too (a retry starts both): ${(err as Error).message}`,
          );
        }
      }
      started.startedBy = undefined;
      record.weights[version] ??= 0;
      if (baseline && startedBaseline) {
        startedBaseline.startedBy = undefined;
        record.weights[baseline.label] ??= 0;
      }
      await this.writeState();
      this.applyRoutes(record);
      await this.event({
        event: 'deploy',
        service,
        region,
        version,
        requestId,
        detail: `${started.instances.length} instances`,
      });
      if (baseline && startedBaseline) {
        await this.event({
          event: 'baseline-start',
          service,
          region,
          version: baseline.label,
          requestId,
          detail: `${startedBaseline.instances.length} fresh instances of ${baseline.version} beside ${version}`,
        });
      }
      return { previousVersion, alreadyRunning: false };
    });
  }

  async setTraffic(service: string, region: string, version: string, percent: number, requestId: string) {
    refuseBaselineLabel(version);
    const record = this.record(service, region);
    return this.change(record, async () => {
      if (!record.versions[version]) throw new HttpError(409, `${service}@${version} is not deployed in ${region}`);
      const stable = record.stableVersion;
      if (stable === version || stable === undefined)
        throw new HttpError(409, `${version} is already the stable version`);
      if (record.weights[version] === percent) {
        await this.event({ event: 'traffic-noop', service, region, version, percent, requestId });
        return;
      }
      const label = baselineLabel(stable);
      const baseline = record.versions[label];
      // The baseline gets the canary's share while the stable version has that much to give; above 50% the stable
      // version's own instances get nothing and the baseline the rest.
      const share = baseline && !baseline.retiring ? Math.min(percent, 100 - percent) : undefined;
      record.weights =
        share === undefined
          ? { [stable]: 100 - percent, [version]: percent }
          : { [stable]: 100 - percent - share, [version]: percent, [label]: share };
      await this.writeState();
      this.applyRoutes(record);
      await this.event({
        event: 'traffic',
        service,
        region,
        version,
        percent,
        requestId,
        ...(share === undefined ? {} : { detail: `${label} at ${share}%` }),
      });
    });
  }

  async promote(service: string, region: string, version: string, requestId: string) {
    refuseBaselineLabel(version);
    const record = this.record(service, region);
    return this.change(record, async () => {
      if (!record.versions[version]) throw new HttpError(409, `${service}@${version} is not deployed in ${region}`);
      const previousVersion = record.stableVersion === version ? undefined : record.stableVersion;
      const others = Object.keys(record.versions).filter((v) => v !== version);
      if (record.stableVersion === version && others.length === 0) {
        await this.event({ event: 'promote-noop', service, region, version, requestId });
        return { previousVersion: undefined };
      }
      await this.switchTo(record, { event: 'promote', version, from: previousVersion, requestId });
      return { previousVersion };
    });
  }

  async revert(service: string, region: string, version: string, requestId: string) {
    refuseBaselineLabel(version);
    const record = this.record(service, region);
    return this.change(record, async () => {
      const others = Object.keys(record.versions).filter((v) => v !== version);
      if (record.stableVersion === version && others.length === 0) {
        await this.event({ event: 'revert-noop', service, region, version, requestId });
        return;
      }
      const from = Object.keys(record.weights).find(
        (v) => v !== version && baselineVersion(v) === undefined && (record.weights[v] ?? 0) > 0,
      );
      if (!record.versions[version]) {
        const artifact = await this.options.artifacts.resolve(service, version);
        if (!artifact) throw new HttpError(404, `no artifact ${service}@${version} to revert to`);
        await this.startVersion(record, version, artifact.digest, { event: 'revert', requestId });
      }
      await this.switchTo(record, { event: 'revert', version, from, requestId });
    });
  }

  state(service: string, region: string): RegionState {
    const record = this.record(service, region);
    return {
      service,
      region,
      stableVersion: record.stableVersion,
      weights: { ...record.weights },
      instances: Object.entries(record.versions).flatMap(([version, v]) =>
        v.instances.map((i) => ({ version, port: i.port, healthy: i.status === 'ready' && isAlive(i.pid) })),
      ),
      url: `http://${this.host}:${record.routerPort}`,
    };
  }

  metrics(service: string, region: string) {
    this.record(service, region);
    const router = this.routers.get(key(service, region));
    if (!router) throw new HttpError(404, `no router for ${service} in ${region}`);
    return router.metrics();
  }

  async events(filter: { service?: string; region?: string }): Promise<FleetEvent[]> {
    await this.eventsWrite;
    const text = await readFile(this.eventsPath, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as FleetEvent)
      .filter(
        (e) => (!filter.service || e.service === filter.service) && (!filter.region || e.region === filter.region),
      );
  }

  // ---- internals ----

  private record(service: string, region: string): RegionRecord {
    const record = this.records.get(key(service, region));
    if (!record) throw new HttpError(404, `this fleet does not run ${service} in ${region}`);
    return record;
  }

  /** Whether a region runs a canary now, or changed within the last `idleMs`. */
  private busy(service: string, region: string, idleMs: number): boolean {
    const record = this.records.get(key(service, region));
    if (record && Object.keys(record.versions).length > 1) return true;
    return Date.now() - (this.lastChange.get(key(service, region)) ?? 0) < idleMs;
  }

  /** Notes a change of the region (its load, with loadIdleSeconds, goes on for that long after it). */
  private changed(record: RegionRecord): void {
    this.lastChange.set(key(record.service, record.region), Date.now());
  }

  /**
   * Runs an operation that changes the region (deploy, traffic, promote, revert) under its lock; the region's load
   * (with loadIdleSeconds) goes on from when it is asked for until that long after it ends.
   */
  private async change<T>(record: RegionRecord, fn: () => Promise<T>): Promise<T> {
    this.changed(record);
    try {
      return await this.withRegionLock(record, fn);
    } finally {
      this.changed(record);
    }
  }

  private async withRegionLock<T>(record: RegionRecord, fn: () => Promise<T>): Promise<T> {
    const k = key(record.service, record.region);
    const previous = this.locks.get(k) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    this.locks.set(
      k,
      run.catch(() => undefined),
    );
    return run;
  }

  /**
   * Routes 100% to the switch's version, makes it stable, and drains and stops every other version; logs the switch.
   * The switch is written down before anything is stopped, so a restarted fleetd finishes it (see reconcile).
   */
  private async switchTo(record: RegionRecord, change: SwitchRecord) {
    const router = this.routers.get(key(record.service, record.region));
    const retiring = Object.entries(record.versions).filter(([v]) => v !== change.version);
    for (const [, vr] of retiring) {
      vr.retiring = true;
      for (const instance of vr.instances) instance.status = 'stopping';
    }
    record.stableVersion = change.version;
    record.weights = { [change.version]: 100 };
    record.switching = change;
    await this.writeState();
    this.applyRoutes(record);
    // No traffic reaches them any more: they drain and stop side by side (the old version's and the baseline's),
    // not one after another.
    await Promise.all(
      retiring.flatMap(([v, vr]) =>
        vr.instances.map(async (instance) => {
          await router?.drain(instance.port);
          await this.stopInstance(record.service, v, vr, instance);
        }),
      ),
    );
    for (const [v, vr] of retiring) {
      delete record.versions[v];
      if (vr.baselineOf !== undefined) await this.baselineStopped(record, v, `${change.event} to ${change.version}`);
    }
    await this.finishSwitch(record);
  }

  private async finishSwitch(record: RegionRecord) {
    const change = record.switching;
    record.switching = undefined;
    await this.writeState();
    if (change) await this.event({ ...change, service: record.service, region: record.region });
  }

  private async baselineStopped(record: RegionRecord, label: string, why: string) {
    const { service, region } = record;
    const requestId = record.switching?.requestId;
    await this.event({ event: 'baseline-stop', service, region, version: label, requestId, detail: why });
  }

  /** Stops an instance process, unless its pid now belongs to a process that is not this release's. */
  private async stopInstance(service: string, label: string, vr: VersionRecord, instance: InstanceRecord) {
    const release = this.releasePath(service, runs(label, vr), vr.digest);
    if (await runsFrom(instance.pid, release)) await stopProcess(instance.pid);
  }

  /**
   * The baseline a deploy of `version` starts: the stable version's, unless there is no stable version to compare
   * with, `version` is it, or a baseline of it already runs (beside another canary; they share it).
   */
  private baselineFor(
    record: RegionRecord,
    version: string,
  ): { label: string; version: string; digest: string } | undefined {
    const stable = record.stableVersion;
    const stableRecord = stable === undefined ? undefined : record.versions[stable];
    if (stable === undefined || stable === version || !stableRecord) return undefined;
    const label = baselineLabel(stable);
    if (record.versions[label]) return undefined;
    return { label, version: stable, digest: stableRecord.digest };
  }

  /** Stops a version's instances and forgets it, writing down each step (a deploy undoing what it started). */
  private async discardVersion(record: RegionRecord, label: string) {
    const vr = record.versions[label];
    if (!vr) return;
    for (const instance of vr.instances) instance.status = 'stopping';
    await this.writeState();
    await Promise.all(vr.instances.map((instance) => this.stopInstance(record.service, label, vr, instance)));
    delete record.versions[label];
    delete record.weights[label];
    await this.writeState();
  }

  private releasePath(service: string, version: string, digest: string): string {
    return join(this.options.dataDir, 'releases', service, `${version}-${digest.slice(7, 19)}`);
  }

  private async releaseDir(
    service: string,
    version: string,
    digest: string,
  ): Promise<{ dir: string; entrypoint: string }> {
    const dir = this.releasePath(service, version, digest);
    try {
      const manifest = JSON.parse(await readFile(join(dir, 'artifact.json'), 'utf8')) as { entrypoint: string };
      return { dir, entrypoint: manifest.entrypoint };
    } catch {
      // not unpacked yet
    }
    let bytes: Buffer;
    try {
      bytes = await this.options.artifacts.read(digest);
    } catch (err) {
      throw new HttpError(422, `cannot read artifact ${digest} for ${service}@${version}: ${(err as Error).message}`);
    }
    const staging = `${dir}.${randomUUID()}.tmp`;
    const manifest = await unpackArtifact(bytes, staging);
    if (manifest.service !== service || manifest.version !== version) {
      throw new HttpError(
        422,
        `artifact ${digest} contains ${manifest.service}@${manifest.version}, not ${service}@${version}`,
      );
    }
    try {
      await rename(staging, dir);
    } catch (err) {
      // Another request unpacked the same release first; theirs is identical (same digest).
      await rm(staging, { recursive: true, force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    return { dir, entrypoint: manifest.entrypoint };
  }

  private get instanceCount(): number {
    return this.options.instancesPerRegion ?? 2;
  }

  /**
   * Starts a version's instances as the operation `startedBy`; on failure nothing of it is left. The caller commits
   * (the version is recorded as started by that operation until the caller next writes the state). With `pending`,
   * the version stays marked as started by the operation until the caller clears it: a deploy starting a canary and
   * its baseline commits both at once. With `baselineOf`, `label` is a baseline label and its instances run that.
   */
  private async startVersion(
    record: RegionRecord,
    label: string,
    digest: string,
    startedBy: NonNullable<VersionRecord['startedBy']>,
    options: { pending?: boolean; baselineOf?: string } = {},
  ): Promise<VersionRecord> {
    const vr: VersionRecord = {
      digest,
      startedBy,
      retiring: false,
      ...(options.baselineOf === undefined ? {} : { baselineOf: options.baselineOf }),
      instances: [],
    };
    record.versions[label] = vr;
    try {
      await this.startInstances(record, label, vr, this.instanceCount);
    } catch (err) {
      delete record.versions[label];
      await this.writeState();
      throw err;
    }
    if (!options.pending) vr.startedBy = undefined;
    return vr;
  }

  /**
   * Adds `count` instances to a version and waits until they are all healthy. Each pid is written to the state file
   * as soon as the process exists, before anything waits on it. If any instance fails, all of them are stopped.
   */
  private async startInstances(record: RegionRecord, label: string, vr: VersionRecord, count: number) {
    const version = runs(label, vr);
    const { dir, entrypoint } = await this.releaseDir(record.service, version, vr.digest);
    const healthTimeoutMs = this.options.healthTimeoutMs ?? 15_000;
    const started: { instance: InstanceRecord; process: SpawnedInstance }[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const spawned = await spawnInstance({
          releaseDir: dir,
          entrypoint,
          service: record.service,
          region: record.region,
          logDir: join(this.options.dataDir, 'logs'),
          nodePath: process.execPath,
        });
        const instance: InstanceRecord = { port: spawned.port, pid: spawned.pid, status: 'starting' };
        vr.instances.push(instance);
        started.push({ instance, process: spawned });
        await this.writeState();
      }
      const healthy = await Promise.all(started.map((s) => waitUntilHealthy(s.process, version, healthTimeoutMs)));
      if (!healthy.every(Boolean)) {
        throw new Error(
          `${record.service}@${version} in ${record.region} did not become healthy within ${healthTimeoutMs}ms`,
        );
      }
    } catch (err) {
      for (const s of started) s.instance.status = 'stopping';
      await this.writeState();
      await Promise.all(started.map((s) => stopProcess(s.process.pid)));
      vr.instances = vr.instances.filter((i) => !started.some((s) => s.instance === i));
      await this.writeState();
      throw err instanceof HttpError ? err : new HttpError(502, (err as Error).message);
    }
    for (const s of started) s.instance.status = 'ready';
  }

  /** First start of a region: run the service's initial version as stable. */
  private async install(record: RegionRecord) {
    const version = this.options.initialVersions[record.service];
    if (!version) return;
    const artifact = await this.options.artifacts.resolve(record.service, version);
    if (!artifact) throw new Error(`initial version ${record.service}@${version} is not in the artifact store`);
    await this.startVersion(record, version, artifact.digest, { event: 'install' });
    record.stableVersion = version;
    record.weights = { [version]: 100 };
    await this.writeState();
    await this.event({ event: 'install', service: record.service, region: record.region, version });
  }

  /**
   * Brings a region back to its recorded desired state. Instances stay if their process runs (and, with `probe`, as
   * after a restart, if they answer as their version); everything else recorded is stopped: instances being stopped,
   * versions being retired, and versions whose deploy or revert never completed (the caller saw that request fail and
   * retries it), and a baseline left without its canary or its stable version. Then an interrupted switch is logged
   * as done and missing instances are replaced.
   */
  private async reconcile(record: RegionRecord, options: { probe: boolean }) {
    const { service, region } = record;
    const abandoned: Omit<FleetEvent, 'at'>[] = [];
    for (const [version, vr] of Object.entries(record.versions)) {
      if (vr.startedBy) {
        const { event, requestId } = vr.startedBy;
        abandoned.push({ event: `${event}-abandoned`, service, region, version, requestId });
        vr.startedBy = undefined;
        vr.retiring = true;
      }
    }
    const baselinesStopped: string[] = [];
    for (const [label, vr] of Object.entries(record.versions)) {
      if (vr.baselineOf === undefined || abandoned.some((e) => e.version === label)) continue;
      // Covers a switch that died between retiring the versions and writing the state, and state written by hand.
      const canary = Object.entries(record.versions).some(
        ([v, other]) => v !== record.stableVersion && other.baselineOf === undefined && !other.retiring,
      );
      if (vr.retiring || vr.baselineOf !== record.stableVersion || !canary) {
        vr.retiring = true;
        baselinesStopped.push(label);
      }
    }
    for (const [label, vr] of Object.entries(record.versions)) {
      await Promise.all(
        vr.instances.map(async (instance) => {
          const keep =
            !vr.retiring &&
            instance.status !== 'stopping' &&
            isAlive(instance.pid) &&
            (!options.probe || (await probe(instance.port)) === runs(label, vr));
          instance.status = keep ? 'ready' : 'stopping';
        }),
      );
    }
    for (const v of Object.keys(record.weights)) {
      const vr = record.versions[v];
      if (vr && !vr.retiring) continue;
      // A retired baseline's share goes back to the version it runs, so the weights still say where traffic goes.
      const share = record.weights[v] ?? 0;
      const of = vr?.baselineOf;
      if (of !== undefined && share > 0 && record.versions[of] && !record.versions[of].retiring) {
        record.weights[of] = (record.weights[of] ?? 0) + share;
      }
      delete record.weights[v];
    }
    // Serve from what is healthy right now, and write down what is about to be stopped before stopping it.
    this.applyRoutes(record);
    await this.writeState();
    await Promise.all(
      Object.entries(record.versions).flatMap(([version, vr]) =>
        vr.instances.filter((i) => i.status === 'stopping').map((i) => this.stopInstance(service, version, vr, i)),
      ),
    );
    for (const [version, vr] of Object.entries(record.versions)) {
      if (vr.retiring) delete record.versions[version];
      else vr.instances = vr.instances.filter((i) => i.status !== 'stopping');
    }
    await this.writeState();
    for (const e of abandoned) {
      await this.event({
        ...e,
        detail: 'fleetd died before its instances were healthy; stopped them (a retry starts them again)',
      });
    }
    for (const label of baselinesStopped) {
      const why = record.switching
        ? `${record.switching.event} to ${record.switching.version}, finished after a restart`
        : 'its canary or its stable version no longer runs';
      await this.baselineStopped(record, label, why);
    }
    if (record.switching) await this.finishSwitch(record);
    for (const [version, vr] of Object.entries(record.versions)) {
      const missing = this.instanceCount - vr.instances.length;
      if (missing <= 0) continue;
      await this.startInstances(record, version, vr, missing);
      this.applyRoutes(record);
      await this.writeState();
      await this.event({ event: 'instances-restarted', service, region, version, detail: `${missing} replaced` });
    }
  }

  /**
   * Stops instance processes that run from this fleet's releases but that the state file does not record: started in
   * the instant between a spawn and its write to disk when fleetd died, or by a fleetd older than that write.
   */
  private async stopStrays() {
    const known = new Set(
      [...this.records.values()].flatMap((r) =>
        Object.values(r.versions).flatMap((v) => v.instances.map((i) => i.pid)),
      ),
    );
    const strays = (await processesUnder(join(this.options.dataDir, 'releases'))).filter((p) => !known.has(p.pid));
    await Promise.all(strays.map((p) => stopProcess(p.pid)));
    for (const p of strays) {
      await this.event({
        event: 'stray-stopped',
        service: p.service ?? 'unknown',
        region: p.region ?? 'unknown',
        detail: `pid ${p.pid} ran from the fleet's releases without being recorded`,
      });
    }
  }

  /** Periodic self-healing: replace instances whose process died. */
  private async heal() {
    if (this.healing) return;
    this.healing = true;
    try {
      for (const record of this.records.values()) {
        const dead = Object.values(record.versions).some((vr) =>
          vr.instances.some((i) => i.status === 'ready' && !isAlive(i.pid)),
        );
        if (!dead) continue;
        await this.withRegionLock(record, async () => {
          await this.reconcile(record, { probe: false });
          this.applyRoutes(record);
          await this.writeState();
        });
      }
    } catch (err) {
      this.log(`fleetd: self-healing failed: ${(err as Error).message}`);
    } finally {
      this.healing = false;
    }
  }

  private applyRoutes(record: RegionRecord) {
    const router = this.routers.get(key(record.service, record.region));
    const routable = Object.entries(record.versions).filter(([, vr]) => !vr.retiring && !vr.startedBy);
    router?.route(
      routable.flatMap(([version, vr]) =>
        vr.instances.filter((i) => i.status === 'ready').map((i) => ({ version, port: i.port })),
      ),
      record.weights,
    );
  }

  private async readState(): Promise<Map<string, RegionRecord>> {
    const map = new Map<string, RegionRecord>();
    let text: string;
    try {
      text = await readFile(this.statePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return map;
      throw err;
    }
    const parsed = StateFile.safeParse(JSON.parse(text));
    if (!parsed.success)
      throw new Error(`${this.statePath} is not a fleet state file:\n${z.prettifyError(parsed.error)}`);
    for (const r of parsed.data.regions) map.set(key(r.service, r.region), r);
    return map;
  }

  private writeState(): Promise<void> {
    const snapshot: StateFile = { regions: [...this.records.values()] };
    const text = `${JSON.stringify(snapshot, null, 2)}\n`;
    this.stateWrite = this.stateWrite.then(async () => {
      const tmp = `${this.statePath}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.statePath);
    });
    return this.stateWrite;
  }

  private event(e: Omit<FleetEvent, 'at'>): Promise<void> {
    const line = `${JSON.stringify({ at: new Date().toISOString(), ...e })}\n`;
    this.log(
      `fleetd: ${e.event} ${e.service}${e.version ? `@${e.version}` : ''} in ${e.region}${e.percent !== undefined ? ` at ${e.percent}%` : ''}`,
    );
    this.eventsWrite = this.eventsWrite.then(() => appendFile(this.eventsPath, line, { mode: 0o600 }));
    return this.eventsWrite;
  }

  private async listenControl(): Promise<Server> {
    const app = express();
    const Target = z.strictObject({ requestId: z.string().min(1).max(200), version: Version });
    const region = (req: Request) => ({ service: String(req.params.service), region: String(req.params.region) });

    app.get('/healthz', (_req, res) => {
      res.json({ ok: true });
    });
    // Everything after this line (state, events, metrics, and every change) needs the control token.
    app.use((req, res, next) => {
      const presented = bearerToken(req.get('authorization'));
      if (tokenMatches(presented, this.controlToken)) {
        next();
        return;
      }
      res
        .status(401)
        .set('www-authenticate', 'Bearer')
        .json({
          error:
            presented === undefined
              ? `send fleetd's control token: Authorization: Bearer <the token in ${this.controlTokenFile}>`
              : `the bearer token is not fleetd's control token (it is in ${this.controlTokenFile}); nothing was changed`,
        });
    });
    app.use(express.json({ limit: '64kb' }));
    app.get('/v1/state', (_req, res) => {
      res.json({ regions: [...this.records.values()].map((r) => this.state(r.service, r.region)) });
    });
    app.get('/v1/events', async (req, res) => {
      res.json({
        events: await this.events({
          service: typeof req.query.service === 'string' ? req.query.service : undefined,
          region: typeof req.query.region === 'string' ? req.query.region : undefined,
        }),
      });
    });
    app.get('/v1/services/:service/regions/:region', (req, res) => {
      const r = region(req);
      res.json(this.state(r.service, r.region));
    });
    app.get('/v1/services/:service/regions/:region/metrics', (req, res) => {
      const r = region(req);
      res.json(this.metrics(r.service, r.region));
    });
    app.post('/v1/services/:service/regions/:region/deploy', async (req, res) => {
      const body = Target.extend({ digest: z.string().regex(/^sha256:[0-9a-f]{64}$/) }).parse(req.body);
      const r = region(req);
      res.json(await this.deploy(r.service, r.region, body.version, body.digest, body.requestId));
    });
    app.post('/v1/services/:service/regions/:region/traffic', async (req, res) => {
      const body = Target.extend({ percent: z.number().int().min(0).max(100) }).parse(req.body);
      const r = region(req);
      await this.setTraffic(r.service, r.region, body.version, body.percent, body.requestId);
      res.json(this.state(r.service, r.region));
    });
    app.post('/v1/services/:service/regions/:region/promote', async (req, res) => {
      const body = Target.parse(req.body);
      const r = region(req);
      res.json(await this.promote(r.service, r.region, body.version, body.requestId));
    });
    app.post('/v1/services/:service/regions/:region/revert', async (req, res) => {
      const body = Target.parse(req.body);
      const r = region(req);
      await this.revert(r.service, r.region, body.version, body.requestId);
      res.json(this.state(r.service, r.region));
    });
    app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      if (err instanceof z.ZodError) {
        res.status(400).json({ error: z.prettifyError(err) });
      } else if (err instanceof HttpError) {
        res.status(err.status).json({ error: err.message });
      } else {
        this.log(`fleetd: ${(err as Error).stack ?? String(err)}`);
        res.status(500).json({ error: (err as Error).message });
      }
    });
    const server = app.listen(this.options.controlPort ?? 0, this.host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return server;
  }
}
