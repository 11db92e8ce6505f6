// Benchmark of issue 11: canary verdicts on the real local fleet, with a CPU hog busy on one core.
//
// It brings up the stack `npm start` runs (scripts/dev-stack.ts: the Temporal dev server, fleetd with real instance
// processes, the orchestrator worker, the API) on free ports with a temporary data directory and a catalog of its own:
// two copies of the demo service, `hello` judged by the sequential judge and `hello-fixed` by the fixed-window judge
// (the analysis as it was), each on its own regions. Both take the same releases at the same time, through the API,
// so both see the same machine load:
//   - healthy releases (hello@1.1.0 and 1.3.0 in turn, bakes of 10 s): a release that ends rolled back or failed is a
//     false rollback; a human gate that opens is recorded and approved (so the run goes on) and counted;
//   - failing releases (hello@1.2.0, 30% errors, bakes of 5 s): was it caught in its first region at its first step
//     without a human gate, how long after the traffic shift, on how many canary requests. A gate that opens is
//     recorded and rejected (a human would have had to), and counted.
// Prints a table per judge and writes every release's raw result to bench/results/canary-verdicts-<timestamp>.json.
//
// Usage: npm run bench:canary [-- --quick] [--healthy N] [--failing N] [--healthy-bake S] [--failing-bake S] [--keep]
// (or BENCH_HEALTHY, BENCH_FAILING, BENCH_HEALTHY_BAKE, BENCH_FAILING_BAKE, BENCH_QUICK=1). See bench/README.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../api/routers';
import { seedDemoArtifacts } from '../demo/seed';
import { ServiceCatalog } from '../domain/catalog';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import type { TrustFile } from '../providers/artifacts/trust-store';
import { dataPaths } from '../providers/data-paths';
import { seedDemo } from '../scripts/seed-demo';
import { findTemporalCli, freePort, loadAverage, machineInfo, median, portIsFree, ROOT, say, sleep } from './support';

type Judge = 'sequential' | 'fixed-window';
type ReleaseView = inferRouterOutputs<AppRouter>['release']['get'];
type ServiceView = inferRouterOutputs<AppRouter>['service']['get'];
type Api = ReturnType<typeof apiClient>;

// ---------------------------------------------------------------------------------------------------------------
// options

interface Options {
  healthy: number;
  failing: number;
  healthyBake: number;
  failingBake: number;
  keep: boolean;
  quick: boolean;
}

function parseOptions(argv: string[]): Options {
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string, envName: string, fallback: number): number => {
    const at = argv.indexOf(`--${name}`);
    const raw = at >= 0 ? argv[at + 1] : process.env[envName];
    if (raw === undefined || raw === '') return fallback;
    const parsed = Number(raw);
    if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`--${name} / ${envName}: not a count: ${raw}`);
    return parsed;
  };
  const quick = flag('quick') || process.env.BENCH_QUICK === '1';
  return {
    quick,
    healthy: value('healthy', 'BENCH_HEALTHY', quick ? 2 : 20),
    failing: value('failing', 'BENCH_FAILING', quick ? 2 : 20),
    healthyBake: value('healthy-bake', 'BENCH_HEALTHY_BAKE', 10),
    failingBake: value('failing-bake', 'BENCH_FAILING_BAKE', 5),
    keep: flag('keep') || process.env.BENCH_KEEP === '1',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** A run of `count` consecutive free ports (fleetd puts the router of its n-th region on base + n). */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await portIsFree(p);
    if (free) return base;
  }
  throw new Error(`found no ${count} consecutive free ports`);
}

const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

// ---------------------------------------------------------------------------------------------------------------
// the bench's catalog: the demo's `hello` twice, one per judge, on regions of their own

interface Lane {
  judge: Judge;
  service: string;
  /** Region names of config/catalog.json -> this lane's. */
  regions: Record<string, string>;
}

const LANES: Lane[] = [
  {
    judge: 'sequential',
    service: 'hello',
    regions: { 'local-a': 'local-a', 'local-b': 'local-b', 'local-c': 'local-c' },
  },
  {
    judge: 'fixed-window',
    service: 'hello-fixed',
    regions: { 'local-a': 'fixed-a', 'local-b': 'fixed-b', 'local-c': 'fixed-c' },
  },
];

