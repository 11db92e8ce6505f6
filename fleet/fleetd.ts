// fleetd: the local demo fleet. One process that runs, per service and region, a weighted router in front of real
// instance processes, and exposes a control API that the `local` fleet target driver calls.
//
// Desired state (which versions run where, at what weight, on which ports) is written to disk after every change,
// so a restarted fleetd adopts the instances that are still running and restarts the ones that are not. Every
// mutating operation is idempotent by desired state and serialized per region, so a retried or duplicated request
// never starts a second deployment. Every change is appended to events.log: the fleet's own record of what happened.
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { Version } from '../domain/names';
import type { ArtifactStore } from '../providers/artifacts/artifact-store';
import { unpackArtifact } from '../providers/artifacts/pack';
import type { RegionState } from '../providers/fleet/fleet-target';
import { isAlive, probe, startInstance, stopProcess, type InstanceProcess } from './instances';
import { LoadGenerator } from './load';
import { RegionRouter } from './router';

export interface FleetDaemonOptions {
  /** Holds state.json, events.log, unpacked releases and instance logs. */
  dataDir: string;
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
  healthTimeoutMs?: number;
  log?: (message: string) => void;
}

interface VersionRecord {
  digest: string;
  instances: { port: number; pid: number }[];
}

interface RegionRecord {
  service: string;
  region: string;
  routerPort: number;
  stableVersion: string | undefined;
  weights: Record<string, number>;
  versions: Record<string, VersionRecord>;
}

interface StateFile {
  regions: RegionRecord[];
}

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

export class FleetDaemon {
  private readonly host: string;
  private readonly records = new Map<string, RegionRecord>();
  private readonly routers = new Map<string, RegionRouter>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly load = new LoadGenerator();
  private server: Server | undefined;
  private healer: NodeJS.Timeout | undefined;
  private healing = false;
  private eventsWrite: Promise<void> = Promise.resolve();
  private stateWrite: Promise<void> = Promise.resolve();
  private controlUrl = '';

  constructor(private readonly options: FleetDaemonOptions) {
    this.host = options.host ?? '127.0.0.1';
  }

  private get statePath() {
    return join(this.options.dataDir, 'state.json');
  }

  get eventsPath() {
    return join(this.options.dataDir, 'events.log');
  }

  private log(message: string) {
    (this.options.log ?? ((m: string) => process.stdout.write(`${m}\n`)))(message);
  }

