// Benchmark of issue 13: how long the web console's inbox and a release page take to load on the demo stack, with
// several releases waiting at their production gate. It measures and prints; it asserts nothing. What it does, and
// what it measured, is in bench/README.md. Raw samples go to bench/results/console-load-<timestamp>.json.
//
// Usage: npm run bench:console [-- --reps N] [--releases N] [--bake S] [--settle S] [--keep]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createTRPCClient, httpLink } from '@trpc/client';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import type { AppRouter } from '../api/routers';
import { seedDemoArtifacts } from '../demo/seed';
import { ServiceCatalog } from '../domain/catalog';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import type { TrustFile } from '../providers/artifacts/trust-store';
import { seedDemo } from '../scripts/seed-demo';
import { findTemporalCli, freePort, loadAverage, machineInfo, median, percentile, portIsFree } from './support';
import { ROOT, say, sleep } from './support';

const THRESHOLD_MS = 1000;
const argv = process.argv.slice(2);
const arg = (name: string, fallback: number, min = 1) => {
  const at = argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name}: not a count: ${argv[at + 1]}`);
  return value;
};
const options = {
  ...{ reps: arg('reps', 10), releases: arg('releases', 5), bake: arg('bake', 10), settle: arg('settle', 20, 0) },
  keep: argv.includes('--keep'),
};
/** CPU time of the machine so far, all cores (ms): busy, and in all. */
const cpuTime = () => {
  const ts = cpus().map((c) => c.times);
  const busy = ts.reduce((sum, t) => sum + t.user + t.nice + t.sys + t.irq, 0);
  return { busy, all: busy + ts.reduce((sum, t) => sum + t.idle, 0) };
};

// ---------------------------------------------------------------------------------------------------------------
// the stack, started as bench/canary-verdicts.ts starts it (whose helpers are private to it: a few lines again)

/** config/catalog.json's hello, then copies hello-2 ... on regions <region>-2 ... (same steps, gates and waves). */
async function benchCatalog(count: number) {
  type Service = { name: string; environments: { waves: string[][] }[] };
  const demo = JSON.parse(await readFile(join(ROOT, 'config', 'catalog.json'), 'utf8')) as { services: Service[] };
  const hello = demo.services.find((s) => s.name === 'hello');
  if (!hello) throw new Error('config/catalog.json has no service hello');
  const copy = (n: number) => ({
    ...hello,
    name: n === 1 ? 'hello' : `hello-${n}`,
    environments: hello.environments.map((env) => ({
      ...env,
      waves: env.waves.map((wave) => wave.map((region) => (n === 1 ? region : `${region}-${n}`))),
    })),
  });
  return ServiceCatalog.parse({ services: Array.from({ length: count }, (_, i) => copy(i + 1)) });
}

let stackChild: ChildProcess | undefined;
const running = () => !!stackChild && stackChild.exitCode === null && stackChild.signalCode === null;

/** Stops the stack (on SIGTERM dev-stack.ts stops its processes in order), if it runs. */
async function stopStack() {
  const child = stackChild;
  if (!child || !running()) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  await exited;
  clearTimeout(timer);
}

/** scripts/dev-stack.ts on free ports (fleetd puts the router of its n-th region on base + n); the API's URL. */
async function startStack(dataDir: string, catalogFile: string, services: string[], regions: number) {
  let routerBase = 0;
  for (let attempt = 0; attempt < 50 && !routerBase; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let p = base; p < base + regions && free; p++) free = await portIsFree(p);
    if (free) routerBase = base;
  }
  const [temporal, ui, api, fleet, metrics] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const ports = { TEMPORAL_PORT: temporal, TEMPORAL_UI_PORT: ui, API_PORT: api, FLEET_PORT: fleet };
  const env = { ...ports, WORKER_METRICS_PORT: metrics, FLEET_ROUTER_BASE_PORT: routerBase };
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'dev-stack.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])),
      ...{ TEMPORAL_CLI: findTemporalCli(), DATA_DIR: dataDir, CATALOG_FILE: catalogFile, HOST: '127.0.0.1' },
      FLEET_INITIAL_VERSIONS: services.map((s) => `${s}=1.0.0`).join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stackChild = child;
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (c: Buffer) => (output += c.toString()));
  for (const deadline = Date.now() + 6 * 60_000; !output.includes('release engine is ready'); await sleep(500)) {
    if (!running() || Date.now() > deadline) {
      await stopStack();
      throw new Error(`the dev stack did not come up:\n  ${output.trimEnd().split('\n').slice(-20).join('\n  ')}`);
    }
  }
  return `http://127.0.0.1:${api}`;
}

