// Benchmark of issue 12, part 1: the engine against a bare-Temporal floor.
//
// It starts a Temporal dev server of its own, builds the engine's workflow bundle (the API's public key compiled in)
// and a bare bundle (bench/bare/workflows.ts), and runs two worker processes: the engine's (every worker
// createEngineWorkers registers: orchestrator and ten region agents, with in-memory no-op providers,
// bench/engine/worker-process.ts) and the bare one (one worker, no-op activities). The engine's real API runs in this
// process; releases, approvals and rollbacks go through it over HTTP, signed by its key as in production.
// Each scenario runs the engine and then its bare twin (same activities, same child waves, read off the engine's own
// histories), repeated, and the summary prints medians and the ratio engine/bare:
//   P1 orchestration (10 regions, waves 1/3/6, 3 canary steps, zero bakes) and history events per region;
//   P2 approval latency; P3 releases parked at a gate (worker RSS, time to park, time to approve all);
//   P4 emergency rollback of 10 regions against 1; P6 starts per second and latency with 16 concurrent callers.
// Raw results go to bench/results/engine-<timestamp>.json. It asserts nothing.
//
// Usage: npm run bench [-- --quick] [--reps N] [--approvals N] [--parked N[,N]] [--starts-seconds S]
//        [--starts-reps N] [--callers N] [--only p1,p2,p3,p4,p6] [--keep]   (or BENCH_REPS, ..., BENCH_QUICK=1). See bench/README.md.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DecisionSigner } from '../providers/keys/decision-keys';
import { bundleEngineWorkflows } from '../workers/bundle';
import type { OrchestrationShape } from './bare/workflows';
import { type BenchApi, startApi } from './engine/api';
import { benchCatalog, ORCHESTRA_WAVES, REGIONS, ServicePool } from './engine/catalog';
import { type Bench, expectOk, releaseResult, startRelease } from './engine/context';
import { runOrchestration, type OrchestrationResults } from './engine/orchestration';
import { type ApprovalResults, type ParkRun, runApprovals, runParked } from './engine/parked';
import { killAllNow, startTemporal, type TemporalServer, WorkerProcess } from './engine/processes';
import { summaryRows, table } from './engine/report';
import { runStarts, type StartRun } from './engine/starts';
import type { EngineWorkerSetup } from './engine/worker-process';
import { gitCommit, loadAverage, machineInfo, ROOT, say } from './support';

const RELEASE_TASK_QUEUE = 'bench-releases';
const BARE_TASK_QUEUE = 'bench-bare';

// ---------------------------------------------------------------------------------------------------------------
// options

interface Options {
  quick: boolean;
  /** Repetitions of P1 and P4. */
  reps: number;
  /** Approvals measured in P2 (each kind). */
  approvals: number;
  /** Releases parked at once in P3, one run per count. */
  parked: number[];
  startsSeconds: number;
  startsReps: number;
  callers: number;
  /** Scenarios to run (default all): p1 and p4 run together, p3 and p6 need p2 (the shape of a parked release). */
  only: Scenario[];
  keep: boolean;
}

const SCENARIOS = ['p1', 'p2', 'p3', 'p4', 'p6'] as const;
type Scenario = (typeof SCENARIOS)[number];

