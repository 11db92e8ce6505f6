// fleetd, the local demo fleet, against real instance processes and real HTTP: deploy, weighted traffic,
// promote, revert, idempotency, metrics, adoption after a restart and self-healing.
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seedDemoArtifacts } from '../../demo/seed';
import { FleetDaemon } from '../../fleet/fleetd';
import { isAlive, probe, spawnInstance } from '../../fleet/instances';
import { LocalArtifactStore } from '../../providers/artifacts/local-artifact-store';
import { FleetError } from '../../providers/fleet/fleet-target';
import { LocalFleetTarget } from '../../providers/fleet/local-fleet';
import { waitUntil } from '../support/engine';
import { killOnExitUnder } from '../support/process-cleanup';

async function versionsServed(url: string, requests: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const res = await fetch(url);
    await res.text();
    const version = res.headers.get('x-version') ?? `status-${res.status}`;
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return counts;
}

/** The pid fleetd recorded for the first instance of `version` in `region` (from its state file). */
async function recordedPid(root: string, region: string, version: string): Promise<number> {
  const state = JSON.parse(await readFile(join(root, 'fleet', 'state.json'), 'utf8')) as {
    regions: { region: string; versions: Record<string, { instances: { pid: number }[] }> }[];
  };
  const pid = state.regions.find((r) => r.region === region)?.versions[version]?.instances[0]?.pid;
  if (!pid) throw new Error(`no recorded instance of ${version} in ${region}`);
  return pid;
}