// ---------------------------------------------------------------------------------------------------------------
// measuring

/**
 * ms: page.goto to shown (wall); in the page, from the navigation's start: shown, the app's start (DOMContentLoaded,
 * after its module script ran; then come its API calls and render) and the fetches done by then (path, start, end).
 */
type Load = { wallMs: number; inPageMs: number; appStartedMs: number; fetches: [string, number, number][] };
/** What a loaded page shows: every selector's element visible (with `text`, if given, as its text). */
type Ready = { selectors: string[]; text?: string };

/**
 * A page script resolving when the page shows what `ready` says, seen by a MutationObserver (a string: the console's
 * CSP forbids page.waitForFunction's eval, and tsx's helpers would not exist in the page).
 */
const untilShown = (ready: Ready) => `new Promise((done) => {
  const ready = ${JSON.stringify(ready)};
  const shown = (e) => !!e && e.getClientRects().length > 0 && (!ready.text || e.textContent === ready.text);
  const check = () => ready.selectors.every((s) => shown(document.querySelector(s)));
  const at = (e) => [e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.responseEnd)];
  const loaded = () => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd;
  const end = () => done([performance.now(), loaded(), performance.getEntriesByType('resource').map(at)]);
  if (check()) return end();
  const observer = new MutationObserver(() => check() && (observer.disconnect(), end()));
  observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})`;

/** Loads `url` in a fresh page of `context` until it shows what `ready` says. */
async function timeLoad(context: BrowserContext, url: string, ready: Ready): Promise<Load> {
  const page = await context.newPage();
  try {
    const start = performance.now();
    await page.goto(url, { waitUntil: 'commit' });
    const [inPageMs, appStartedMs, fetches] = await page.evaluate<[number, number, Load['fetches']]>(untilShown(ready));
    return { wallMs: performance.now() - start, inPageMs, appStartedMs, fetches };
  } finally {
    await page.close();
  }
}

