// fleetd killed mid-operation: the real entry point (fleet/main.ts) runs as its own OS process, as under `npm start`,
// and is SIGKILLed while a deploy starts its instances or while a promote drains the old ones, then started again on
// the same data directory. What an operator would check afterwards: the router serves one version without errors,
// every instance process running from the fleet's data directory is one that state.json and the API know about, and
// the retried request (what a retried Temporal activity sends) completes the operation exactly once.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { publishDemoVersion, seedDemoArtifacts } from '../../demo/seed';
import { freePort } from '../../fleet/instances';
import { LocalArtifactStore } from '../../providers/artifacts/local-artifact-store';
import { dataPaths } from '../../providers/data-paths';
import { baselineLabel, baselineVersion, FleetError } from '../../providers/fleet/fleet-target';
import { LocalFleetTarget } from '../../providers/fleet/local-fleet';
import { waitUntil } from '../support/engine';
import { killOnExit, killOnExitUnder } from '../support/process-cleanup';

const ROOT = resolve(__dirname, '..', '..');
const X = { service: 'hello', region: 'x' };
/** The stable version: it keeps running for 3s after SIGTERM, so stopping it (a promote) takes a while. */
const OLD = '0.9.0';
/** Takes 6s to answer its health check, so a kill lands while fleetd is still starting it. */
const SLOW = '1.3.0-slow';

/** Scheduler state of a process from /proc ('R', 'S', 'Z', ...), or undefined when there is no such process. */
async function processState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** Running, not merely a zombie that nothing reaped (`kill -0` succeeds on those too). */
async function running(pid: number): Promise<boolean> {
  const state = await processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Every live process whose command line runs something from the fleet's releases directory (what `ps` shows). */
async function instanceProcesses(root: string): Promise<{ pid: number; args: string }[]> {
  const releases = join(dataPaths(root).fleet, 'releases');
  const found: { pid: number; args: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (args.includes(releases) && (await running(Number(entry)))) found.push({ pid: Number(entry), args });
  }
  return found;
}

interface RecordedInstance {
  version: string;
  pid: number;
  port: number;
}

/** The instances state.json records for region x. */
async function recordedInstances(root: string): Promise<RecordedInstance[]> {
  const state = JSON.parse(await readFile(join(dataPaths(root).fleet, 'state.json'), 'utf8')) as {
    regions: { region: string; versions: Record<string, { instances: { pid: number; port: number }[] }> }[];
  };
  const region = state.regions.find((r) => r.region === X.region);
  return Object.entries(region?.versions ?? {}).flatMap(([version, v]) =>
    v.instances.map((i) => ({ version, pid: i.pid, port: i.port })),
  );
}

async function fleetEvents(root: string): Promise<{ event: string; version?: string; requestId?: string }[]> {
  const text = await readFile(join(dataPaths(root).fleet, 'events.log'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; version?: string; requestId?: string });
}

/** Sends `requests` requests through the router; counts answers per version, failures per status. */
async function versionsServed(url: string, requests: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const res = await fetch(url);
    await res.text();
    const answer = res.ok ? (res.headers.get('x-version') ?? 'no-version') : `status-${res.status}`;
    counts[answer] = (counts[answer] ?? 0) + 1;
  }
  return counts;
}

/** The weights the router itself routes by (its own status endpoint, not fleetd's records). */
async function routerWeights(url: string): Promise<Record<string, number>> {
  const res = await fetch(`${url}/_router/healthz`);
  return ((await res.json()) as { weights: Record<string, number> }).weights;
}

/** What the instance on `port` says about itself, or undefined when nothing healthy answers. */
async function instanceHealth(port: number): Promise<{ version: string; pid: number } | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(
    () => undefined,
  );
  if (!res?.ok) return undefined;
  return (await res.json()) as { version: string; pid: number };
}

/**
 * state.json, fleetd's API and reality agree: each process running from the data directory is recorded, each recorded
 * instance runs and answers on its port as its version and pid, and the API lists exactly those instances, healthy.
 */