interface DemoService {
  name: string;
  environments: { waves: string[][] }[];
  canary?: Record<string, unknown>;
  [key: string]: unknown;
}

/** config/catalog.json's hello, once per lane: same steps, analysis, smoke test and waves, its own regions and judge. */
async function benchCatalog() {
  const demo = JSON.parse(await readFile(join(ROOT, 'config', 'catalog.json'), 'utf8')) as { services: DemoService[] };
  const hello = demo.services.find((s) => s.name === 'hello');
  if (!hello) throw new Error('config/catalog.json has no service hello');
  return ServiceCatalog.parse({
    services: LANES.map((lane) => ({
      ...hello,
      name: lane.service,
      description: `${hello.name} of config/catalog.json, judged by the ${lane.judge} judge (bench)`,
      canary: { ...hello.canary, judge: lane.judge },
      environments: hello.environments.map((env) => ({
        ...env,
        waves: env.waves.map((wave) => wave.map((region) => lane.regions[region] ?? `${region}-${lane.service}`)),
      })),
    })),
  });
}

/**
 * Seeds the data directory as the dev stack does (it seeds again at start, idempotently), then publishes the demo
 * versions for the second service, signed by the same dev key, and lets the trust file name that service too.
 */
async function seedDataDir(dataDir: string) {
  const seeded = await seedDemo(dataDir);
  const paths = dataPaths(dataDir);
  const trust = JSON.parse(await readFile(paths.trustedKeys, 'utf8')) as TrustFile;
  const services = LANES.map((l) => l.service);
  for (const key of trust.keys) key.services = [...new Set([...key.services, ...services])];
  await writeFile(paths.trustedKeys, `${JSON.stringify(trust, null, 2)}\n`);
  const signingKeyPem = await readFile(paths.devSigningKey, 'utf8');
  const store = new LocalArtifactStore(paths.artifacts);
  for (const lane of LANES) await seedDemoArtifacts(store, { service: lane.service, signingKeyPem });
  return seeded;
}

// ---------------------------------------------------------------------------------------------------------------
// the stack (scripts/dev-stack.ts, what `npm start` runs) and the CPU hog

interface Stack {
  apiUrl: string;
  child: ChildProcess;
  logFile: string;
  stop: () => Promise<void>;
}

async function startStack(dataDir: string, catalogFile: string): Promise<Stack> {
  const [temporalPort, uiPort, apiPort, fleetPort, metricsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const regionCount = LANES.reduce((n, lane) => n + Object.keys(lane.regions).length, 0);
  const routerBase = await freePortRange(regionCount);
  const logFile = join(dataDir, 'dev-stack.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'dev-stack.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_CLI: findTemporalCli(),
      DATA_DIR: dataDir,
      CATALOG_FILE: catalogFile,
      HOST: '127.0.0.1',
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      API_PORT: String(apiPort),
      FLEET_PORT: String(fleetPort),
      FLEET_ROUTER_BASE_PORT: String(routerBase),
      WORKER_METRICS_PORT: String(metricsPort),
      FLEET_INITIAL_VERSIONS: LANES.map((l) => `${l.service}=1.0.0`).join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    stream?.pipe(log, { end: false });
  }
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
  };
  const deadline = Date.now() + 6 * 60_000;
  while (!/release engine is ready/.test(output)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      const tail = output.trimEnd().split('\n').slice(-20).join('\n  ');
      throw new Error(`the dev stack did not come up; the end of its output:\n  ${tail}`);
    }
    await sleep(500);
  }
  return { apiUrl: `http://127.0.0.1:${apiPort}`, child, logFile, stop };
}

