// Benchmark of issue 13: how long the web console's inbox and a release page take to load on the demo stack.
//
// It brings up the stack `npm start` runs (scripts/dev-stack.ts) on free ports with a temporary data directory and the
// demo's `hello` plus copies of it (hello-2, ...), each on regions of its own, so that every release is at its own
// production approval gate (one service holds one release at a time). As ci-pipeline it starts one normal change per
// service and waits until each is `awaiting-approval` and alice's inbox lists them all. Then, signed in as alice in one
// chromium: a cold load of each page (a new browser context, empty cache), then N warm loads in a fresh page each,
// timed from page.goto to the inbox's cards (release page: its stage) being visible; and the API calls alone
// (release.inbox, release.get, the first release.watch event) with alice's bearer token. Prints medians, p90 and max
// next to the 1 s of the acceptance; writes the raw samples to bench/results/console-load-<timestamp>.json.
//
// Usage: npm run bench:console [-- --reps N] [--releases N] [--bake S] [--keep]. See bench/README.md.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
const arg = (name: string, fallback: number) => {
  const at = argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: not a count: ${argv[at + 1]}`);
  return value;
};
const options = {
  reps: arg('reps', 10),
  releases: arg('releases', 5),
  bake: arg('bake', 10),
  keep: argv.includes('--keep'),
};

// ---------------------------------------------------------------------------------------------------------------
// the stack: as bench/canary-verdicts.ts starts it (its helpers are private to that script, so a few lines again)

/** config/catalog.json's hello, then copies hello-2 ... on regions <region>-2 ... (same steps, gates, waves). */
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

async function startStack(dataDir: string, catalogFile: string, services: string[], regions: number) {
  let routerBase = 0;
  for (let attempt = 0; attempt < 50 && !routerBase; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let p = base; p < base + regions && free; p++) free = await portIsFree(p);
    if (free) routerBase = base;
  }
  const [temporalPort, uiPort, apiPort, fleetPort, metricsPort] = [
    ...(await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])),
  ];
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'dev-stack.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...{ TEMPORAL_CLI: findTemporalCli(), DATA_DIR: dataDir, CATALOG_FILE: catalogFile, HOST: '127.0.0.1' },
      ...{ TEMPORAL_PORT: `${temporalPort}`, TEMPORAL_UI_PORT: `${uiPort}`, API_PORT: `${apiPort}` },
      ...{ FLEET_PORT: `${fleetPort}`, FLEET_ROUTER_BASE_PORT: `${routerBase}`, WORKER_METRICS_PORT: `${metricsPort}` },
      FLEET_INITIAL_VERSIONS: services.map((s) => `${s}=1.0.0`).join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (!running()) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    await exited;
    clearTimeout(timer);
  };
  for (const deadline = Date.now() + 6 * 60_000; !output.includes('release engine is ready'); await sleep(500)) {
    if (!running() || Date.now() > deadline) {
      await stop();
      throw new Error(`the dev stack did not come up:\n  ${output.trimEnd().split('\n').slice(-20).join('\n  ')}`);
    }
  }
  return { apiUrl: `http://127.0.0.1:${apiPort}`, stop, kill: () => running() && child.kill('SIGTERM') };
}

// ---------------------------------------------------------------------------------------------------------------
// measuring

interface Load {
  wallMs: number;
  inPageMs: number;
}

/** What is on the page: every selector's element shown (with `text`, if given, as its text). */
interface Ready {
  selectors: string[];
  text?: string;
}

/**
 * A fresh page of `context`: page.goto(url) until the page shows what `ready` says. Waited for in the page by a
 * MutationObserver (the console's CSP forbids page.waitForFunction's eval), so `inPageMs` is when it first showed,
 * counted from the navigation's start.
 */
async function timeLoad(context: BrowserContext, url: string, ready: Ready): Promise<Load> {
  const page = await context.newPage();
  try {
    const start = performance.now();
    await page.goto(url, { waitUntil: 'commit' });
    const inPageMs = await page.evaluate<number>(untilShown(ready));
    return { wallMs: performance.now() - start, inPageMs };
  } finally {
    await page.close();
  }
}

/** A page script (a string: tsx's helpers would not exist in the page) that resolves when `ready` holds. */
const untilShown = (ready: Ready) => `new Promise((done) => {
  const ready = ${JSON.stringify(ready)};
  const shown = (e) => !!e && e.getClientRects().length > 0 && (ready.text === undefined || e.textContent === ready.text);
  const check = () => ready.selectors.every((s) => shown(document.querySelector(s)));
  if (check()) return done(performance.now());
  const observer = new MutationObserver(() => check() && (observer.disconnect(), done(performance.now())));
  observer.observe(document.documentElement, { childList: true, subtree: true, characterData: true });
})`;