async function expectConsistent(root: string, fleet: LocalFleetTarget) {
  const recorded = await recordedInstances(root);
  const processes = await instanceProcesses(root);
  expect(processes.map((p) => p.pid).sort()).toEqual(recorded.map((i) => i.pid).sort());
  for (const instance of recorded) {
    // A baseline's instances run the version it is the baseline of.
    const version = baselineVersion(instance.version) ?? instance.version;
    expect(await instanceHealth(instance.port)).toMatchObject({ version, pid: instance.pid });
  }
  const api = await fleet.state(X);
  const byPort = (a: { version: string; port: number }, b: { version: string; port: number }) => a.port - b.port;
  expect(api.instances.sort(byPort)).toEqual(
    recorded.map((i) => ({ version: i.version, port: i.port, healthy: true })).sort(byPort),
  );
  expect(await routerWeights(api.url)).toEqual(api.weights);
}

interface Fleetd {
  process: ChildProcess;
  fleet: LocalFleetTarget;
}

describe('fleetd killed mid-operation', () => {
  const roots: string[] = [];
  const fleetds: Fleetd[] = [];

  afterEach(async () => {
    for (const fleetd of fleetds.splice(0)) {
      if (fleetd.process.exitCode !== null || fleetd.process.signalCode !== null) continue;
      const exited = new Promise((done) => fleetd.process.once('exit', done));
      fleetd.process.kill('SIGTERM'); // fleetd stops its instances
      await exited;
    }
    // Whatever a failed test left running untracked.
    for (const root of roots.splice(0)) {
      for (const { pid } of await instanceProcesses(root)) process.kill(pid, 'SIGKILL');
    }
  });

  async function setup() {
    const root = await mkdtemp(join(tmpdir(), 'fleetd-crash-'));
    roots.push(root);
    // If this test process ends before afterEach runs, its instances and fleetd go with it.
    killOnExitUnder(root);
    const paths = dataPaths(root);
    const artifacts = new LocalArtifactStore(paths.artifacts);
    await seedDemoArtifacts(artifacts);
    await publishDemoVersion(artifacts, OLD, { greeting: 'hi', failureRate: 0, latencyMs: 2, shutdownDelayMs: 3000 });
    await publishDemoVersion(artifacts, SLOW, { greeting: 'hi', failureRate: 0, latencyMs: 2, startupDelayMs: 6000 });
    const catalogFile = join(root, 'catalog.json');
    const catalog = { services: [{ name: 'hello', environments: [{ name: 'staging', waves: [[X.region]] }] }] };
    await writeFile(catalogFile, JSON.stringify(catalog));
    const controlPort = await freePort();
    const env = {
      ...process.env,
      CATALOG_FILE: catalogFile,
      DATA_DIR: root,
      FLEET_PORT: String(controlPort),
      FLEET_ROUTER_BASE_PORT: '0',
      FLEET_INSTANCES: '2',
      FLEET_LOAD_RPS: '0',
      FLEET_INITIAL_VERSIONS: `hello=${OLD}`,
    };
    const controlUrl = `http://127.0.0.1:${controlPort}`;

    /** Starts fleet/main.ts as its own process and waits until its control API answers. */
    async function start(): Promise<Fleetd> {
      const log = createWriteStream(join(root, 'fleetd.log'), { flags: 'a' });
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'fleet', 'main.ts')], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.once('exit', killOnExit(child.pid));
      child.stdout.pipe(log);
      child.stderr.pipe(log);
      const fleetd = {
        process: child,
        fleet: new LocalFleetTarget(controlUrl, { tokenFile: paths.fleetControlToken }),
      };
      fleetds.push(fleetd);
      await waitUntil(async () => {
        if (child.exitCode !== null) {
          // The log goes with the test's directory: its end is the diagnosis.
          const said = (await readFile(join(root, 'fleetd.log'), 'utf8').catch(() => '')).trimEnd().split('\n');
          throw new Error(`fleetd exited with ${child.exitCode}; its log ends:\n  ${said.slice(-8).join('\n  ')}`);
        }
        return (await fetch(`${controlUrl}/healthz`).catch(() => undefined))?.ok === true;
      }, 30_000);
      return fleetd;
    }

    /** SIGKILL: no shutdown handler runs, as when the machine or the OOM killer takes fleetd. */
    async function kill(fleetd: Fleetd) {
      const exited = new Promise((done) => fleetd.process.once('exit', done));
      fleetd.process.kill('SIGKILL');
      await exited;
    }

    const digest = async (version: string) => (await artifacts.resolve('hello', version))!.digest;
    return { root, start, kill, digest };
  }

  it('killed while a deploy starts its instances: the old version serves, nothing runs untracked, the retried deploy runs once', async () => {
    const { root, start, kill, digest } = await setup();
    let fleetd = await start();
    const { url } = await fleetd.fleet.state(X);
    expect(await versionsServed(url, 10)).toEqual({ [OLD]: 10 });

    const deploy = { ...X, version: SLOW, digest: await digest(SLOW), requestId: 'release-7' };
    const interrupted = fleetd.fleet.deploy(deploy).catch((err: unknown) => err);
    // An instance of the slow version has been spawned and is not healthy yet (it takes 6s); fleetd has written it
    // down before waiting for it, so the state file tells an operator what runs even in the middle of a deploy.
    let spawned: number | undefined;
    await waitUntil(async () => {
      spawned = (await instanceProcesses(root)).find((p) => p.args.includes(`/${SLOW}-`))?.pid;
      return spawned !== undefined;
    }, 15_000);
    await waitUntil(async () => (await recordedInstances(root)).some((i) => i.pid === spawned), 2000);
    await kill(fleetd);
    expect(await interrupted).toBeInstanceOf(FleetError);

    fleetd = await start();
    const after = await fleetd.fleet.state(X);
    expect(after.url).toBe(url);
    expect(after.stableVersion).toBe(OLD);
    expect(after.weights).toEqual({ [OLD]: 100 });
    expect(await versionsServed(url, 40)).toEqual({ [OLD]: 40 });
    await expectConsistent(root, fleetd.fleet);

    // The activity retries with the same request: it deploys, once, and a further repeat changes nothing.
    expect(await fleetd.fleet.deploy(deploy)).toEqual({ previousVersion: OLD, alreadyRunning: false });
    expect(await fleetd.fleet.deploy(deploy)).toEqual({ previousVersion: OLD, alreadyRunning: true });
    const deployed = await fleetd.fleet.state(X);
    expect(deployed.instances.filter((i) => i.version === SLOW)).toHaveLength(2);
    expect(deployed.instances.filter((i) => i.version === baselineLabel(OLD))).toHaveLength(2);
    expect(deployed.weights).toEqual({ [OLD]: 100, [SLOW]: 0, [baselineLabel(OLD)]: 0 });
    await expectConsistent(root, fleetd.fleet);
    expect(await versionsServed(url, 20)).toEqual({ [OLD]: 20 });
    // The fleet's own log: the interrupted attempt was undone, the retry deployed, the repeat changed nothing.
    const events = (await fleetEvents(root)).filter((e) => e.requestId === deploy.requestId).map((e) => e.event);
    expect(events).toEqual(['deploy-abandoned', 'deploy', 'baseline-start', 'deploy-noop']);
  });

  it('killed while a promote drains the old version: one version serves 100%, the old instances are gone, the retried promote is a no-op', async () => {
    const { root, start, kill, digest } = await setup();
    let fleetd = await start();
    const { url } = await fleetd.fleet.state(X);
    const requestId = 'release-8';
    await fleetd.fleet.deploy({ ...X, version: '1.1.0', digest: await digest('1.1.0'), requestId });
    await fleetd.fleet.setTraffic({ ...X, version: '1.1.0', percent: 50, requestId });
    expect(await routerWeights(url)).toEqual({ [OLD]: 0, '1.1.0': 50, [baselineLabel(OLD)]: 50 });

    const interrupted = fleetd.fleet.promote({ ...X, version: '1.1.0', requestId }).catch((err: unknown) => err);
    // The router has switched; the old instances take 3s each to stop, so the promote is still draining them.
    await waitUntil(async () => (await routerWeights(url))['1.1.0'] === 100, 10_000);
    expect((await instanceProcesses(root)).filter((p) => p.args.includes(`/${OLD}-`)).length).toBeGreaterThan(0);
    await kill(fleetd);
    expect(await interrupted).toBeInstanceOf(FleetError);

    fleetd = await start();
    const after = await fleetd.fleet.state(X);
    // Never a split, never a weight on something that is not running: one version takes all the traffic.
    expect(Object.values(after.weights).filter((w) => w > 0)).toEqual([100]);
    // The switch had been made, so the restarted fleetd finished it.
    expect(after.weights).toEqual({ '1.1.0': 100 });
    expect(after.stableVersion).toBe('1.1.0');
    expect(await versionsServed(url, 40)).toEqual({ '1.1.0': 40 });
    expect((await instanceProcesses(root)).filter((p) => p.args.includes(`/${OLD}-`))).toEqual([]);
    await expectConsistent(root, fleetd.fleet);

    expect(await fleetd.fleet.promote({ ...X, version: '1.1.0', requestId })).toEqual({ previousVersion: undefined });
    expect((await fleetd.fleet.state(X)).weights).toEqual({ '1.1.0': 100 });
    await expectConsistent(root, fleetd.fleet);
    const events = (await fleetEvents(root)).filter((e) => e.requestId === requestId).map((e) => e.event);
    expect(events).toEqual(['deploy', 'baseline-start', 'traffic', 'baseline-stop', 'promote', 'promote-noop']);

    // Self-healing still covers the adopted instances, whose parent was the killed fleetd.
    const [adopted] = await recordedInstances(root);
    process.kill(adopted!.pid, 'SIGKILL');
    await waitUntil(async () => {
      const instances = (await fleetd.fleet.state(X)).instances;
      return instances.length === 2 && instances.every((i) => i.healthy && i.port !== adopted!.port);
    }, 15_000);
    expect(await versionsServed(url, 20)).toEqual({ '1.1.0': 20 });
    await expectConsistent(root, fleetd.fleet);
  });

  it("killed while a deploy starts the canary's baseline: neither the canary nor the baseline is left, the retried deploy starts both once", async () => {
    const { root, start, kill, digest } = await setup();
    let fleetd = await start();
    const { url } = await fleetd.fleet.state(X);
    // The slow version becomes stable, so its baseline takes 6s to start.
    await fleetd.fleet.deploy({ ...X, version: SLOW, digest: await digest(SLOW), requestId: 'release-8' });
    await fleetd.fleet.promote({ ...X, version: SLOW, requestId: 'release-8' });
    const stablePorts = (await fleetd.fleet.state(X)).instances.map((i) => i.port);

    const deploy = { ...X, version: '1.1.0', digest: await digest('1.1.0'), requestId: 'release-9' };
    const interrupted = fleetd.fleet.deploy(deploy).catch((err: unknown) => err);
    await waitUntil(async () => (await recordedInstances(root)).some((i) => i.version === baselineLabel(SLOW)), 15_000);
    await kill(fleetd);
    expect(await interrupted).toBeInstanceOf(FleetError);

    fleetd = await start();
    const after = await fleetd.fleet.state(X);
    expect(after.weights).toEqual({ [SLOW]: 100 });
    expect(after.instances.map((i) => i.port).sort()).toEqual([...stablePorts].sort());
    expect(await versionsServed(url, 40)).toEqual({ [SLOW]: 40 });
    await expectConsistent(root, fleetd.fleet);

    expect(await fleetd.fleet.deploy(deploy)).toEqual({ previousVersion: SLOW, alreadyRunning: false });
    expect(await fleetd.fleet.deploy(deploy)).toEqual({ previousVersion: SLOW, alreadyRunning: true });
    const deployed = await fleetd.fleet.state(X);
    expect(deployed.instances.filter((i) => i.version === '1.1.0')).toHaveLength(2);
    expect(deployed.instances.filter((i) => i.version === baselineLabel(SLOW))).toHaveLength(2);
    await expectConsistent(root, fleetd.fleet);
    const events = (await fleetEvents(root)).filter((e) => e.requestId === deploy.requestId).map((e) => e.event);
    expect(events).toEqual(['deploy-abandoned', 'baseline-abandoned', 'deploy', 'baseline-start', 'deploy-noop']);
  });
});