function startCpuHog(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------------------------------------------
// the API

function apiClient(apiUrl: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${apiUrl}/trpc`, headers: () => ({ authorization: `Bearer ${token}` }) })],
  });
}

interface Principals {
  /** Starts releases (dev principal ci-pipeline). */
  pipeline: Api;
  /** Decides gates (dev principal alice, not the one who started the release). */
  approver: Api;
  /** Aborts a release that does not end (dev principal sam). */
  operator: Api;
}

/** Retries a read the API may refuse for a moment (the worker busy on a loaded machine). */
async function retrying<T>(what: string, call: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= attempts) throw new Error(`${what}: ${(err as Error).message}`);
      await sleep(1000);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// one release and what it showed

/** A verdict as the status shows it, with what the sequential judge adds (optional: absent from the old judge). */
interface VerdictView {
  verdict: 'pass' | 'fail' | 'inconclusive';
  reasons: string[];
  step: number;
  percent: number;
  canary: { requests: number; errors: number };
  baseline: { requests: number; errors: number };
  decidedAfterSeconds?: number;
  looks?: number;
}

interface GateRecord {
  id: string;
  kind: string;
  openedAt?: string;
  description: string;
  /** What the bench did: approve (healthy release) or reject (failing release). */
  decided: 'approve' | 'reject' | 'not-decided';
  decideError?: string;
}

interface ReleaseResult {
  judge: Judge;
  service: string;
  kind: 'healthy' | 'failing';
  index: number;
  releaseId: string;
  version: string;
  bakeSeconds: number;
  plannedJudge: Judge;
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  result: string;
  outcomeReason?: string;
  /** Versions per region before and after, from service.get (the ledger) and whether any region drifted. */
  versionsBefore: Record<string, string | null>;
  versionsAfter: Record<string, string | null>;
  driftAfter: string[];
  /** Failing releases: every region runs (per the ledger) what it ran before, and none drifted. */
  backOnPreviousVersion?: boolean;
  humanGates: GateRecord[];
  verdicts: (VerdictView & { region: string })[];
  firstRegion: string;
  /** The verdict or gate that decided the first region's first step (failing releases). */
  detection?: {
    by: 'fail-verdict' | 'gate' | 'none';
    region?: string;
    step?: number;
    verdict?: string;
    /** Seconds from the first region's step-1 traffic shift to the verdict (or to the gate opening). */
    seconds?: number;
    secondsSource?: 'decidedAfterSeconds' | 'timeline';
    /** The same measured on the release's timeline, whatever the verdict carries. */
    timelineSeconds?: number;
    canaryRequests?: number;
    baselineRequests?: number;
    looks?: number;
  };
  caughtAtFirstRegionFirstStepWithoutGate?: boolean;
  falseRollback?: boolean;
  timeline: { at: string; message: string }[];
  error?: string;
}

function versionsOf(view: ServiceView | undefined): Record<string, string | null> {
  return Object.fromEntries((view?.regions ?? []).map((r) => [r.region, r.version]));
}

function driftedOf(view: ServiceView | undefined): string[] {
  return (view?.regions ?? []).filter((r) => r.drift.status === 'drifted').map((r) => r.region);
}

/** When the timeline first says that `region` got `percent`% (any percent if absent) of its traffic on the canary. */
function shiftAt(status: ReleaseView, region: string, percent?: number): string | undefined {
  const pattern = new RegExp(`^${region}: ${percent ?? '\\d+'}% of traffic on `);
  return status.timeline.find((e) => pattern.test(e.message))?.at;
}

/** When the timeline first says `prefix...` (the release notes each region event when it hears it). */
function timelineAt(status: ReleaseView, prefix: string): string | undefined {
  return status.timeline.find((e) => e.message.startsWith(prefix))?.at;
}

async function runRelease(
  api: Principals,
  lane: Lane,
  kind: 'healthy' | 'failing',
  index: number,
  version: string,
  bakeSeconds: number,
): Promise<ReleaseResult> {
  const releaseId = `bench-${kind}-${index + 1}-${randomBytes(3).toString('hex')}`;
  const before = await retrying('service.get', () => api.pipeline.service.get.query({ service: lane.service }));
  const startedAt = new Date().toISOString();
  const result: ReleaseResult = {
    judge: lane.judge,
    service: lane.service,
    kind,
    index,
    releaseId,
    version,
    bakeSeconds,
    plannedJudge: lane.judge,
    startedAt,
    result: 'not-started',
    versionsBefore: versionsOf(before),
    versionsAfter: {},
    driftAfter: [],
    humanGates: [],
    verdicts: [],
    firstRegion: '',
    timeline: [],
  };
  try {
    const started = await api.pipeline.release.start.mutate({
      service: lane.service,
      version,
      releaseId,
      changeClass: 'standard',
      bakeSeconds,
      judge: lane.judge,
      queue: true,
      reason: `bench canary-verdicts: ${kind} release ${index + 1}`,
    });
    result.plannedJudge = started.plan.canary.sequential ? 'sequential' : 'fixed-window';
    result.firstRegion = started.plan.waves[0]?.regions[0]?.region ?? '';
    result.result = 'running';

    // Poll until the release has its outcome; decide every human gate that opens (after recording it).
    // Bounded: the longest path (every bake extended 3x, a few gates) stays well under this.
    const deadline = Date.now() + (300 + 2 * 3 * 3 * bakeSeconds * 3) * 1000;
    let status: ReleaseView | undefined;
    for (;;) {
      status = await retrying('release.get', () =>
        api.pipeline.release.get.query({ service: lane.service, releaseId }),
      );
      for (const gate of status.gates) {
        if (gate.status !== 'waiting' || gate.quorum === 0) continue;
        if (result.humanGates.some((g) => g.id === gate.id)) continue;
        const record: GateRecord = {
          id: gate.id,
          kind: gate.kind,
          description: gate.description,
          decided: kind === 'healthy' ? 'approve' : 'reject',
          ...(gate.openedAt ? { openedAt: gate.openedAt } : {}),
        };
        result.humanGates.push(record);
        say(`  ${lane.service} ${releaseId}: human gate ${gate.id} opened; the bench will ${record.decided} it`);
        try {
          if (record.decided === 'approve') {
            await api.approver.release.approve.mutate({
              service: lane.service,
              releaseId,
              gate: gate.id,
              comment: 'bench: approved to let the run go on (counted as a human gate)',
            });
          } else {
            await api.approver.release.reject.mutate({
              service: lane.service,
              releaseId,
              gate: gate.id,
              comment: 'bench: rejected, the version is known bad (counted as a human gate)',
            });
          }
        } catch (err) {
          record.decideError = (err as Error).message;
        }
      }
      if (status.outcome) break;
      if (Date.now() > deadline) {
        result.result = 'timed-out';
        await api.operator.release.abort
          .mutate({ service: lane.service, releaseId, reason: 'bench: the release did not end in time' })
          .catch(() => undefined);
        break;
      }
      await sleep(500);
    }
    if (status.outcome) {
      result.result = status.outcome.result;
      if (status.outcome.reason) result.outcomeReason = status.outcome.reason;
      result.finishedAt = status.outcome.finishedAt;
      result.durationSeconds = seconds(status.startedAt, status.outcome.finishedAt);
    }
    result.timeline = status.timeline.map((e) => ({ at: e.at, message: e.message }));
    result.verdicts = status.regions.flatMap((r) =>
      (r.verdicts as unknown as VerdictView[]).map((v) => ({
        region: r.region,
        verdict: v.verdict,
        reasons: v.reasons,
        step: v.step,
        percent: v.percent,
        canary: { requests: v.canary.requests, errors: v.canary.errors },
        baseline: { requests: v.baseline.requests, errors: v.baseline.errors },
        ...(typeof v.decidedAfterSeconds === 'number' ? { decidedAfterSeconds: v.decidedAfterSeconds } : {}),
        ...(typeof v.looks === 'number' ? { looks: v.looks } : {}),
      })),
    );
    judge(result, status);
  } catch (err) {
    result.error = (err as Error).message;
    result.result = result.result === 'running' ? 'error' : result.result;
  }
  // The ledger after the release (a rolled-back release has put every region back where it was).
  const after = await retrying('service.get', async () => {
    const view = await api.pipeline.service.get.query({ service: lane.service });
    if (view.active && view.active.id === releaseId) throw new Error('the release is still active');
    return view;
  }).catch(() => undefined);
  result.versionsAfter = versionsOf(after);
  result.driftAfter = driftedOf(after);
  if (kind === 'failing') {
    result.backOnPreviousVersion =
      after !== undefined &&
      result.driftAfter.length === 0 &&
      Object.entries(result.versionsBefore).every(([region, v]) => result.versionsAfter[region] === v);
  }
  return result;
}

/** Fills in what the finished release shows: false rollback (healthy) or how the bad version was caught (failing). */
function judge(result: ReleaseResult, status: ReleaseView) {
  if (result.kind === 'healthy') {
    result.falseRollback = result.result === 'rolled-back' || result.result === 'failed';
    return;
  }
  const region = result.firstRegion;
  const firstGate = result.humanGates[0];
  const failVerdict = result.verdicts.find((v) => v.verdict === 'fail');
  if (failVerdict && !firstGate) {
    const shift = shiftAt(status, failVerdict.region, failVerdict.percent);
    const verdictAt = timelineAt(status, `${failVerdict.region}: analysis at ${failVerdict.percent}%: fail`);
    const timelineSeconds = shift && verdictAt ? seconds(shift, verdictAt) : undefined;
    result.detection = {
      by: 'fail-verdict',
      region: failVerdict.region,
      step: failVerdict.step,
      verdict: failVerdict.verdict,
      canaryRequests: failVerdict.canary.requests,
      baselineRequests: failVerdict.baseline.requests,
      ...(failVerdict.looks !== undefined ? { looks: failVerdict.looks } : {}),
      ...(timelineSeconds !== undefined ? { timelineSeconds } : {}),
      ...(failVerdict.decidedAfterSeconds !== undefined
        ? { seconds: failVerdict.decidedAfterSeconds, secondsSource: 'decidedAfterSeconds' as const }
        : timelineSeconds !== undefined
          ? { seconds: timelineSeconds, secondsSource: 'timeline' as const }
          : {}),
    };
  } else if (firstGate) {
    // The old judge's way of not deciding: a gate asks a human. Detection ends when the gate opens.
    const gateRegion = /^analysis-(.+)-step-(\d+)$/.exec(firstGate.id);
    const gateStep = gateRegion ? Number(gateRegion[2]) - 1 : undefined;
    const gateVerdict = result.verdicts.find(
      (v) => v.region === gateRegion?.[1] && v.step === gateStep && v.verdict !== 'pass',
    );
    const shift = gateRegion?.[1] ? shiftAt(status, gateRegion[1], gateVerdict?.percent) : undefined;
    const timelineSeconds = shift && firstGate.openedAt ? seconds(shift, firstGate.openedAt) : undefined;
    result.detection = {
      by: 'gate',
      ...(gateRegion?.[1] && gateStep !== undefined ? { region: gateRegion[1], step: gateStep } : {}),
      ...(gateVerdict
        ? {
            verdict: gateVerdict.verdict,
            canaryRequests: gateVerdict.canary.requests,
            baselineRequests: gateVerdict.baseline.requests,
            ...(gateVerdict.looks !== undefined ? { looks: gateVerdict.looks } : {}),
          }
        : {}),
      ...(timelineSeconds !== undefined
        ? { seconds: timelineSeconds, secondsSource: 'timeline' as const, timelineSeconds }
        : {}),
    };
  } else {
    result.detection = { by: 'none' };
  }
  result.caughtAtFirstRegionFirstStepWithoutGate =
    result.result === 'rolled-back' &&
    result.humanGates.length === 0 &&
    result.detection.by === 'fail-verdict' &&
    result.detection.region === region &&
    result.detection.step === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// the summary

interface JudgeSummary {
  judge: Judge;
  service: string;
  healthy: number;
  failing: number;
  falseRollbacks: number;
  healthyOther: number;
  humanGatesHealthy: number;
  humanGatesFailing: number;
  caught: number;
  backOnPrevious: number;
  detection: number[];
  detectionSources: string[];
  requests: number[];
  healthyDurations: number[];
  errors: number;
}

function summarise(lane: Lane, results: ReleaseResult[]): JudgeSummary {
  const mine = results.filter((r) => r.judge === lane.judge);
  const healthy = mine.filter((r) => r.kind === 'healthy');
  const failing = mine.filter((r) => r.kind === 'failing');
  return {
    judge: lane.judge,
    service: lane.service,
    healthy: healthy.length,
    failing: failing.length,
    falseRollbacks: healthy.filter((r) => r.falseRollback).length,
    healthyOther: healthy.filter((r) => !['succeeded', 'rolled-back', 'failed'].includes(r.result)).length,
    humanGatesHealthy: healthy.reduce((n, r) => n + r.humanGates.length, 0),
    humanGatesFailing: failing.reduce((n, r) => n + r.humanGates.length, 0),
    caught: failing.filter((r) => r.caughtAtFirstRegionFirstStepWithoutGate).length,
    backOnPrevious: failing.filter((r) => r.backOnPreviousVersion).length,
    detection: failing.flatMap((r) => (r.detection?.seconds !== undefined ? [r.detection.seconds] : [])),
    detectionSources: [...new Set(failing.flatMap((r) => r.detection?.secondsSource ?? []))],
    requests: failing.flatMap((r) => (r.detection?.canaryRequests !== undefined ? [r.detection.canaryRequests] : [])),
    healthyDurations: healthy.flatMap((r) => (r.durationSeconds !== undefined ? [r.durationSeconds] : [])),
    errors: mine.filter((r) => r.error).length,
  };
}

function table(summaries: JudgeSummary[]): string {
  const fmt = (n: number | undefined, digits = 1) => (n === undefined ? '-' : n.toFixed(digits));
  const max = (values: number[]) => (values.length ? Math.max(...values) : undefined);
  const rows: [string, ...string[]][] = [
    ['', ...summaries.map((s) => `${s.judge} (${s.service})`)],
    ['healthy releases', ...summaries.map((s) => String(s.healthy))],
    ['  false rollbacks', ...summaries.map((s) => String(s.falseRollbacks))],
    ['  human gates opened (approved)', ...summaries.map((s) => String(s.humanGatesHealthy))],
    ['  not ended (timed out/error)', ...summaries.map((s) => String(s.healthyOther))],
    [
      '  release time s (median / max)',
      ...summaries.map((s) => `${fmt(median(s.healthyDurations))} / ${fmt(max(s.healthyDurations))}`),
    ],
    ['failing releases (1.2.0)', ...summaries.map((s) => String(s.failing))],
    ['  caught 1st region, 1st step, no gate', ...summaries.map((s) => `${s.caught} of ${s.failing}`)],
    ['  back on the previous version after', ...summaries.map((s) => `${s.backOnPrevious} of ${s.failing}`)],
    ['  human gates opened (rejected)', ...summaries.map((s) => String(s.humanGatesFailing))],
    ['  detection s (median / max)', ...summaries.map((s) => `${fmt(median(s.detection))} / ${fmt(max(s.detection))}`)],
    ['    measured from', ...summaries.map((s) => s.detectionSources.join(', ') || '-')],
    [
      '  canary requests (median / max)',
      ...summaries.map((s) => `${fmt(median(s.requests), 0)} / ${fmt(max(s.requests), 0)}`),
    ],
    ['releases with a bench error', ...summaries.map((s) => String(s.errors))],
  ];
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  return rows
    .map((row) =>
      row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '),
    )
    .join('\n');
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const runStarted = new Date();
  const machine = machineInfo();
  say(
    `machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB; load average before start ` +
      `${machine.loadAverageBeforeStart.join(' ')} (1/5/15 min); node ${machine.node}`,
  );
  say(
    `plan: ${options.healthy} healthy releases (bake ${options.healthyBake}s) and ${options.failing} failing ` +
      `releases of 1.2.0 (bake ${options.failingBake}s) per judge, both judges side by side` +
      (options.quick ? ' (--quick)' : ''),
  );

  const dataDir = await mkdtemp(join(tmpdir(), 'bench-canary-'));
  const hog = startCpuHog();
  say(`CPU hog spinning on one core (pid ${hog.pid}); data dir ${dataDir}`);
  let stack: Stack | undefined;
  let interrupted = false;
  const cleanupNow = () => {
    if (hog.exitCode === null) hog.kill('SIGKILL');
  };
  process.on('exit', cleanupNow);
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: stopping the stack and the CPU hog (data dir kept: ${dataDir})`);
    cleanupNow();
    void (stack?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: ReleaseResult[] = [];
  let failed = false;
  const timings: Record<string, number> = {};
  try {
    const catalog = await benchCatalog();
    const catalogFile = join(dataDir, 'catalog.json');
    await writeFile(catalogFile, `${JSON.stringify(catalog, null, 2)}\n`);
    const { credentials } = await seedDataDir(dataDir);

    let t = Date.now();
    say('starting the dev stack (Temporal dev server, fleetd, worker, API) ...');
    stack = await startStack(dataDir, catalogFile);
    timings.stackStartSeconds = (Date.now() - t) / 1000;
    say(`stack up in ${timings.stackStartSeconds.toFixed(1)}s; API ${stack.apiUrl}`);

    const token = (principal: string) => {
      const value = credentials[principal];
      if (!value) throw new Error(`no dev token for ${principal}`);
      return value;
    };
    const api: Principals = {
      pipeline: apiClient(stack.apiUrl, token('ci-pipeline')),
      approver: apiClient(stack.apiUrl, token('alice')),
      operator: apiClient(stack.apiUrl, token('sam')),
    };

    const phases: { kind: 'healthy' | 'failing'; count: number; bake: number; version: (i: number) => string }[] = [
      {
        kind: 'healthy',
        count: options.healthy,
        bake: options.healthyBake,
        version: (i) => (i % 2 ? '1.3.0' : '1.1.0'),
      },
      { kind: 'failing', count: options.failing, bake: options.failingBake, version: () => '1.2.0' },
    ];
    for (const phase of phases) {
      t = Date.now();
      for (let i = 0; i < phase.count; i++) {
        // Release i of both judges starts at the same time: both see the same load.
        const pair = await Promise.all(
          LANES.map((lane) => runRelease(api, lane, phase.kind, i, phase.version(i), phase.bake)),
        );
        for (const r of pair) {
          results.push(r);
          const d = r.detection;
          const detail =
            r.kind === 'healthy'
              ? `${r.humanGates.length} gate(s)`
              : `caught at 1st region/step without gate: ${r.caughtAtFirstRegionFirstStepWithoutGate ? 'yes' : 'no'}` +
                (d?.seconds !== undefined ? `, ${d.by} after ${d.seconds.toFixed(1)}s` : '') +
                (d?.canaryRequests !== undefined ? ` on ${d.canaryRequests} canary requests` : '') +
                `, ${r.humanGates.length} gate(s)`;
          say(
            `${phase.kind} ${i + 1}/${phase.count} ${r.judge.padEnd(12)} ${r.service}@${r.version}: ${r.result}` +
              `${r.durationSeconds !== undefined ? ` in ${r.durationSeconds.toFixed(1)}s` : ''}; ${detail}` +
              (r.error ? `; error: ${r.error}` : ''),
          );
        }
      }
      timings[`${phase.kind}PhaseSeconds`] = (Date.now() - t) / 1000;
    }
  } catch (err) {
    failed = true;
    say(`bench failed: ${(err as Error).message}`);
  } finally {
    if (stack) {
      say('stopping the stack ...');
      await stack.stop();
    }
    cleanupNow();
  }

  const summaries = LANES.map((lane) => summarise(lane, results));
  const finished = new Date();
  const sequentialWired = results.some(
    (r) => r.judge === 'sequential' && r.verdicts.some((v) => v.looks !== undefined),
  );
  const out = {
    bench: 'canary-verdicts',
    startedAt: runStarted.toISOString(),
    finishedAt: finished.toISOString(),
    wallSeconds: (finished.getTime() - runStarted.getTime()) / 1000,
    machine: { ...machine, loadAverageAtEnd: loadAverage(), cpuHog: 'one core' },
    options,
    timings,
    lanes: LANES,
    notes: [
      'Both judges run side by side in the same run: release i of each starts at the same time on its own service.',
      'Detection seconds: decidedAfterSeconds of the verdict when it carries one, else the release timeline (traffic ' +
        'shift of the step to the fail verdict, or to the analysis gate opening for a judge that asks a human).',
      sequentialWired
        ? 'The sequential judge reported its looks.'
        : 'No verdict carried looks/decidedAfterSeconds: the sequential judge may not be wired in this build.',
    ],
    summaries,
    releases: results,
  };
  const resultsDir = join(ROOT, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `canary-verdicts-${runStarted.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);

  process.stdout.write(
    [
      '',
      `canary verdicts, ${machine.cores} cores, load average before start ${machine.loadAverageBeforeStart.join(' ')}, ` +
        `a CPU hog on one core; wall time ${out.wallSeconds.toFixed(0)}s`,
      `healthy: hello@1.1.0/1.3.0 with ${options.healthyBake}s bakes; failing: hello@1.2.0 (30% errors) with ` +
        `${options.failingBake}s bakes; standard changes (no planned human gate)`,
      '',
      table(summaries),
      '',
      ...out.notes.slice(2).map((n) => `note: ${n}`),
      `raw results: ${relative(process.cwd(), file)}`,
      '',
    ].join('\n'),
  );

  if (failed || options.keep) say(`data dir kept: ${dataDir} (logs in ${join(dataDir, 'logs')})`);
  else await rm(dataDir, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}

void main();