/** One API call with a bearer token, timed to the last byte (release.watch: to its first event after `connected`). */
async function timeCall(url: string, token: string, stream = false): Promise<number> {
  const abort = new AbortController();
  const start = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  if (!stream) await res.text();
  else {
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const blocks = () => text.split('\n\n').slice(0, -1);
    while (!blocks().some((block) => block.includes('data:') && !block.includes('event: connected'))) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${url}: the stream ended without an event`);
      text += new TextDecoder().decode(value);
    }
  }
  const ms = performance.now() - start;
  abort.abort();
  return ms;
}

const ms = (n: number | undefined) => (n === undefined ? '-' : `${Math.round(n)}`);
const verdict = (n: number | undefined) => (n === undefined ? '-' : n < THRESHOLD_MS ? 'under' : 'over');

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  const machine = machineInfo();
  say(
    `machine: ${machine.cores} cores (${machine.cpuModel}); load average ${machine.loadAverageBeforeStart.join(' ')}`,
  );
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-console-'));
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  let browser: Browser | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await browser?.close().catch(() => undefined);
      await stack?.stop();
      if (options.keep) say(`data dir kept: ${dataDir}`);
      else await rm(dataDir, { recursive: true, force: true });
    })());
  process.on('exit', () => stack?.kill());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      say(`${signal}: stopping the stack ...`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    say('building the web console (scripts/build-web.mjs, as npm start does) ...');
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
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
    say(`starting the dev stack with ${services.length} services (${services.join(', ')}) ...`);
    const regions = catalog.services.flatMap((s) => s.environments.flatMap((e) => e.waves.flat())).length;
    stack = await startStack(dataDir, catalogFile, services, regions);
    const stackStartSeconds = (Date.now() - t) / 1000;
    const { apiUrl } = stack;
    const token = (who: string) => credentials[who] ?? '';
    const client = (who: string) =>
      createTRPCClient<AppRouter>({
        links: [httpLink({ url: `${apiUrl}/trpc`, headers: () => ({ authorization: `Bearer ${token(who)}` }) })],
      });
    const [pipeline, alice] = [client('ci-pipeline'), client('alice')];
    say(`stack up in ${stackStartSeconds.toFixed(1)}s; starting one normal change per service (bake ${options.bake}s)`);

    t = Date.now();
    const releases = services.map((service, i) => ({ service, releaseId: `bench-console-${i + 1}-${Date.now()}` }));
    const reason = 'bench console-load: a release at its production gate';
    for (const r of releases) {
      const request = { ...r, version: '1.1.0', changeClass: 'normal' as const, bakeSeconds: options.bake, reason };
      // A busy worker may not confirm in time; the same release id starts at most once, so ask again.
      for (let attempt = 1; ; attempt++) {
        const refused = await pipeline.release.start.mutate(request).then(
          () => undefined,
          (err: Error) => err,
        );
        if (!refused) break;
        if (attempt === 5) throw refused;
        say(`  ${r.service}: ${refused.message.slice(0, 60)}...; asking again`);
      }
    }
    const atGate = new Set<string>();
    for (const deadline = Date.now() + 10 * 60_000; atGate.size < releases.length; await sleep(1000)) {
      if (Date.now() > deadline)
        throw new Error(`only ${atGate.size} of ${releases.length} releases reached their gate`);
      for (const r of releases.filter((r) => !atGate.has(r.releaseId))) {
        const status = await alice.release.get.query(r).catch(() => undefined);
        if (status?.outcome)
          throw new Error(`${r.service} ${r.releaseId} ended (${status.outcome.result}) before its gate`);
        for (const gate of status?.gates ?? []) {
          if (gate.status !== 'waiting' || gate.id === 'production-approval') continue;
          say(`  ${r.service}: gate ${gate.id} opened on the way (not the production one); alice approves it`);
          await alice.release.approve.mutate({ ...r, gate: gate.id, comment: 'bench: on the way to production' });
        }
        const production = status?.gates.find((g) => g.id === 'production-approval' && g.status === 'waiting');
        if (status?.stage === 'awaiting-approval' && production) atGate.add(r.releaseId);
      }
    }
    while ((await alice.release.inbox.query()).length < releases.length) await sleep(500);
    const setupSeconds = (Date.now() - t) / 1000;
    say(
      `all ${releases.length} releases at their production gate and in alice's inbox after ${setupSeconds.toFixed(0)}s`,
    );

    // The API calls alone, then the pages in the browser.
    const loadDuring = [loadAverage()];
    const server = { inbox: [] as number[], get: [] as number[], watchFirstEvent: [] as number[] };
    for (let i = 0; i < options.reps; i++) {
      const input = encodeURIComponent(JSON.stringify(releases[i % releases.length]));
      server.inbox.push(await timeCall(`${apiUrl}/trpc/release.inbox`, token('alice')));
      server.get.push(await timeCall(`${apiUrl}/trpc/release.get?input=${input}`, token('alice')));
      server.watchFirstEvent.push(await timeCall(`${apiUrl}/trpc/release.watch?input=${input}`, token('alice'), true));
    }
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      ...{ handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false },
    });
    const signedIn = async () => {
      const context = await (browser as Browser).newContext({ viewport: { width: 1280, height: 800 } });
      const res = await context.request.post(`${apiUrl}/session`, { data: { token: token('alice') } });
      if (!res.ok()) throw new Error(`POST /session: HTTP ${res.status()}`);
      return context;
    };
    const inboxReady = { selectors: releases.map((r) => `article.gate[data-release="${r.releaseId}"]`) };
    const inbox = (context: BrowserContext) => timeLoad(context, `${apiUrl}/#/inbox`, inboxReady);
    const releasePage = (context: BrowserContext, i: number) => {
      const r = releases[i % releases.length] ?? { service: '', releaseId: '' };
      const stage = { selectors: ['[data-testid="stage"]'], text: 'awaiting-approval' };
      return timeLoad(context, `${apiUrl}/#/release/${r.service}/${r.releaseId}`, stage);
    };
    say(`timing the pages: a cold load each, then ${options.reps} warm loads each, in fresh pages`);
    const [inboxContext, releaseContext] = [await signedIn(), await signedIn()];
    const samples = { inboxCold: await inbox(inboxContext), releaseCold: await releasePage(releaseContext, 0) };
    const warm = { inbox: [] as Load[], release: [] as Load[] };
    for (let i = 0; i < options.reps; i++) {
      warm.inbox.push(await inbox(inboxContext));
      warm.release.push(await releasePage(releaseContext, i));
    }
    loadDuring.push(loadAverage());

    // The table: one row per measure, the 1 s next to each number.
    const rows: [string, number | undefined, number[]][] = [
      ['inbox: goto to cards visible', samples.inboxCold.wallMs, warm.inbox.map((l) => l.wallMs)],
      ['inbox: in the page (from navigation)', samples.inboxCold.inPageMs, warm.inbox.map((l) => l.inPageMs)],
      ['release page: goto to stage visible', samples.releaseCold.wallMs, warm.release.map((l) => l.wallMs)],
      ['release page: in the page', samples.releaseCold.inPageMs, warm.release.map((l) => l.inPageMs)],
      ['API alone: release.inbox', undefined, server.inbox],
      ['API alone: release.get', undefined, server.get],
      ['API alone: release.watch 1st event', undefined, server.watchFirstEvent],
    ];
    const summary = rows.map(([measure, cold, values]) => ({
      measure,
      coldMs: cold,
      ...{ medianMs: median(values), p90Ms: percentile(values, 90), maxMs: Math.max(...values), n: values.length },
    }));
    const lines = [
      `${'ms'.padEnd(38)} ${'cold'.padStart(11)} ${'median'.padStart(11)} ${'p90'.padStart(11)} ${'max'.padStart(11)}`,
      ...summary.map((s) => {
        const cell = (n: number | undefined) => (n === undefined ? '-' : `${ms(n)} ${verdict(n)}`).padStart(11);
        return `${s.measure.padEnd(38)} ${cell(s.coldMs)} ${cell(s.medianMs)} ${cell(s.p90Ms)} ${cell(s.maxMs)}`;
      }),
    ];
    const file = join(ROOT, 'bench', 'results', `console-load-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
    const out = { bench: 'console-load', startedAt: started.toISOString(), machine, loadDuring, options };
    const raw = { ...out, thresholdMs: THRESHOLD_MS, stackStartSeconds, setupSeconds, releases, summary };
    await writeFile(file, `${JSON.stringify({ ...raw, samples: { ...samples, warm, server } }, null, 2)}\n`);
    process.stdout.write(
      [
        '',
        `console load, ${machine.cores} cores, load average ${loadDuring.map((l) => l.join(' ')).join(' -> ')} ` +
          `(1/5/15 min, before -> after the timing); ${releases.length} gates waiting in alice's inbox; ` +
          `${options.reps} warm loads each; "under"/"over" against the acceptance's ${THRESHOLD_MS} ms`,
        '',
        ...lines,
        '',
        `raw samples: ${relative(process.cwd(), file)}`,
        '',
      ].join('\n'),
    );
  } catch (err) {
    process.exitCode = 1;
    say(`bench failed: ${(err as Error).message}${options.keep ? '' : ' (--keep keeps the data dir and its logs)'}`);
  } finally {
    await cleanup();
  }
  process.exit();
}

void main();