describe('fleetd', () => {
  const daemons: FleetDaemon[] = [];
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop();
  });

  async function start(dir?: string) {
    const root = dir ?? (await mkdtemp(join(tmpdir(), 'fleetd-')));
    // If this test process ends before afterEach runs, the fleet's instances go with it.
    killOnExitUnder(root);
    const artifacts = new LocalArtifactStore(join(root, 'artifacts'));
    await seedDemoArtifacts(artifacts);
    const daemon = new FleetDaemon({
      dataDir: join(root, 'fleet'),
      artifacts,
      regions: [
        { service: 'hello', region: 'x' },
        { service: 'hello', region: 'y' },
      ],
      initialVersions: { hello: '1.0.0' },
      instancesPerRegion: 1,
      log: () => undefined,
    });
    const started = await daemon.start();
    daemons.push(daemon);
    const fleet = new LocalFleetTarget(started.controlUrl, { tokenFile: started.controlTokenFile });
    const url = (region: string) => started.routers.find((r) => r.region === region)!.url;
    return { root, daemon, fleet, artifacts, url, started };
  }

  it('deploys at 0% traffic, splits traffic by weight, and promote drains the old version', async () => {
    const { fleet, artifacts, url } = await start();
    const x = { service: 'hello', region: 'x' };
    const digest = (await artifacts.resolve('hello', '1.1.0'))!.digest;
    const before = await fleet.state(x);
    expect(before.stableVersion).toBe('1.0.0');

    expect(await fleet.deploy({ ...x, version: '1.1.0', digest, requestId: 't1' })).toEqual({
      previousVersion: '1.0.0',
      alreadyRunning: false,
    });
    expect(await versionsServed(url('x'), 40)).toEqual({ '1.0.0': 40 });

    await fleet.setTraffic({ ...x, version: '1.1.0', percent: 25, requestId: 't1' });
    const split = await versionsServed(url('x'), 400);
    expect(split['1.1.0']! / 400).toBeGreaterThan(0.15);
    expect(split['1.1.0']! / 400).toBeLessThan(0.35);
    const metrics = await fleet.metrics(x);
    expect(metrics.versions['1.1.0']?.requests).toBe(split['1.1.0']);
    expect(metrics.versions['1.0.0']?.requests).toBe(40 + split['1.0.0']!);

    const oldPorts = before.instances.map((i) => i.port);
    expect(await fleet.promote({ ...x, version: '1.1.0', requestId: 't1' })).toEqual({ previousVersion: '1.0.0' });
    const after = await fleet.state(x);
    expect(after.stableVersion).toBe('1.1.0');
    expect(after.weights).toEqual({ '1.1.0': 100 });
    expect(after.instances.map((i) => i.version)).toEqual(['1.1.0']);
    expect(await versionsServed(url('x'), 20)).toEqual({ '1.1.0': 20 });
    for (const port of oldPorts) await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    // The other region was never touched.
    expect((await fleet.state({ service: 'hello', region: 'y' })).stableVersion).toBe('1.0.0');
  });

  it('needs the control token it wrote (0600, dir 0700) on every call but /healthz: without it, 401 and nothing changes', async () => {
    const { artifacts, url, started } = await start();
    const digest = (await artifacts.resolve('hello', '1.1.0'))!.digest;
    const deploy = (headers: Record<string, string>) =>
      fetch(`${started.controlUrl}/v1/services/hello/regions/x/deploy`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ version: '1.1.0', digest, requestId: 'curl-1' }),
      });
    const none = await deploy({});
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toContain(
      `Bearer <the token in ${started.controlTokenFile}>`,
    );
    const wrong = await deploy({ authorization: 'Bearer not-the-token-at-all-not-the-token-at-all' });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: string }).error).toContain('nothing was changed');
    expect((await fetch(`${started.controlUrl}/v1/state`)).status).toBe(401);
    expect((await fetch(`${started.controlUrl}/healthz`)).status).toBe(200);
    // The region's traffic port is the service's, not control: open, and still on the old version.
    expect(await versionsServed(url('x'), 3)).toEqual({ '1.0.0': 3 });
    const right = new LocalFleetTarget(started.controlUrl, {
      token: (await readFile(started.controlTokenFile, 'utf8')).trim(),
    });
    const x = await right.state({ service: 'hello', region: 'x' });
    expect(x.instances.map((i) => i.version)).toEqual(['1.0.0']);
    expect((await stat(started.controlTokenFile)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(started.controlTokenFile))).mode & 0o777).toBe(0o700);
    const impostor = new LocalFleetTarget(started.controlUrl, { token: 'x'.repeat(43) });
    await expect(impostor.state({ service: 'hello', region: 'x' })).rejects.toThrow(/not fleetd's control token/);
  });

  it('treats a repeated deploy as done: no second set of instances, and says so in its log', async () => {
    const { fleet, artifacts, daemon } = await start();
    const x = { service: 'hello', region: 'x' };
    const digest = (await artifacts.resolve('hello', '1.1.0'))!.digest;
    await fleet.deploy({ ...x, version: '1.1.0', digest, requestId: 'once' });
    const first = (await fleet.state(x)).instances.filter((i) => i.version === '1.1.0').map((i) => i.port);
    const [again, concurrent] = await Promise.all([
      fleet.deploy({ ...x, version: '1.1.0', digest, requestId: 'once' }),
      fleet.deploy({ ...x, version: '1.1.0', digest, requestId: 'once' }),
    ]);
    expect(again.alreadyRunning && concurrent.alreadyRunning).toBe(true);
    expect((await fleet.state(x)).instances.filter((i) => i.version === '1.1.0').map((i) => i.port)).toEqual(first);
    const events = (await daemon.events({ region: 'x' })).map((e) => e.event);
    expect(events.filter((e) => e === 'deploy')).toHaveLength(1);
    expect(events.filter((e) => e === 'deploy-noop')).toHaveLength(2);
  });

  it('refuses a digest that is not the artifact of that version, as a non-retryable error', async () => {
    const { fleet, artifacts } = await start();
    const wrong = (await artifacts.resolve('hello', '1.2.0'))!.digest;
    const attempt = fleet.deploy({ service: 'hello', region: 'x', version: '1.1.0', digest: wrong, requestId: 't' });
    await expect(attempt).rejects.toThrow(/contains hello@1\.2\.0, not hello@1\.1\.0/);
    await expect(attempt).rejects.toMatchObject({ retryable: false });
    await expect(fleet.state({ service: 'nope', region: 'x' })).rejects.toBeInstanceOf(FleetError);
  });

  it('counts the errors of the failing demo version (about 30%)', async () => {
    const { fleet, artifacts, url } = await start();
    const x = { service: 'hello', region: 'x' };
    await fleet.deploy({
      ...x,
      version: '1.2.0',
      digest: (await artifacts.resolve('hello', '1.2.0'))!.digest,
      requestId: 'm',
    });
    await fleet.setTraffic({ ...x, version: '1.2.0', percent: 100, requestId: 'm' });
    await versionsServed(url('x'), 300);
    const m = (await fleet.metrics(x)).versions['1.2.0']!;
    expect(m.requests).toBe(300);
    expect(m.errors / m.requests).toBeGreaterThan(0.2);
    expect(m.errors / m.requests).toBeLessThan(0.4);
    expect(m.latencyBuckets['+Inf']).toBe(300);
  });

  it('reverts to an earlier version, starting it again when it no longer runs', async () => {
    const { fleet, artifacts, url } = await start();
    const x = { service: 'hello', region: 'x' };
    await fleet.deploy({
      ...x,
      version: '1.1.0',
      digest: (await artifacts.resolve('hello', '1.1.0'))!.digest,
      requestId: 'r',
    });
    await fleet.promote({ ...x, version: '1.1.0', requestId: 'r' });
    await fleet.revert({ ...x, version: '1.0.0', requestId: 'undo' });
    expect((await fleet.state(x)).stableVersion).toBe('1.0.0');
    expect(await versionsServed(url('x'), 10)).toEqual({ '1.0.0': 10 });
    await fleet.revert({ ...x, version: '1.0.0', requestId: 'undo' });
    expect((await fleet.events(x)).filter((e) => e.requestId === 'undo').map((e) => e.event)).toEqual([
      'revert',
      'revert-noop',
    ]);
  });

  it('a restarted fleetd adopts running instances and replaces dead ones; routers keep their ports', async () => {
    const first = await start();
    const xBefore = await first.fleet.state({ service: 'hello', region: 'x' });
    const yBefore = await first.fleet.state({ service: 'hello', region: 'y' });
    await first.daemon.stop({ keepInstances: true });
    daemons.splice(daemons.indexOf(first.daemon), 1);
    // One instance dies while fleetd is down.
    const yPid = await recordedPid(first.root, 'y', '1.0.0');
    process.kill(yPid, 'SIGKILL');
    await waitUntil(() => Promise.resolve(!isAlive(yPid)), 5000);

    const token = await readFile(first.started.controlTokenFile, 'utf8');
    const second = await start(first.root);
    expect(await readFile(second.started.controlTokenFile, 'utf8')).toBe(token);
    const xAfter = await second.fleet.state({ service: 'hello', region: 'x' });
    const yAfter = await second.fleet.state({ service: 'hello', region: 'y' });
    expect(xAfter.instances.map((i) => i.port)).toEqual(xBefore.instances.map((i) => i.port));
    expect(yAfter.instances.map((i) => i.port)).not.toEqual(yBefore.instances.map((i) => i.port));
    expect(xAfter.url).toBe(xBefore.url);
    expect(await versionsServed(second.url('y'), 5)).toEqual({ '1.0.0': 5 });
    const events = (await second.daemon.events({})).map((e) => `${e.event}:${e.region}`);
    expect(events).toContain('instances-restarted:y');
    expect(events).not.toContain('instances-restarted:x');
  });

  it('a restarted fleetd stops instance processes running from its releases that it has no record of', async () => {
    const first = await start();
    const x = { service: 'hello', region: 'x' };
    const recorded = await recordedPid(first.root, 'x', '1.0.0');
    await first.daemon.stop({ keepInstances: true });
    daemons.splice(daemons.indexOf(first.daemon), 1);
    // A process started from the fleet's unpacked 1.0.0 that never made it into state.json.
    const releases = join(first.root, 'fleet', 'releases', 'hello');
    const releaseDir = join(
      releases,
      (await readdir(releases)).find((d) => d.startsWith('1.0.0-'))!,
    );
    const stray = await spawnInstance({
      releaseDir,
      entrypoint: 'server.mjs',
      service: 'hello',
      region: 'x',
      logDir: join(first.root, 'stray-logs'),
      nodePath: process.execPath,
    });
    await waitUntil(async () => (await probe(stray.port)) === '1.0.0', 10_000);

    const second = await start(first.root);
    expect(isAlive(stray.pid)).toBe(false);
    expect(isAlive(recorded)).toBe(true);
    expect((await second.fleet.state(x)).instances).toHaveLength(1);
    expect((await second.daemon.events({ region: 'x' })).map((e) => e.event)).toContain('stray-stopped');
  });

  it('replaces an instance that crashes while it runs', async () => {
    const { fleet, url, root } = await start();
    const x = { service: 'hello', region: 'x' };
    const pid = await recordedPid(root, 'x', '1.0.0');
    const portBefore = (await fleet.state(x)).instances[0]!.port;
    process.kill(pid, 'SIGKILL');
    await waitUntil(async () => {
      const replacement = (await fleet.state(x)).instances[0];
      return replacement?.port !== portBefore && replacement?.healthy === true;
    }, 10_000);
    expect(await versionsServed(url('x'), 5)).toEqual({ '1.0.0': 5 });
  });
});