/** One API call with a bearer token, timed to its last byte (a stream: to its first event after `connected`). */
async function timeCall(url: string, token: string, stream = false): Promise<number> {
  const abort = new AbortController();
  const start = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  const isEvent = (block: string) => block.includes('data:') && !/^event: (connected|ping)$/m.test(block);
  const event = () => text.split('\n\n').slice(0, -1).some(isEvent);
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += new TextDecoder().decode(chunk.value);
    if (stream && event()) break;
  }
  if (stream && !event()) throw new Error(`${url}: the stream ended without an event`);
  const ms = performance.now() - start;
  abort.abort();
  return ms;
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  const machine = machineInfo();
  say(`machine: ${machine.cores} cores (${machine.cpuModel}); load ${machine.loadAverageBeforeStart.join(' ')}`);
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-console-'));
  let browser: Browser | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await browser?.close().catch(() => undefined);
      await stopStack();
      if (options.keep) say(`data dir kept: ${dataDir} (the stack's logs in logs/)`);
      else await rm(dataDir, { recursive: true, force: true });
    })());
  process.on('exit', () => running() && stackChild?.kill('SIGTERM'));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      say(`${signal}: stopping the stack ...`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    say('building the web console (scripts/build-web.mjs, as npm start does) ...');
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs')], { stdio: 'inherit' });
    // The data dir as dev-stack.ts seeds it, plus the demo versions published and trusted for the copies of hello.
    const catalog = await benchCatalog(options.releases);
    const services = catalog.services.map((s) => s.name);
    const catalogFile = join(dataDir, 'catalog.json');
    await writeFile(catalogFile, `${JSON.stringify(catalog, null, 2)}\n`);
    const { credentials, paths } = await seedDemo(dataDir);
    const trust = JSON.parse(await readFile(paths.trustedKeys, 'utf8')) as TrustFile;
    for (const key of trust.keys) key.services = [...new Set([...key.services, ...services])];
    await writeFile(paths.trustedKeys, `${JSON.stringify(trust, null, 2)}\n`);
    const signingKeyPem = await readFile(paths.devSigningKey, 'utf8');
    const store = new LocalArtifactStore(paths.artifacts);
    for (const service of services.slice(1)) await seedDemoArtifacts(store, { service, signingKeyPem });

    let t = Date.now();
    const regions = catalog.services.flatMap((s) => s.environments.flatMap((e) => e.waves.flat())).length;
    say(`starting the dev stack: ${services.length} services (${services.join(', ')}), ${regions} regions ...`);
    const apiUrl = await startStack(dataDir, catalogFile, services, regions);
    const stackStartSeconds = (Date.now() - t) / 1000;
    const token = (who: string) => credentials[who] ?? '';
    const headers = (who: string) => () => ({ authorization: `Bearer ${token(who)}` });
    const client = (who: string) =>
      createTRPCClient<AppRouter>({ links: [httpLink({ url: `${apiUrl}/trpc`, headers: headers(who) })] });
    const [pipeline, alice] = [client('ci-pipeline'), client('alice')];
    say(`stack up in ${stackStartSeconds.toFixed(1)}s; starting a normal change per service (bake ${options.bake}s)`);

    t = Date.now();
    const releases = services.map((service, i) => ({ service, releaseId: `bench-console-${i + 1}-${Date.now()}` }));
    const reason = 'bench console-load: a release at its production gate';
    for (const r of releases) {
      const request = { ...r, version: '1.1.0', changeClass: 'normal' as const, bakeSeconds: options.bake, reason };
      // A busy worker may not confirm in time; the same release id starts at most once, so ask again.
      for (let attempt = 1; ; attempt++) {
        const refused = await pipeline.release.start.mutate(request).catch((err: Error) => err);
        if (!(refused instanceof Error)) break;
        if (attempt === 5) throw refused;
        say(`  ${r.service}: ${refused.message.slice(0, 60)}...; asking again`);
      }
    }
    const atGate = new Set<string>();
    for (const deadline = Date.now() + 10 * 60_000; atGate.size < releases.length; await sleep(1000)) {
      if (Date.now() > deadline) throw new Error(`${atGate.size} of ${releases.length} releases reached their gate`);
      for (const r of releases.filter((r) => !atGate.has(r.releaseId))) {
        const status = await alice.release.get.query(r).catch(() => undefined);
        if (status?.outcome) throw new Error(`${r.releaseId} ended (${status.outcome.result}) before its gate`);
        for (const gate of status?.gates ?? []) {
          if (gate.status !== 'waiting' || gate.id === 'production-approval') continue;
          say(`  ${r.service}: gate ${gate.id} opened on the way to production; alice approves it`);
          await alice.release.approve.mutate({ ...r, gate: gate.id, comment: 'bench: on the way to production' });
        }
        const gate = status?.gates.find((g) => g.id === 'production-approval' && g.status === 'waiting');
        if (status?.stage === 'awaiting-approval' && gate) atGate.add(r.releaseId);
      }
    }
    while ((await alice.release.inbox.query()).length < releases.length) await sleep(500);
    const setupSeconds = (Date.now() - t) / 1000;
    say(`${releases.length} releases at their production gate, in alice's inbox, after ${setupSeconds.toFixed(0)}s`);

    // Once the stack has settled, as it is when someone opens the console: the API calls alone, then the pages.
    say(`letting the stack settle for ${options.settle}s`);
    const cpuSettle = cpuTime();
    await sleep(options.settle * 1000);
    const [loadDuring, cpuBefore] = [[loadAverage()], cpuTime()];
    const busy = (from: typeof cpuBefore, to: typeof cpuBefore) =>
      Math.round((100 * (to.busy - from.busy)) / (to.all - from.all));
    const cpuBusy = { settled: busy(cpuSettle, cpuBefore), timing: 0 };
    const api = { inbox: [] as number[], get: [] as number[], watch: [] as number[] };
    for (let i = 0; i < options.reps; i++) {
      const input = encodeURIComponent(JSON.stringify(releases[i % releases.length]));
      api.inbox.push(await timeCall(`${apiUrl}/trpc/release.inbox`, token('alice')));
      api.get.push(await timeCall(`${apiUrl}/trpc/release.get?input=${input}`, token('alice')));
      api.watch.push(await timeCall(`${apiUrl}/trpc/release.watch?input=${input}`, token('alice'), true));
    }
    const launched = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      ...{ handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false },
    });
    browser = launched;
    /** A new context (an empty cache) signed in as alice: POST /session sets its cookie. */
    const signedIn = async () => {
      const context = await launched.newContext({ viewport: { width: 1280, height: 800 } });
      const res = await context.request.post(`${apiUrl}/session`, { data: { token: token('alice') } });
      if (!res.ok()) throw new Error(`POST /session: HTTP ${res.status()}`);
      return context;
    };
    const cards = { selectors: releases.map((r) => `article.gate[data-release="${r.releaseId}"]`) };
    const inbox = (context: BrowserContext) => timeLoad(context, `${apiUrl}/#/inbox`, cards);
    const stage = { selectors: ['[data-testid="stage"]'], text: 'awaiting-approval' };
    const release = (context: BrowserContext, i: number) => {
      const r = releases[i % releases.length] as { service: string; releaseId: string };
      return timeLoad(context, `${apiUrl}/#/release/${r.service}/${r.releaseId}`, stage);
    };
    say(`timing the pages: a cold load each (new context), then ${options.reps} warm loads each, in fresh pages`);
    const [inboxContext, releaseContext] = [await signedIn(), await signedIn()];
    const cold = { inbox: await inbox(inboxContext), release: await release(releaseContext, 0) };
    const warm = { inbox: [] as Load[], release: [] as Load[] };
    for (let i = 0; i < options.reps; i++) {
      warm.inbox.push(await inbox(inboxContext));
      warm.release.push(await release(releaseContext, i));
    }
    loadDuring.push(loadAverage());
    cpuBusy.timing = busy(cpuBefore, cpuTime());

    // One row per measure; the page loads (the acceptance's measure) are held against the 1 s, the parts are not.
    type Row = [measure: string, coldMs: number | undefined, values: number[], judged: boolean];
    const rows: Row[] = (['inbox', 'release'] as const).flatMap((page): Row[] => [
      [`${page} page: goto to shown`, cold[page].wallMs, warm[page].map((l) => l.wallMs), true],
      ['  in the page: navigation to shown', cold[page].inPageMs, warm[page].map((l) => l.inPageMs), true],
      ["  in the page: to the app's start", cold[page].appStartedMs, warm[page].map((l) => l.appStartedMs), false],
    ]);
    rows.push(['API alone: release.inbox', undefined, api.inbox, false]);
    rows.push(['API alone: release.get', undefined, api.get, false]);
    rows.push(['API alone: release.watch, 1st event', undefined, api.watch, false]);
    const summary = rows.map(([measure, coldMs, values]) => ({
      ...{ measure: measure.trim(), coldMs, n: values.length, medianMs: median(values) },
      ...{ p90Ms: percentile(values, 90), maxMs: Math.max(...values) },
    }));
    const cell = (n: number | undefined, judged: boolean) =>
      (n === undefined ? '-' : `${Math.round(n)}${judged ? (n < THRESHOLD_MS ? ' under' : ' OVER') : ''}`).padStart(11);
    const file = join(ROOT, 'bench', 'results', `console-load-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
    const out = { bench: 'console-load', startedAt: started.toISOString(), machine, loadDuring, cpuBusy, options };
    const raw = { ...out, regions, thresholdMs: THRESHOLD_MS, stackStartSeconds, setupSeconds, releases, summary };
    await writeFile(file, `${JSON.stringify({ ...raw, samples: { cold, warm, api } }, null, 2)}\n`);
    process.stdout.write(
      [
        '',
        `console load on ${machine.cores} cores: ${services.length} services, ${regions} regions, ` +
          `${releases.length} gates in alice's inbox`,
        `the machine: CPU ${cpuBusy.settled}% busy while the stack settled, ${cpuBusy.timing}% while timing; ` +
          `load average ${loadDuring.map((l) => l.join(' ')).join(' -> ')} (1/5/15 min, before -> after timing)`,
        `ms: a cold load, then the median, p90 and max of ${options.reps} warm loads; page loads "under" or "OVER" ` +
          `the ${THRESHOLD_MS} ms of issue 13`,
        '',
        `${''.padEnd(36)}${['cold', 'median', 'p90', 'max'].map((h) => h.padStart(12)).join('')}`,
        ...rows.map(([measure, , , judged], i) => {
          const s = summary[i];
          const cells = [s?.coldMs, s?.medianMs, s?.p90Ms, s?.maxMs].map((n) => cell(n, judged));
          return `${measure.padEnd(36)} ${cells.join(' ')}`;
        }),
        '',
        `raw samples: ${relative(process.cwd(), file)}`,
        '',
      ].join('\n'),
    );
  } catch (err) {
    process.exitCode = 1;
    if (!cleaning) say(`bench failed: ${(err as Error).message}${options.keep ? '' : ' (--keep keeps the logs)'}`);
  } finally {
    await cleanup();
  }
  process.exit();
}

void main();