function parseOptions(argv: string[]): Options {
  const flag = (name: string) => argv.includes(`--${name}`);
  const raw = (name: string, envName: string) => {
    const at = argv.indexOf(`--${name}`);
    const value = at >= 0 ? argv[at + 1] : process.env[envName];
    return value === undefined || value === '' ? undefined : value;
  };
  const count = (text: string, what: string) => {
    const parsed = Number(text);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${what}: not a positive count: ${text}`);
    return parsed;
  };
  const value = (name: string, envName: string, fallback: number) => {
    const text = raw(name, envName);
    return text === undefined ? fallback : count(text, `--${name} / ${envName}`);
  };
  const quick = flag('quick') || process.env.BENCH_QUICK === '1';
  const parked = raw('parked', 'BENCH_PARKED');
  const only = (raw('only', 'BENCH_ONLY') ?? SCENARIOS.join(',')).split(',').map((s) => s.trim().toLowerCase());
  const unknown = only.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`--only / BENCH_ONLY: unknown scenario(s) ${unknown.join(', ')}`);
  return {
    quick,
    reps: value('reps', 'BENCH_REPS', quick ? 1 : 5),
    approvals: value('approvals', 'BENCH_APPROVALS', quick ? 3 : 20),
    parked: parked
      ? parked.split(',').map((n) => count(n.trim(), '--parked / BENCH_PARKED'))
      : quick
        ? [50]
        : [200, 1000],
    startsSeconds: value('starts-seconds', 'BENCH_STARTS_SECONDS', quick ? 5 : 20),
    startsReps: value('starts-reps', 'BENCH_STARTS_REPS', quick ? 1 : 3),
    callers: value('callers', 'BENCH_CALLERS', 16),
    only: only as Scenario[],
    keep: flag('keep') || process.env.BENCH_KEEP === '1',
  };
}

// ---------------------------------------------------------------------------------------------------------------

const quietBundler = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

/** One untimed release and one bare orchestration first, so no measured run pays for cold code paths. */
async function warmUp(bench: Bench) {
  const service = bench.parkPool.take();
  if (!service) throw new Error('the park pool ran out of services');
  expectOk('release.start (warm-up)', await startRelease(bench, service, '1.1.0', 'warm-up', 'standard'));
  const outcome = await releaseResult(bench, service, 'warm-up');
  if (outcome !== 'succeeded') throw new Error(`the warm-up release of ${service} ended ${outcome}`);
  const shape: OrchestrationShape = { before: [[1], [1]], waves: [{ children: 2, child: [1, 1, 1], during: [] }] };
  const handle = await bench.client.workflow.start('bareOrchestrationWorkflow', {
    workflowId: 'bare-warm-up',
    taskQueue: BARE_TASK_QUEUE,
    args: [shape],
  });
  await handle.result();
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const runStarted = new Date();
  const machine = machineInfo();
  const commit = gitCommit();
  say(
    `machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB; load average before start ` +
      `${machine.loadAverageBeforeStart.join(' ')} (1/5/15 min); node ${machine.node}`,
  );
  say(`commit ${commit}; mode ${options.quick ? 'quick' : 'full'}: ${JSON.stringify({ ...options, keep: undefined })}`);

  const dataDir = await mkdtemp(join(tmpdir(), 'bench-engine-'));
  const logDir = join(dataDir, 'logs');
  await mkdir(logDir, { recursive: true });
  say(`data dir ${dataDir}`);

  let temporal: TemporalServer | undefined;
  let engine: WorkerProcess | undefined;
  let bare: WorkerProcess | undefined;
  let api: BenchApi | undefined;
  let connection: Connection | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      await api?.close().catch(() => undefined);
      await Promise.all([engine?.stop(), bare?.stop()]).catch(() => undefined);
      await temporal?.stop().catch(() => undefined);
      await connection?.close().catch(() => undefined);
      killAllNow();
    })());
  process.on('exit', killAllNow);
  // Ctrl-C: stop what was started, remove the data dir (unless --keep) and exit; a second one, or a stop that hangs,
  // exits at once (the exit handler kills what is left). Calls in flight fail meanwhile: that is expected, not news.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    say(`${signal}: stopping the dev server and the worker processes (again to force)`);
    setTimeout(() => process.exit(130), 30_000).unref();
    void stopAll()
      .then(() => (options.keep ? say(`data dir kept: ${dataDir}`) : rm(dataDir, { recursive: true, force: true })))
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', (err) => {
    if (interrupted) return;
    console.error(err);
    killAllNow();
    process.exit(1);
  });

  const timings: Record<string, number> = {};
  const workerInfo: Record<string, unknown> = {};
  const runs = (scenario: Scenario) => options.only.includes(scenario);
  const orchestration: OrchestrationResults = { p1: [], p4: [], shapes: {} };
  const approvals: ApprovalResults = { runs: [] };
  const parked: ParkRun[] = [];
  const starts: StartRun[] = [];
  let error: string | undefined;
  const since = (t: number) => (performance.now() - t) / 1000;
  try {
    let t = performance.now();
    const parkPool = new ServicePool('park', 1 + options.approvals + options.parked.reduce((a, b) => a + b, 0));
    const startPool = new ServicePool('start', Math.max(100, Math.ceil(options.startsSeconds * 50)));
    const { catalog, services } = benchCatalog(options.reps, [parkPool, startPool]);
    const signer = DecisionSigner.generate('default');
    say(
      `starting the Temporal dev server and building the engine and bare workflow bundles ` +
        `(${catalog.services.length} services in the catalog) ...`,
    );
    const temporalStarting = startTemporal(dataDir, logDir).then((server) => (temporal = server));
    temporalStarting.catch(() => undefined);
    const enginePath = join(dataDir, 'engine-workflows.js');
    const barePath = join(dataDir, 'bare-workflows.js');
    await writeFile(
      enginePath,
      (await bundleEngineWorkflows({ trustedKeys: signer.trustedKeys, logger: quietBundler })).code,
    );
    await writeFile(
      barePath,
      (await bundleWorkflowCode({ workflowsPath: join(__dirname, 'bare', 'workflows.ts'), logger: quietBundler })).code,
    );
    timings.bundlesSeconds = since(t);
    const server = await temporalStarting;
    timings.temporalAndBundlesSeconds = since(t);
    say(`Temporal at ${server.address}; bundles built in ${timings.bundlesSeconds.toFixed(1)}s`);

    t = performance.now();
    const setup: EngineWorkerSetup = {
      temporalAddress: server.address,
      releaseTaskQueue: RELEASE_TASK_QUEUE,
      regions: REGIONS,
      trustedKeys: signer.trustedKeys,
      bundlePath: enginePath,
      services,
    };
    const setupFile = join(dataDir, 'engine-worker-setup.json');
    await writeFile(setupFile, JSON.stringify(setup));
    say('starting the engine and bare worker processes ...');
    [engine, bare] = await Promise.all([
      WorkerProcess.start('engine-worker', 'bench/engine/worker-process.ts', { BENCH_WORKER_SETUP: setupFile }, logDir),
      WorkerProcess.start(
        'bare-worker',
        'bench/bare/worker-process.ts',
        { BENCH_TEMPORAL_ADDRESS: server.address, BENCH_BARE_TASK_QUEUE: BARE_TASK_QUEUE, BENCH_BARE_BUNDLE: barePath },
        logDir,
      ),
    ]);
    timings.workersSeconds = since(t);
    for (const worker of [engine, bare]) {
      const rss = await worker.rssMiB();
      workerInfo[worker.name] = { ...worker.ready, startRssMiB: rss };
      say(
        `${worker.name} (pid ${worker.pid}): ${worker.ready.workers} worker(s), starting RSS ${rss.toFixed(0)} MiB, ` +
          `workflow cache ${worker.ready.maxCachedWorkflows} (the first worker), heap limit ${worker.ready.heapLimitMiB} MiB`,
      );
    }

    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    api = await startApi({ client, catalog, services, releaseTaskQueue: RELEASE_TASK_QUEUE, signer });
    const bench: Bench = {
      client,
      api,
      engine,
      bare,
      bareTaskQueue: BARE_TASK_QUEUE,
      parkPool,
      startPool,
      log: say,
    };
    t = performance.now();
    await warmUp(bench);
    timings.warmUpSeconds = since(t);
    timings.setupSeconds = (Date.now() - runStarted.getTime()) / 1000;
    say(`ready after ${timings.setupSeconds.toFixed(1)}s (warm-up ${timings.warmUpSeconds.toFixed(1)}s)`);

    if (runs('p1') || runs('p4')) {
      t = performance.now();
      await runOrchestration(bench, options.reps, orchestration);
      timings.p1p4Seconds = since(t);
    }
    if (runs('p2') || runs('p3') || runs('p6')) {
      t = performance.now();
      // P3 and P6 copy the shape of the first P2 release: P2 runs at least once for them.
      await runApprovals(bench, runs('p2') ? options.approvals : 1, approvals);
      timings.p2Seconds = since(t);
    }
    const parkedShape = approvals.shape;
    if (runs('p3') && parkedShape) {
      t = performance.now();
      await runParked(bench, options.parked, parkedShape, parked);
      timings.p3Seconds = since(t);
    }
    if (runs('p6') && parkedShape) {
      t = performance.now();
      const p6 = { seconds: options.startsSeconds, callers: options.callers, reps: options.startsReps };
      await runStarts(bench, p6, parkedShape, starts);
      timings.p6Seconds = since(t);
    }
  } catch (err) {
    // Interrupted: the signal handler finishes the run.
    if (interrupted) await new Promise(() => undefined);
    error = (err as Error).stack ?? (err as Error).message;
    say(`bench failed: ${(err as Error).message}`);
  } finally {
    if (!interrupted) {
      say('stopping the API, the worker processes and the dev server ...');
      await stopAll();
    }
  }

  const rows = summaryRows({
    regions: ORCHESTRA_WAVES.flat().length,
    orchestration,
    approvals,
    parked: runs('p3') ? parked : undefined,
    starts: runs('p6') ? starts : undefined,
  });
  const finished = new Date();
  const out = {
    bench: 'engine',
    startedAt: runStarted.toISOString(),
    finishedAt: finished.toISOString(),
    wallSeconds: (finished.getTime() - runStarted.getTime()) / 1000,
    commit,
    machine: { ...machine, loadAverageAtEnd: loadAverage() },
    options,
    timings,
    workers: workerInfo,
    summary: rows,
    shapes: { ...orchestration.shapes, parked: approvals.shape },
    p1p4: { p1: orchestration.p1, p4: orchestration.p4 },
    p2: { runs: approvals.runs, events: approvals.events },
    p3: parked,
    p6: starts,
    ...(error ? { error } : {}),
  };
  const resultsDir = join(ROOT, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `engine-${runStarted.toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);

  const shape = orchestration.shapes.p1;
  process.stdout.write(
    [
      '',
      `engine vs bare Temporal (issue 12), ${options.quick ? 'quick' : 'full'} run at ${commit}: ${machine.cores} cores, ` +
        `load average ${machine.loadAverageBeforeStart.join(' ')} before start and ${loadAverage().join(' ')} at the end; ` +
        `wall time ${out.wallSeconds.toFixed(0)}s`,
      `P1/P4 ${options.reps} rep(s); P2 ${options.approvals} approvals; P3 ${options.parked.join(' and ')} parked; ` +
        `P6 ${options.startsReps} x ${options.startsSeconds}s with ${options.callers} callers; medians of the repetitions`,
      ...(shape
        ? [
            `bare P1 twin: ${shape.waves.map((w) => w.children).join('/')} children running ` +
              `${shape.waves.map((w) => w.child.reduce((a, b) => a + b, 0)).join('/')} activities each, parent batches ` +
              `${JSON.stringify(shape.before)}`,
          ]
        : []),
      '',
      table(rows),
      '',
      ...(error ? [`THE RUN FAILED (the table holds what was measured before): ${error.split('\n')[0]}`] : []),
      `raw results: ${relative(process.cwd(), file)}`,
      '',
    ].join('\n'),
  );
  // Kept for its logs when the run failed, or when asked to.
  if (options.keep || error) say(`data dir kept: ${dataDir} (logs in ${logDir})`);
  else await rm(dataDir, { recursive: true, force: true });
  process.exit(error ? 1 : 0);
}

void main();