  /** Loads state, adopts or restarts instances, installs initial versions, starts routers and the control API. */
  async start(): Promise<{ controlUrl: string; routers: { service: string; region: string; url: string }[] }> {
    await mkdir(this.options.dataDir, { recursive: true });
    const saved = await this.readState();
    let nextPort = this.options.routerBasePort ?? 0;
    for (const { service, region } of this.options.regions) {
      const k = key(service, region);
      const record: RegionRecord = saved.get(k) ?? {
        service,
        region,
        routerPort: nextPort,
        stableVersion: undefined,
        weights: {},
        versions: {},
      };
      if (nextPort !== 0) nextPort += 1;
      const router = new RegionRouter(service, region);
      record.routerPort = await router.listen(record.routerPort, this.host);
      this.records.set(k, record);
      this.routers.set(k, router);
    }
    for (const record of this.records.values()) {
      await this.withRegionLock(record, async () => {
        await this.reconcile(record);
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
    if ((this.options.loadRps ?? 0) > 0)
      this.load.start(
        routers.map((r) => r.url),
        this.options.loadRps ?? 0,
      );
    this.healer = setInterval(() => void this.heal(), 2000);
    this.healer.unref();
    return { controlUrl: this.controlUrl, routers };
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
    const record = this.record(service, region);
    return this.withRegionLock(record, async () => {
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
      const instances = await this.startVersion(record, version, digest);
      record.versions[version] = { digest, instances };
      record.weights[version] ??= 0;
      await this.writeState();
      this.applyRoutes(record);
      await this.event({
        event: 'deploy',
        service,
        region,
        version,
        requestId,
        detail: `${instances.length} instances`,
      });
      return { previousVersion, alreadyRunning: false };
    });
  }

  async setTraffic(service: string, region: string, version: string, percent: number, requestId: string) {
    const record = this.record(service, region);
    return this.withRegionLock(record, async () => {
      if (!record.versions[version]) throw new HttpError(409, `${service}@${version} is not deployed in ${region}`);
      const stable = record.stableVersion;
      if (stable === version || stable === undefined)
        throw new HttpError(409, `${version} is already the stable version`);
      if (record.weights[version] === percent) {
        await this.event({ event: 'traffic-noop', service, region, version, percent, requestId });
        return;
      }
      record.weights = { [stable]: 100 - percent, [version]: percent };
      await this.writeState();
      this.applyRoutes(record);
      await this.event({ event: 'traffic', service, region, version, percent, requestId });
    });
  }

  async promote(service: string, region: string, version: string, requestId: string) {
    const record = this.record(service, region);
    return this.withRegionLock(record, async () => {
      if (!record.versions[version]) throw new HttpError(409, `${service}@${version} is not deployed in ${region}`);
      const previousVersion = record.stableVersion === version ? undefined : record.stableVersion;
      const others = Object.keys(record.versions).filter((v) => v !== version);
      if (record.stableVersion === version && others.length === 0) {
        await this.event({ event: 'promote-noop', service, region, version, requestId });
        return { previousVersion: undefined };
      }
      await this.switchTo(record, version);
      await this.event({ event: 'promote', service, region, version, from: previousVersion, requestId });
      return { previousVersion };
    });
  }

  async revert(service: string, region: string, version: string, requestId: string) {
    const record = this.record(service, region);
    return this.withRegionLock(record, async () => {
      const others = Object.keys(record.versions).filter((v) => v !== version);
      if (record.stableVersion === version && others.length === 0) {
        await this.event({ event: 'revert-noop', service, region, version, requestId });
        return;
      }
      const from = Object.keys(record.weights).find((v) => v !== version && (record.weights[v] ?? 0) > 0);
      if (!record.versions[version]) {
        const artifact = await this.options.artifacts.resolve(service, version);
        if (!artifact) throw new HttpError(404, `no artifact ${service}@${version} to revert to`);
        record.versions[version] = {
          digest: artifact.digest,
          instances: await this.startVersion(record, version, artifact.digest),
        };
      }
      await this.switchTo(record, version);
      await this.event({ event: 'revert', service, region, version, from, requestId });
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
        v.instances.map((i) => ({ version, port: i.port, healthy: isAlive(i.pid) })),
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

  /** Routes 100% to `version`, makes it stable, and drains and stops every other version. */
  private async switchTo(record: RegionRecord, version: string) {
    const router = this.routers.get(key(record.service, record.region));
    const retiring = Object.entries(record.versions).filter(([v]) => v !== version);
    record.stableVersion = version;
    record.weights = { [version]: 100 };
    this.applyRoutes(record);
    for (const [v, vr] of retiring) {
      for (const instance of vr.instances) {
        await router?.drain(instance.port);
        await stopProcess(instance.pid);
      }
      delete record.versions[v];
    }
    await this.writeState();
  }

  private async releaseDir(
    service: string,
    version: string,
    digest: string,
  ): Promise<{ dir: string; entrypoint: string }> {
    const dir = join(this.options.dataDir, 'releases', service, `${version}-${digest.slice(7, 19)}`);
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

  private async startVersion(record: RegionRecord, version: string, digest: string, count?: number) {
    const { dir, entrypoint } = await this.releaseDir(record.service, version, digest);
    const n = count ?? this.options.instancesPerRegion ?? 2;
    const started: InstanceProcess[] = [];
    try {
      for (let i = 0; i < n; i++) {
        started.push(
          await startInstance({
            releaseDir: dir,
            entrypoint,
            version,
            service: record.service,
            region: record.region,
            logDir: join(this.options.dataDir, 'logs'),
            nodePath: process.execPath,
            healthTimeoutMs: this.options.healthTimeoutMs ?? 15_000,
          }),
        );
      }
    } catch (err) {
      await Promise.all(started.map((instance) => stopProcess(instance.pid)));
      throw new HttpError(502, (err as Error).message);
    }
    return started.map(({ port, pid }) => ({ port, pid }));
  }

  /** First start of a region: run the service's initial version as stable. */
  private async install(record: RegionRecord) {
    const version = this.options.initialVersions[record.service];
    if (!version) return;
    const artifact = await this.options.artifacts.resolve(record.service, version);
    if (!artifact) throw new Error(`initial version ${record.service}@${version} is not in the artifact store`);
    record.versions[version] = {
      digest: artifact.digest,
      instances: await this.startVersion(record, version, artifact.digest),
    };
    record.stableVersion = version;
    record.weights = { [version]: 100 };
    await this.event({ event: 'install', service: record.service, region: record.region, version });
  }

  /** Adopts recorded instances that still answer as the right version; replaces those that do not. */
  private async reconcile(record: RegionRecord) {
    for (const [version, vr] of Object.entries(record.versions)) {
      const kept: VersionRecord['instances'] = [];
      for (const instance of vr.instances) {
        if (isAlive(instance.pid) && (await probe(instance.port)) === version) kept.push(instance);
      }
      const missing = (this.options.instancesPerRegion ?? 2) - kept.length;
      if (missing > 0) {
        kept.push(...(await this.startVersion(record, version, vr.digest, missing)));
        await this.event({
          event: 'instances-restarted',
          service: record.service,
          region: record.region,
          version,
          detail: `${missing} replaced`,
        });
      }
      vr.instances = kept;
    }
  }

  /** Periodic self-healing: replace instances whose process died. */
  private async heal() {
    if (this.healing) return;
    this.healing = true;
    try {
      for (const record of this.records.values()) {
        const dead = Object.values(record.versions).some((vr) => vr.instances.some((i) => !isAlive(i.pid)));
        if (!dead) continue;
        await this.withRegionLock(record, async () => {
          await this.reconcile(record);
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
    router?.route(
      Object.entries(record.versions).flatMap(([version, vr]) => vr.instances.map((i) => ({ version, port: i.port }))),
      record.weights,
    );
  }

  private async readState(): Promise<Map<string, RegionRecord>> {
    const map = new Map<string, RegionRecord>();
    try {
      const state = JSON.parse(await readFile(this.statePath, 'utf8')) as StateFile;
      for (const r of state.regions) map.set(key(r.service, r.region), r);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return map;
  }

  private writeState(): Promise<void> {
    const snapshot: StateFile = { regions: [...this.records.values()] };
    const text = `${JSON.stringify(snapshot, null, 2)}\n`;
    this.stateWrite = this.stateWrite.then(async () => {
      const tmp = `${this.statePath}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, this.statePath);
    });
    return this.stateWrite;
  }

  private event(e: Omit<FleetEvent, 'at'>): Promise<void> {
    const line = `${JSON.stringify({ at: new Date().toISOString(), ...e })}\n`;
    this.log(
      `fleetd: ${e.event} ${e.service}${e.version ? `@${e.version}` : ''} in ${e.region}${e.percent !== undefined ? ` at ${e.percent}%` : ''}`,
    );
    this.eventsWrite = this.eventsWrite.then(() => appendFile(this.eventsPath, line));
    return this.eventsWrite;
  }

  private async listenControl(): Promise<Server> {
    const app = express();
    app.use(express.json({ limit: '64kb' }));
    const Target = z.strictObject({ requestId: z.string().min(1).max(200), version: Version });
    const region = (req: Request) => ({ service: String(req.params.service), region: String(req.params.region) });

    app.get('/healthz', (_req, res) => {
      res.json({ ok: true });
    });
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
