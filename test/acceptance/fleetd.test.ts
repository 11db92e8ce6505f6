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
import { baselineLabel, FleetError } from '../../providers/fleet/fleet-target';
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

/** What the instance on `port` says about itself. */
async function instanceHealth(port: number): Promise<{ version: string; pid: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return (await res.json()) as { version: string; pid: number };
}

/** When a process started, in clock ticks since boot (field 22 of /proc/<pid>/stat). */
async function startedAt(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

describe('fleetd', () => {
  const daemons: FleetDaemon[] = [];
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop();
  });

  async function start(dir?: string, instancesPerRegion = 1) {
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
      instancesPerRegion,
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
    // The baseline's instances answer as 1.0.0 too; the router counts them under their own label.
    const stableAnswers =
      (metrics.versions['1.0.0']?.requests ?? 0) + (metrics.versions['1.0.0+baseline']?.requests ?? 0);
    expect(stableAnswers).toBe(40 + split['1.0.0']!);

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
    // The canary's instances and its baseline's: a retry must start neither again.
    const first = (await fleet.state(x)).instances.map((i) => `${i.version}:${i.port}`);
    expect(first).toHaveLength(3);
    const [again, concurrent] = await Promise.all([
      fleet.deploy({ ...x, version: '1.1.0', digest, requestId: 'once' }),
      fleet.deploy({ ...x, version: '1.1.0', digest, requestId: 'once' }),
    ]);
    expect(again.alreadyRunning && concurrent.alreadyRunning).toBe(true);
    expect((await fleet.state(x)).instances.map((i) => `${i.version}:${i.port}`)).toEqual(first);
    const events = (await daemon.events({ region: 'x' })).map((e) => e.event);
    expect(events.filter((e) => e === 'deploy')).toHaveLength(1);
    expect(events.filter((e) => e === 'baseline-start')).toHaveLength(1);
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

  describe('a baseline of the same age beside each canary', () => {
    const x = { service: 'hello', region: 'x' };
    const label = baselineLabel('1.0.0');

    it("starts fresh instances of the stable version with the canary, routes them the canary's share and counts them under the baseline label", async () => {
      const { fleet, artifacts, url, daemon } = await start(undefined, 2);
      const digest = (await artifacts.resolve('hello', '1.1.0'))!.digest;
      const stable = await Promise.all((await fleet.state(x)).instances.map((i) => instanceHealth(i.port)));
      expect(stable).toHaveLength(2);

      await fleet.deploy({ ...x, version: '1.1.0', digest, requestId: 'b1' });
      const deployed = await fleet.state(x);
      const ports = (version: string) => deployed.instances.filter((i) => i.version === version).map((i) => i.port);
      expect(ports('1.1.0')).toHaveLength(2);
      expect(ports(label)).toHaveLength(2);
      expect(ports('1.0.0')).toHaveLength(2);
      expect(deployed.instances.every((i) => i.healthy)).toBe(true);
      expect(deployed.weights).toEqual({ '1.0.0': 100, '1.1.0': 0, [label]: 0 });

      // Fresh processes of 1.0.0, started by this deploy: as young as the canary, younger than the stable instances.
      const canaryStarts = await Promise.all(
        ports('1.1.0').map(async (port) => startedAt((await instanceHealth(port)).pid)),
      );
      const stableStarts = await Promise.all(stable.map((s) => startedAt(s.pid)));
      for (const port of ports(label)) {
        const baseline = await instanceHealth(port);
        expect(baseline.version).toBe('1.0.0');
        expect(stable.map((s) => s.pid)).not.toContain(baseline.pid);
        expect(await startedAt(baseline.pid)).toBeGreaterThanOrEqual(Math.min(...canaryStarts));
        expect(await startedAt(baseline.pid)).toBeGreaterThan(Math.max(...stableStarts));
      }
      // At 0% the baseline serves nothing, like the canary.
      expect(await versionsServed(url('x'), 20)).toEqual({ '1.0.0': 20 });
      expect((await fleet.metrics(x)).versions[label]).toBeUndefined();

      await fleet.setTraffic({ ...x, version: '1.1.0', percent: 25, requestId: 'b1' });
      expect((await fleet.state(x)).weights).toEqual({ '1.0.0': 50, '1.1.0': 25, [label]: 25 });
      const before = (await fleet.metrics(x)).versions;
      await versionsServed(url('x'), 400);
      const after = (await fleet.metrics(x)).versions;
      const share = (version: string) => ((after[version]?.requests ?? 0) - (before[version]?.requests ?? 0)) / 400;
      expect(share('1.1.0')).toBeGreaterThan(0.15);
      expect(share('1.1.0')).toBeLessThan(0.35);
      expect(share(label)).toBeGreaterThan(0.15);
      expect(share(label)).toBeLessThan(0.35);
      expect(share('1.0.0')).toBeGreaterThan(0.38);
      expect(share('1.0.0')).toBeLessThan(0.62);
      expect(Math.round((share('1.1.0') + share(label) + share('1.0.0')) * 400)).toBe(400);

      // The drift check sees 1.0.0 and 1.1.0, never a version called 1.0.0+baseline.
      expect(await fleet.running(x)).toMatchObject({
        stableVersion: '1.0.0',
        traffic: { '1.0.0': 75, '1.1.0': 25 },
        deployed: ['1.0.0', '1.1.0'],
      });
      // Above 50% the baseline keeps what the stable version has left, not the canary's share.
      await fleet.setTraffic({ ...x, version: '1.1.0', percent: 75, requestId: 'b1' });
      expect((await fleet.state(x)).weights).toEqual({ '1.0.0': 0, '1.1.0': 75, [label]: 25 });

      const events = (await daemon.events({ region: 'x' })).filter((e) => e.requestId === 'b1');
      expect(events.map((e) => e.event)).toEqual(['deploy', 'baseline-start', 'traffic', 'traffic']);
      expect(events[1]).toMatchObject({ version: label, detail: '2 fresh instances of 1.0.0 beside 1.1.0' });

      const asRelease = fleet.deploy({ ...x, version: label, digest, requestId: 'b2' });
      await expect(asRelease).rejects.toThrow(/spelled like the label fleetd gives baseline instances/);
      await expect(asRelease).rejects.toMatchObject({ retryable: false });
    });

    it('promote and revert stop the baseline with the versions they retire, and self-healing does not bring it back', async () => {
      const { fleet, artifacts, daemon } = await start();
      const digest = async (version: string) => (await artifacts.resolve('hello', version))!.digest;
      const baselinePids = async (version: string) =>
        Promise.all(
          (await fleet.state(x)).instances
            .filter((i) => i.version === baselineLabel(version))
            .map(async (i) => (await instanceHealth(i.port)).pid),
        );

      await fleet.deploy({ ...x, version: '1.1.0', digest: await digest('1.1.0'), requestId: 'p' });
      await fleet.setTraffic({ ...x, version: '1.1.0', percent: 25, requestId: 'p' });
      const promoted = await baselinePids('1.0.0');
      expect(promoted).toHaveLength(1);
      await fleet.promote({ ...x, version: '1.1.0', requestId: 'p' });
      expect((await fleet.state(x)).instances.map((i) => i.version)).toEqual(['1.1.0']);
      expect(promoted.filter(isAlive)).toEqual([]);

      // The next canary is compared with a baseline of the new stable version; a revert keeps 1.1.0's own instances.
      await fleet.deploy({ ...x, version: '1.2.0', digest: await digest('1.2.0'), requestId: 'r' });
      await fleet.setTraffic({ ...x, version: '1.2.0', percent: 50, requestId: 'r' });
      expect((await fleet.state(x)).weights).toEqual({ '1.1.0': 0, '1.2.0': 50, [baselineLabel('1.1.0')]: 50 });
      const reverted = await baselinePids('1.1.0');
      expect(reverted).toHaveLength(1);
      const stablePorts = (await fleet.state(x)).instances.filter((i) => i.version === '1.1.0').map((i) => i.port);
      await fleet.revert({ ...x, version: '1.1.0', requestId: 'undo' });
      const after = await fleet.state(x);
      expect(after.weights).toEqual({ '1.1.0': 100 });
      expect(after.instances.map((i) => i.port)).toEqual(stablePorts);
      expect(reverted.filter(isAlive)).toEqual([]);

      // Longer than a self-healing round (2 s): nothing restarts a retired baseline.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect((await fleet.state(x)).instances.map((i) => i.version)).toEqual(['1.1.0']);
      const events = await daemon.events({ region: 'x' });
      const stops = events.filter((e) => e.event === 'baseline-stop');
      expect(stops.map((e) => [e.version, e.requestId, e.detail])).toEqual([
        [label, 'p', 'promote to 1.1.0'],
        [baselineLabel('1.1.0'), 'undo', 'revert to 1.1.0'],
      ]);
      // The revert names the canary it went back from, not its baseline.
      expect(events.find((e) => e.event === 'revert')).toMatchObject({ version: '1.1.0', from: '1.2.0' });
      expect(events.map((e) => e.event)).not.toContain('instances-restarted');
    });

    it('a restarted fleetd adopts the baseline, replaces a baseline instance that died meanwhile, and does not resurrect it after a promote', async () => {
      const first = await start(undefined, 2);
      const digest = (await first.artifacts.resolve('hello', '1.1.0'))!.digest;
      await first.fleet.deploy({ ...x, version: '1.1.0', digest, requestId: 'c' });
      await first.fleet.setTraffic({ ...x, version: '1.1.0', percent: 25, requestId: 'c' });
      const before = await first.fleet.state(x);
      await first.daemon.stop({ keepInstances: true });
      daemons.splice(daemons.indexOf(first.daemon), 1);
      // One of the two baseline instances dies while fleetd is down.
      const dead = await recordedPid(first.root, 'x', label);
      process.kill(dead, 'SIGKILL');
      await waitUntil(() => Promise.resolve(!isAlive(dead)), 5000);

      const second = await start(first.root, 2);
      const after = await second.fleet.state(x);
      const ports = (state: typeof before, version: string) =>
        state.instances.filter((i) => i.version === version).map((i) => i.port);
      expect(after.weights).toEqual(before.weights);
      expect(ports(after, '1.0.0')).toEqual(ports(before, '1.0.0'));
      expect(ports(after, '1.1.0')).toEqual(ports(before, '1.1.0'));
      const [kept, replaced] = [ports(before, label)[1], ports(after, label).at(-1)];
      expect(ports(after, label)).toHaveLength(2);
      expect(ports(after, label)).toContain(kept);
      expect(ports(before, label)).not.toContain(replaced);
      expect(after.instances.every((i) => i.healthy)).toBe(true);
      await versionsServed(second.url('x'), 100);
      expect((await second.fleet.metrics(x)).versions[label]?.requests).toBeGreaterThan(0);
      expect(
        (await second.daemon.events({ region: 'x' })).filter((e) => e.event === 'instances-restarted'),
      ).toMatchObject([{ version: label, detail: '1 replaced' }]);

      await second.fleet.promote({ ...x, version: '1.1.0', requestId: 'c' });
      await second.daemon.stop({ keepInstances: true });
      daemons.splice(daemons.indexOf(second.daemon), 1);
      const third = await start(first.root, 2);
      expect((await third.fleet.state(x)).instances.map((i) => i.version)).toEqual(['1.1.0', '1.1.0']);
      expect(
        (await third.daemon.events({ region: 'x' })).filter((e) => e.event === 'instances-restarted'),
      ).toHaveLength(1);
    });
  });
});
