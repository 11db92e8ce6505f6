// A whole engine for one acceptance test, built from the real parts: the shared Temporal dev server, a real
// fleetd with instance processes, the real API over HTTP, and the worker either in this process or as the real
// entry point (workers/orchestrator.ts) in a child process that a test can kill.
//
// Region names and task queues carry a per-engine suffix, so test files running in parallel never pick up each
// other's tasks.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import { afterEach, inject } from 'vitest';
import { type AppOptions, createApp } from '../../api/app';
import { hashToken, type Role, TokenAuthenticator } from '../../api/auth';
import type { AppRouter } from '../../api/routers';
import { type DemoBehaviour, publishDemoVersion, seedDemoArtifacts } from '../../demo/seed';
import { ServiceCatalog } from '../../domain/catalog';
import { FleetDaemon } from '../../fleet/fleetd';
import { loadOrCreateAuditSigningKey } from '../../providers/audit/signing-key';
import { SqlAuditStore } from '../../providers/audit/sql-audit-store';
import { ReleaseChanges } from '../../api/changes';
import { ArtifactUrlSigner, loadOrCreateArtifactUrlKey } from '../../providers/artifacts/artifact-urls';
import { LocalArtifactStore } from '../../providers/artifacts/local-artifact-store';
import { generateSigningKey } from '../../providers/artifacts/signing';
import { FileTrustStore, type TrustFile } from '../../providers/artifacts/trust-store';
import { ArtifactVerifier } from '../../providers/artifacts/verifier';
import { CalendarStore } from '../../providers/calendar-store';
import { type AesGcmPayloadCodec, isEncryptedPayload } from '../../providers/codec/encryption-codec';
import { payloadEncryption } from '../../providers/codec/payload-encryption';
import { generatePayloadKeyEntry, PayloadKeysEnv } from '../../providers/codec/payload-keys';
import { dataPaths } from '../../providers/data-paths';
import { DECISION_PUBLIC_KEYS, DecisionSigner, loadPublicKeys } from '../../providers/keys/decision-keys';
import { parseEnv } from '../../providers/env';
import { FileConfigStore } from '../../providers/config-store/file-config-store';
import { VersionLedger } from '../../providers/config-store/version-ledger';
import { DriftAckStore } from '../../providers/config-store/drift-acks';
import { LocalFleetTarget } from '../../providers/fleet/local-fleet';
import { ExecFleetTarget } from '../../providers/fleet/exec-fleet';
import { FleetRouter } from '../../providers/fleet/fleet-router';
import type { DeployRequest } from '../../providers/fleet/fleet-target';
import { FleetMetricsSource } from '../../providers/metrics/fleet-metrics';
import { WebhookNotifier } from '../../providers/notify/webhook-notifier';
import { openDatabase } from '../../providers/sql/database';
import { createDatabaseResolver, databaseUrlVariable } from '../../providers/sql/resolver';
import { createEngineWorkers, runWorkers } from '../../workers/engine-workers';
import { createTestDatabase, dropTestDatabase } from './postgres';
import { killOnExit, killOnExitUnder } from './process-cleanup';
import { waitUntil } from './wait';
import { quietRuntime } from './quiet-runtime';

export { waitUntil };

export type ReleaseView = inferRouterOutputs<AppRouter>['release']['get'];

const ROOT = resolve(__dirname, '..', '..');

/** How long a worker process may take to start polling (see startWorkerProcess); sized for a loaded machine. */
const WORKER_READY_MS = 90_000;

/**
 * The canary settings of a test service (a test that sets its own steps spreads these in). Latency judgement is
 * unit-tested; here a busy test machine must not fail canaries on a few slow requests. The sequential judge (the
 * default) looks every second after a 1 s warm-up; a short test bake at 30 rps can show a healthy canary within 20
 * points of its baseline, which is what these tests need to pass.
 */
export const TEST_CANARY = {
  steps: [{ percent: 50 }],
  analysis: { minRequests: 10, minLatencyIncreaseMs: 1000 },
  sequential: { minRequests: 10, maxErrorRateIncrease: 0.2, minLatencySamples: 10, minMedianSlowdown: 10 },
  lookSeconds: 1,
  warmupSeconds: 1,
};

export const PRINCIPALS: Record<string, Role[]> = {
  ci: ['pipeline'],
  // Both starts and approves releases: separation of duties must still stop her approving her own.
  dana: ['pipeline', 'approver'],
  alice: ['approver'],
  bob: ['approver'],
  sam: ['sre', 'operator'],
  olga: ['operator'],
  sid: ['sre'],
  viewer: ['viewer'],
  // Monitoring's token: may post alerts and nothing else.
  alertmanager: ['alerter'],
  // The token of a system that runs external checks (contract tests, ITSM): reports their results, nothing else.
  'contract-ci': ['checker'],
  admin: ['admin'],
};

/** Credentials for AWS emulators (moto_server), which accept any. */
export const TEST_AWS_CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };

export interface EngineOptions {
  /** Waves of short region names; each gets the engine's suffix. Default [['a'], ['b', 'c']] in production. */
  waves?: string[][];
  /** Environments (in promotion order) with their waves; overrides `waves`. */
  environments?: { name: string; waves: string[][]; fleet?: 'local' }[];
  /** Extra catalog fields of the service (canary, approvals, onFreeze, ...), merged over test defaults. */
  service?: Record<string, unknown>;
  /**
   * More services in the catalog (say, one the service depends on), their regions suffixed like the service's; the
   * fleet does not run them: a test writes what they run into the ledger.
   */
  otherServices?: {
    name: string;
    environments: { name: string; waves: string[][] }[];
    /**
     * Runs on the engine's fleet beside the service (1.0.0 everywhere, released like it, through a coordinator of
     * its own): its name gets the engine's suffix (engine.serviceName(name)), as do the names in its dependsOn.
     */
    fleet?: boolean;
    dependsOn?: string[];
  }[];
  bakeSeconds?: number;
  /**
   * How the service deploys: fleetd's driver (default), or the exec driver running test/fixtures/exec-fleet/
   * fleetd-step.mjs, which drives the same fleetd through its control API as a team's script would.
   */
  fleet?: 'local' | 'exec' | 'ssm';
  /**
   * With fleet 'ssm': the SSM double runs the shipped documents on one host per region (test/support/ssm-hosts.ts);
   * with `s3`, hosts fetch artifacts from presigned URLs of that bucket instead of the API's signed URLs.
   */
  ssm?: { s3?: { endpoint: string; bucket: string } };
  /** With fleet 'exec': the step timeout, and EXEC_HANG_ONCE for the scripts (see fleetd-step.mjs). */
  exec?: { timeoutSeconds?: number; hangOnceFile?: string };
  /** Where the worker runs: in this process (fast), as a child process (killable), or not at all. */
  worker?: 'in-process' | 'process' | 'none';
  instancesPerRegion?: number;
  loadRps?: number;
  /** How long fleetd keeps loading a region after its last change (fleet/fleetd.ts loadIdleSeconds). */
  loadIdleSeconds?: number;
  /** With RECORD_HISTORIES=<set>, save every workflow history of this engine under test/fixtures/histories/<set>/<record>. */
  record?: string;
  /** Short names of the regions whose agents run from the start (default: all); see startRegionAgent. */
  agents?: string[];
  /** A Slack-compatible webhook the engine notifies. */
  webhookUrl?: string;
  /** Options of the engine's API (logger, rate limits, metrics). */
  api?: AppOptions;
  /** Encrypt payloads (a fresh key per engine) in the client, the workers and the API's codec endpoint. */
  encryption?: boolean;
}

export type TestEngine = Awaited<ReturnType<typeof startTestEngine>>;

export async function startTestEngine(options: EngineOptions = {}) {
  quietRuntime();
  const suffix = randomBytes(4).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), `engine-${suffix}-`));
  // The fleet's instances and the worker process die with this test process, even when close() never runs.
  const releaseDir = killOnExitUnder(dir);
  const paths = dataPaths(join(dir, 'data'));
  const named = (wave: string[]) => wave.map((name) => `${name}-${suffix}`);
  const environments = (
    options.environments ?? [{ name: 'production', waves: options.waves ?? [['a'], ['b', 'c']] }]
  ).map((env) => ({
    name: env.name,
    database: true,
    waves: env.waves.map(named),
    ...(env.fleet ? { fleet: env.fleet } : {}),
  }));
  const waves = environments.flatMap((env) => env.waves);
  const regions = waves.flat();
  const releaseTaskQueue = `releases-${suffix}`;
  // A service name of its own: the coordinator is one per service, and test files run in parallel.
  const service = `hello-${suffix}`;
  // Services of the fleet besides the service have names of their own too; names in dependsOn follow them.
  const fleetServices = (options.otherServices ?? []).filter((o) => o.fleet);
  const serviceName = (name: string) =>
    name === 'hello' ? service : fleetServices.some((o) => o.name === name) ? `${name}-${suffix}` : name;
  const others = fleetServices.map((other) => ({
    name: serviceName(other.name),
    regions: [...new Set(other.environments.flatMap((env) => env.waves.flat().map((r) => `${r}-${suffix}`)))],
  }));
  const catalog = ServiceCatalog.parse({
    services: [
      {
        name: service,
        fleet:
          options.fleet === 'exec'
            ? execFleetSpec(options.exec?.timeoutSeconds)
            : options.fleet === 'ssm'
              ? {
                  driver: 'ssm',
                  // The hosts' hooks deploy through fleetd, which starts a same-age baseline next to each canary.
                  sameAgeBaseline: true,
                  ...(options.ssm?.s3 ? { artifactBucket: { bucket: options.ssm.s3.bucket } } : {}),
                }
              : 'local',
        bakeSeconds: options.bakeSeconds ?? 2,
        canary: TEST_CANARY,
        smokeTest: { requests: 5 },
        approvals: { timeoutSeconds: 120 },
        signing: { required: true },
        environments,
        ...options.service,
        ...(Array.isArray(options.service?.dependsOn)
          ? { dependsOn: (options.service.dependsOn as string[]).map(serviceName) }
          : {}),
      },
      ...(options.otherServices ?? []).map((other) => ({
        name: serviceName(other.name),
        environments: other.environments.map((env) => ({ name: env.name, waves: env.waves.map(named) })),
        ...(other.dependsOn ? { dependsOn: other.dependsOn.map(serviceName) } : {}),
        ...(other.fleet
          ? {
              fleet: 'local',
              bakeSeconds: options.bakeSeconds ?? 2,
              canary: TEST_CANARY,
              smokeTest: { requests: 5 },
              approvals: { timeoutSeconds: 120 },
              signing: { required: true },
            }
          : {}),
      })),
    ],
  });
  const catalogFile = join(dir, 'catalog.json');
  await writeFile(catalogFile, JSON.stringify(catalog, null, 2));

  const artifacts = new LocalArtifactStore(paths.artifacts);
  // The service only releases artifacts signed by this engine's key, as in production.
  const signingKey = generateSigningKey();
  const trustedKeysFile = join(dir, 'trusted-keys.json');
  await writeFile(
    trustedKeysFile,
    JSON.stringify({
      keys: [{ publicKey: signingKey.publicKeyPem, services: [service, ...others.map((o) => o.name)] }],
    } satisfies TrustFile),
  );
  await seedDemoArtifacts(artifacts, { service, signingKeyPem: signingKey.privateKeyPem });
  for (const other of others) {
    await publishDemoVersion(
      artifacts,
      '1.0.0',
      { greeting: 'hello', failureRate: 0, latencyMs: 5 },
      { service: other.name, signingKeyPem: signingKey.privateKeyPem },
    );
  }
  const verifier = new ArtifactVerifier(artifacts, new FileTrustStore(trustedKeysFile));

  // Real PostgreSQL: a database for the audit trail and one per environment for the service's schema migrations,
  // handed to the worker the way production does (environment variables).
  const databaseNames = [
    `eng_${suffix}_audit`,
    ...environments.map((env) => `eng_${suffix}_${env.name.replace(/-/g, '_')}`),
  ];
  const [auditUrl, ...environmentUrls] = await Promise.all(databaseNames.map((name) => createTestDatabase(name)));
  const databaseEnv: Record<string, string> = Object.fromEntries(
    environments.map((env, i) => [databaseUrlVariable(service, env.name), environmentUrls[i] as string]),
  );
  const databases = createDatabaseResolver({ env: databaseEnv, dataDir: paths.root });
  const auditDb = await openDatabase({ url: auditUrl as string });
  // The worker's checkpoint signing key, in the file a worker process of this engine is given too.
  const auditSigningKeyFile = join(dir, 'audit-signing.key');
  const auditSigner = loadOrCreateAuditSigningKey(auditSigningKeyFile);
  const auditTrail = new SqlAuditStore(auditDb, { signer: auditSigner });
  const configStore = new FileConfigStore(paths.configStore);
  const ledger = new VersionLedger(configStore);
  const calendar = new CalendarStore(configStore);
  const driftAcks = new DriftAckStore(configStore);
  const fleetd = new FleetDaemon({
    dataDir: paths.fleet,
    artifacts,
    regions: [
      ...regions.map((region) => ({ service, region })),
      ...others.flatMap((other) => other.regions.map((region) => ({ service: other.name, region }))),
    ],
    initialVersions: Object.fromEntries([service, ...others.map((o) => o.name)].map((name) => [name, '1.0.0'])),
    instancesPerRegion: options.instancesPerRegion ?? 1,
    // Canary analysis needs traffic: ~30 requests per version in a 2s bake at 50%, against a minimum of 10.
    // No worker, no release: traffic would only cost the machine (canaries and smoke tests need it, nothing else).
    loadRps: options.loadRps ?? (options.worker === 'none' ? 0 : 30),
    // Traffic while a region runs a canary, and for 20s after any change (smoke tests, watch windows); none while
    // the engine starts or waits (measured: a quarter of a core per idle engine at 30 rps over three regions).
    loadIdleSeconds: options.loadIdleSeconds ?? 20,
    log: () => undefined,
  });
  const fleetStarted = await fleetd.start();
  const fleet = new LocalFleetTarget(fleetStarted.controlUrl, { tokenFile: fleetStarted.controlTokenFile });

  // Payload encryption as production configures it (PAYLOAD_KEYS), with a key of this engine's own.
  const keysEnv: Record<string, string> = options.encryption ? { PAYLOAD_KEYS: generatePayloadKeyEntry('test-1') } : {};
  const encryption = payloadEncryption(parseEnv(PayloadKeysEnv, keysEnv));

  const temporalAddress = inject('temporalAddress');
  const workflowBundlePath = inject('workflowBundlePath');
  // The API's signing key (the run's), and the public keys the bundle was built to trust.
  const signer = DecisionSigner.fromPem(inject('decisionSigningKeyPem'), 'default');
  const trustedKeys = inject('trustedDecisionKeys');
  const publicKeysFile = join(dir, 'decision-public-keys.json');
  await writeFile(publicKeysFile, JSON.stringify({ keys: trustedKeys }), { mode: 0o600 });
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, dataConverter: encryption.dataConverter });

  const tokens: Record<string, string> = {};
  const authenticator = new TokenAuthenticator({
    tokens: Object.entries(PRINCIPALS).map(([principal, roles]) => {
      tokens[principal] = `test-${principal}-${randomBytes(12).toString('hex')}`;
      return { sha256: hashToken(tokens[principal]), principal, roles };
    }),
  });
  const artifactUrlKeyFile = join(dir, 'artifact-url.key');
  const artifactUrlKey = loadOrCreateArtifactUrlKey(artifactUrlKeyFile);
  // The console's change stream, closed before the Temporal connection (see ReleaseChanges.close).
  const changes = new ReleaseChanges(client);
  const app = createApp(
    // The API reads the fleet through its own driver, as api/main.ts builds it (the drift check).
    {
      temporal: client,
      changes,
      catalog,
      releaseTaskQueue,
      authenticator,
      signer,
      artifacts,
      calendar,
      ledger,
      fleet: new LocalFleetTarget(fleetStarted.controlUrl, { tokenFile: fleetStarted.controlTokenFile }),
      driftAcks,
    },
    {
      // A 500 is a bug: its cause goes to the test's output, so a failure seen once (in CI) can be diagnosed.
      onServerError: (path, err) => console.error(`[test engine] server error in ${path ?? 'a request'}:`, err),
      ...options.api,
      codec: { codec: encryption.codec },
      // Hosts (the exec driver's scripts) fetch artifacts by the URLs the worker signs.
      artifactDownloads: { signer: new ArtifactUrlSigner(artifactUrlKey, ''), blobs: artifacts },
    },
  );
  const server: Server = await new Promise((done) => {
    const s = app.listen(0, '127.0.0.1', () => done(s));
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // ---- the worker ----
  let inProcess: { workers: Worker[]; run: Promise<void>; connection: NativeConnection } | undefined;
  const extraAgents: { workers: Worker[]; run: Promise<void>; connection: NativeConnection }[] = [];
  // The exec driver's scripts find fleetd through the catalog's passEnv; the canary's numbers come from them too.
  const execEnv = {
    PATH: process.env.PATH,
    FLEET_URL: fleetStarted.controlUrl,
    FLEET_TOKEN_FILE: fleetStarted.controlTokenFile,
    ...(options.exec?.hangOnceFile ? { EXEC_HANG_ONCE: options.exec.hangOnceFile } : {}),
  };
  // The SSM parts (and the AWS SDK they load) only for the tests that deploy through SSM: every acceptance file
  // imports this module.
  const ssm =
    options.fleet === 'ssm'
      ? await Promise.all([
          import('../../providers/fleet/ssm-fleet'),
          import('../../providers/artifacts/s3-artifact-mirror'),
          import('./ssm-hosts'),
        ])
      : undefined;
  const ssmHosts = ssm
    ? await ssm[2].startSsmHosts({
        dir,
        service,
        regions,
        fleetUrl: fleetStarted.controlUrl,
        fleetTokenFile: fleetStarted.controlTokenFile,
        serving: await (async () => {
          const digest = (await artifacts.resolve(service, '1.0.0'))?.digest ?? '';
          return { version: '1.0.0', digest, bytes: await artifacts.read(digest) };
        })(),
      })
    : undefined;
  const s3 = options.ssm?.s3;
  // One mirror (and one S3 client) for the engine, as a region agent builds it once.
  const mirror =
    s3 && ssm
      ? new ssm[1].S3ArtifactMirror(
          ssm[1].s3Client({ region: 'us-east-1', endpoint: s3.endpoint, credentials: TEST_AWS_CREDENTIALS }),
          { bucket: s3.bucket },
          artifacts,
        )
      : undefined;
  const artifactUrl = (request: DeployRequest) =>
    mirror ? mirror.url(request) : new ArtifactUrlSigner(artifactUrlKey, apiUrl).url(request);
  const regionFleet =
    ssmHosts && ssm
      ? new FleetRouter(
          catalog,
          {
            local: () => fleet,
            ssm: (settings) =>
              new ssm[0].SsmFleetTarget({
                client: ssmHosts.client,
                pollIntervalMs: 100,
                artifactUrl,
                // Where each region's traffic enters (a load balancer in production): fleetd's router for the region.
                endpoints: Object.fromEntries(
                  fleetStarted.routers.filter((r) => r.service === service).map((r) => [r.region, r.url]),
                ),
                sameAgeBaseline: settings.sameAgeBaseline,
              }),
          },
          'the test worker',
        )
      : options.fleet === 'exec'
        ? new FleetRouter(
            catalog,
            {
              local: () => fleet,
              exec: (settings) =>
                new ExecFleetTarget(settings, {
                  env: execEnv,
                  artifactUrl: (request) => new ArtifactUrlSigner(artifactUrlKey, apiUrl).url(request),
                }),
            },
            'the test worker',
          )
        : fleet;
  // SSM fleets take the canary's numbers from the metrics source (Prometheus in production): here, fleetd's counters.
  const regionDeps = { fleet: regionFleet, metrics: new FleetMetricsSource(ssmHosts ? fleet : regionFleet) };
  const served = options.agents
    ? options.agents.map((name) => `${name}-${suffix}`)
    : [...new Set([...regions, ...others.flatMap((o) => o.regions)])];
  let child: ChildProcess | undefined;

  async function startInProcessWorker() {
    const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
    const workers = await createEngineWorkers({
      connection: nativeConnection,
      trustedKeys,
      releaseTaskQueue,
      regions: served,
      releaseDeps: {
        config: configStore,
        artifacts,
        verifier,
        ledger,
        calendar,
        audit: auditTrail,
        databases,
        ...(options.webhookUrl ? { notifier: new WebhookNotifier({ url: options.webhookUrl, timeoutMs: 2000 }) } : {}),
        consoleUrl: `${apiUrl}/`,
        apiUrl,
      },
      regionDeps,
      workflowBundle: { codePath: workflowBundlePath },
      payloadCodec: encryption.codec,
    });
    inProcess = { workers, run: runWorkers(workers), connection: nativeConnection };
  }

  /** Starts the agent of a region that had none (as a region agent process would in production). */
  async function startRegionAgent(shortName: string) {
    const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
    const workers = await createEngineWorkers({
      connection: nativeConnection,
      trustedKeys,
      regions: [`${shortName}-${suffix}`],
      regionDeps,
      workflowBundle: { codePath: workflowBundlePath },
      payloadCodec: encryption.codec,
    });
    extraAgents.push({ workers, run: runWorkers(workers), connection: nativeConnection });
  }

  /** Whether a worker polls the release task queue now; with `pid`, only the worker of that process counts. */
  async function hasPollers(pid?: number): Promise<boolean> {
    const res = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: releaseTaskQueue },
      taskQueueType: 1,
    });
    return (res.pollers ?? []).some(
      (p) =>
        Date.now() - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < 5000 &&
        // A worker's default identity is <pid>@<host>.
        (pid === undefined || (p.identity ?? '').startsWith(`${pid}@`)),
    );
  }

  /** Starts workers/orchestrator.ts in a child process and waits until it polls. */
  async function startWorkerProcess() {
    const log = createWriteStream(join(dir, 'worker.log'), { flags: 'a' });
    child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'workers', 'orchestrator.ts')], {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: temporalAddress,
        RELEASE_TASK_QUEUE: releaseTaskQueue,
        CATALOG_FILE: catalogFile,
        DATA_DIR: paths.root,
        FLEET_URL: fleetStarted.controlUrl,
        FLEET_TOKEN_FILE: fleetStarted.controlTokenFile,
        ...(options.exec?.hangOnceFile ? { EXEC_HANG_ONCE: options.exec.hangOnceFile } : {}),
        ARTIFACT_URL_BASE: apiUrl,
        ARTIFACT_URL_KEY_FILE: artifactUrlKeyFile,
        TRUSTED_KEYS_FILE: trustedKeysFile,
        AUDIT_DATABASE_URL: auditUrl,
        AUDIT_SIGNING_KEY_FILE: auditSigningKeyFile,
        ...databaseEnv,
        WORKFLOW_BUNDLE_PATH: workflowBundlePath,
        DECISION_PUBLIC_KEYS_FILE: publicKeysFile,
        LOG_LEVEL: 'WARN',
        PAYLOAD_KEYS: undefined,
        PAYLOAD_KEYS_FILE: undefined,
        PAYLOAD_KEY_ID: undefined,
        ...keysEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = child;
    const release = killOnExit(started.pid);
    started.once('exit', release);
    // This process's output only: after a restart, worker.log still holds what the killed one said.
    let output = '';
    for (const stream of [started.stdout, started.stderr]) {
      stream?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
      stream?.pipe(log);
    }
    // Ready when this process says it polls and the server sees this process poll (a killed worker's polls stay
    // visible for a few seconds). Starting takes a few seconds on an idle machine and can take over 30 on a loaded
    // one, so the wait is bounded by a generous WORKER_READY_MS and ends at once if the process exits.
    const since = Date.now();
    try {
      await waitUntil(async () => {
        if (started.exitCode !== null || started.signalCode !== null) {
          throw new Error(`worker process exited (${started.exitCode ?? started.signalCode}) before it polled`);
        }
        return /orchestrator worker polling/.test(output) && (await hasPollers(started.pid));
      }, WORKER_READY_MS);
    } catch (err) {
      const tail = output.trimEnd().split('\n').slice(-10).join('\n  ');
      throw new Error(
        `worker process not ready after ${((Date.now() - since) / 1000).toFixed(1)}s: ${(err as Error).message}; ` +
          `its output:\n  ${tail || '(none)'}`,
      );
    }
  }

  /** SIGKILLs the worker process: no graceful shutdown, as when a machine dies. */
  async function killWorkerProcess() {
    const victim = child;
    if (!victim || victim.exitCode !== null) throw new Error('no worker process to kill');
    const exited = new Promise((done) => victim.once('exit', done));
    victim.kill('SIGKILL');
    await exited;
    child = undefined;
  }

  async function stopWorker() {
    for (const agent of extraAgents.splice(0)) {
      for (const worker of agent.workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await agent.run.catch(() => undefined);
      await agent.connection.close();
    }
    if (inProcess) {
      for (const worker of inProcess.workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await inProcess.run.catch(() => undefined);
      await inProcess.connection.close();
      inProcess = undefined;
    }
    if (child && child.exitCode === null) {
      const victim = child;
      const exited = new Promise((done) => victim.once('exit', done));
      victim.kill('SIGTERM');
      await exited;
    }
    child = undefined;
  }

  if ((options.worker ?? 'in-process') === 'in-process') await startInProcessWorker();
  else if (options.worker === 'process') await startWorkerProcess();

  /** A tRPC client over real HTTP, authenticated as `principal` (one of PRINCIPALS). */
  function trpc(principal: keyof typeof PRINCIPALS | undefined) {
    const token = principal ? tokens[principal] : undefined;
    return createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${apiUrl}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}) })],
    });
  }

  /** The release workflow's history as JSON events (what the Temporal UI shows). */
  async function history(workflowId: string) {
    const fetched = await client.workflow.getHandle(workflowId).fetchHistory();
    return fetched.events ?? [];
  }

  /** A raw HTTP call to a tRPC procedure, to see exactly what a curl-using pipeline sees. */
  async function rawCall(procedure: string, input: unknown, token?: string, method: 'POST' | 'GET' = 'POST') {
    const url =
      method === 'GET'
        ? `${apiUrl}/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`
        : `${apiUrl}/trpc/${procedure}`;
    const res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(method === 'POST' ? { body: typeof input === 'string' ? input : JSON.stringify(input) } : {}),
    });
    return {
      status: res.status,
      body: (await res.json()) as { error?: { message: string; data?: unknown }; result?: unknown },
    };
  }

  /** Polls release.get until the release has an outcome (defaults sized for a loaded two-core machine). */
  async function waitForOutcome(releaseId: string, timeoutMs = 90_000): Promise<ReleaseView> {
    return waitForStatus(releaseId, (s) => s.outcome !== undefined, timeoutMs);
  }

  /** Polls release.get until `predicate` holds; on timeout, says what the release was doing. */
  async function waitForStatus(releaseId: string, predicate: (s: ReleaseView) => boolean, timeoutMs = 60_000) {
    const api = trpc('viewer');
    let last: ReleaseView | undefined;
    try {
      await waitUntil(async () => {
        last = await api.release.get.query({ service, releaseId }).catch(() => last);
        return last !== undefined && predicate(last);
      }, timeoutMs);
    } catch (err) {
      const timeline = last?.timeline.map((e) => `  ${e.message}`).join('\n') ?? '  (no status)';
      throw new Error(`${(err as Error).message}; release ${releaseId} was at stage ${last?.stage}:\n${timeline}`);
    }
    return last as ReleaseView;
  }

  /** Packs, stores and signs (with this engine's trusted key) a version of the demo app with the given behaviour. */
  /** Publishes a new version with `behaviour`; refuses one that exists (e.g. a seeded demo version) rather than reuse it. */
  async function publish(version: string, behaviour: DemoBehaviour) {
    if (await artifacts.resolve(service, version)) {
      throw new Error(
        `${service}@${version} is already published (a demo version?); pick another version for this test`,
      );
    }
    return publishDemoVersion(artifacts, version, behaviour, { service, signingKeyPem: signingKey.privateKeyPem });
  }

  /** Publishes (signed by the engine's key) a version of another service of the fleet (see otherServices). */
  async function publishFor(name: string, version: string, behaviour: DemoBehaviour) {
    return publishDemoVersion(artifacts, version, behaviour, {
      service: serviceName(name),
      signingKeyPem: signingKey.privateKeyPem,
    });
  }

  /** The stable version of each region of a service (default: the engine's), in release order, per the fleet. */
  async function stableVersions(name?: string) {
    const of = name ? serviceName(name) : service;
    const where = of === service ? regions : (others.find((o) => o.name === of)?.regions ?? []);
    return Promise.all(where.map(async (region) => (await fleet.state({ service: of, region })).stableVersion));
  }

  /** The fleet's own log of what was done to this service, optionally for one release. */

  async function fleetEvents(requestId?: string) {
    const events = await fleet.events({ service });
    return requestId ? events.filter((e) => e.requestId === requestId) : events;
  }

  /** The fleet's log of what was done to another service of the engine (see otherServices). */
  async function fleetEventsOf(name: string) {
    return fleet.events({ service: serviceName(name) });
  }

  /** Saves the histories of every workflow of this engine's service, for the replay test (RECORD_HISTORIES=<set>). */
  async function recordHistories(set: string, scenario: string) {
    if (!/^v\d+$/.test(set))
      throw new Error(`RECORD_HISTORIES names the set to record into (v2, v3, ...), not "${set}"`);
    const dir = join(ROOT, 'test', 'fixtures', 'histories', set, scenario);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    // The public key the set's signed messages were made with: the replay bundle must trust it.
    const keysFile = join(dir, '..', DECISION_PUBLIC_KEYS);
    const known = await loadPublicKeys(keysFile).catch(() => ({}));
    await writeFile(keysFile, `${JSON.stringify({ keys: { ...known, ...signer.trustedKeys } }, null, 2)}\n`);
    const services = [service, ...others.map((o) => o.name)];
    const prefixes = services.flatMap((name) =>
      ['release', 'region-rollout', 'rollback', 'alert', 'incident-note'].map(
        (kind) => `WorkflowId STARTS_WITH "${kind}/${name}/"`,
      ),
    );
    const coordinators = services.map((name) => `WorkflowId = "service/${name}"`);
    const ownTypes = ['auditReadWorkflow', 'trainWorkflow'].map(
      (type) => `(WorkflowType = "${type}" AND TaskQueue = "${releaseTaskQueue}")`,
    );
    const query = [...prefixes, ...coordinators, ...ownTypes].join(' OR ');
    const executions: { workflowId: string; runId: string; startTime: Date }[] = [];
    for await (const execution of client.workflow.list({ query })) executions.push(execution);
    executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
    for (const execution of executions) {
      const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
      // (An alert record's id holds the alert's start time: no ':' in a file name.)
      const base = execution.workflowId.replaceAll(suffix, 'x').replaceAll('/', '__').replaceAll(':', '-');
      // A workflow that continued-as-new has one file per run, numbered in the order they started.
      const runs = executions.filter((e) => e.workflowId === execution.workflowId);
      const name = runs.length > 1 ? `${base}~run${runs.indexOf(execution) + 1}` : base;
      const json = historyToJSON(history);
      // Replays run without the engine's keys: an encrypted engine's histories are kept with their payloads opened
      // (what its workers saw). A payload sent in clear stays as it was sent.
      const opened = encryption.codec ? await openPayloads(json, encryption.codec) : json;
      await writeFile(join(dir, `${name}.json`), scrubHistory(opened));
    }
  }

  async function close() {
    if (options.record && process.env.RECORD_HISTORIES)
      await recordHistories(process.env.RECORD_HISTORIES, options.record);
    await stopWorker();
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    await changes.close();
    await ssmHosts?.close();
    await fleetd.stop();
    // Requests the API was still serving when its sockets were destroyed (a page closed mid-load) may have a Temporal
    // call waiting on the client's retry timer; a timer that fires after the connection closed throws from the SDK
    // ("Channel has been shut down", uncaught). Such calls end within the client's retry budget, so the connection
    // closes once they had their time, without holding up the test (the timer does not keep the process alive).
    setTimeout(() => void connection.close().catch(() => undefined), 30_000).unref();
    await databases.close();
    await auditDb.close();
    await Promise.all(databaseNames.map((name) => dropTestDatabase(name)));
    await rm(dir, { recursive: true, force: true });
    releaseDir();
  }

  return {
    dir,
    suffix,
    service,
    regions,
    waves,
    catalog,
    releaseTaskQueue,
    apiUrl,
    tokens,
    client,
    artifacts,
    publish,
    publishFor,
    /** The full name of a service of this engine ('hello' is the engine's own; see otherServices). */
    serviceName,
    signingKey,
    /** Signs as the API does (tests that play the attacker use it to show what a real signature is worth). */
    signer,
    auditTrail,
    /** The audit trail's database, for tests that tamper with it as a database superuser would. */
    auditDb,
    auditSigner,
    /** The database of an environment, where the service's migrations run. */
    database: (environment: string) => databases(service, environment),
    /** The config store the worker reads environment config (and keeps the ledger and calendar) in. */
    configStore,
    ledger,
    calendar,
    driftAcks,
    fleet,
    fleetEvents,
    fleetEventsOf,
    stableVersions,
    fleetd,
    /** With fleet 'ssm': the SSM double and its hosts. */
    ssmHosts,
    /** fleetd's control API and the file holding its bearer token. */
    fleetUrl: fleetStarted.controlUrl,
    fleetTokenFile: fleetStarted.controlTokenFile,
    routers: fleetStarted.routers,
    trpc,
    rawCall,
    history,
    waitForOutcome,
    waitForStatus,
    startInProcessWorker,
    startRegionAgent,
    startWorkerProcess,
    killWorkerProcess,
    stopWorker,
    close,
  };
}

/** The exec fleet of the tests: every step runs fleetd-step.mjs, which drives fleetd over its control API. */
function execFleetSpec(timeoutSeconds = 30) {
  const step = [process.execPath, join(ROOT, 'test', 'fixtures', 'exec-fleet', 'fleetd-step.mjs')];
  return {
    driver: 'exec',
    commands: { deploy: step, setTraffic: step, promote: step, revert: step, status: step, metrics: step },
    timeoutSeconds,
    // fleetd starts a same-age baseline next to each canary, whoever asks it to deploy.
    sameAgeBaseline: true,
    passEnv: ['FLEET_URL', 'FLEET_TOKEN_FILE', 'EXEC_HANG_ONCE'],
  };
}

/** The message the Temporal UI shows for a release that ended in failure (its WorkflowExecutionFailed event). */
export async function failureMessage(engine: TestEngine, releaseId: string): Promise<string | null | undefined> {
  const workflowId = `release/${engine.service}/${releaseId}`;
  // A release has its outcome a moment before it closes (its last audit records and notifications): wait for the end.
  await engine.client.workflow
    .getHandle(workflowId)
    .result()
    .catch(() => undefined);
  const events = await engine.history(workflowId);
  return events.at(-1)?.workflowExecutionFailedEventAttributes?.failure?.message;
}

/**
 * Removes what belongs to this machine from a recorded history (worker identities hold the hostname, stack traces
 * hold the checkout's path); replay needs neither. Written compact.
 */
/** The history JSON with every encrypted payload replaced by the payload it seals. */
async function openPayloads(json: string, codec: AesGcmPayloadCodec): Promise<string> {
  const open = async (value: unknown): Promise<unknown> => {
    if (Array.isArray(value)) return Promise.all(value.map(open));
    if (!value || typeof value !== 'object') return value;
    const record = value as Record<string, unknown>;
    const metadata = record.metadata as Record<string, string> | undefined;
    if (metadata && typeof metadata === 'object' && 'data' in record) {
      const payload = {
        metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
        data: Buffer.from(typeof record.data === 'string' ? record.data : '', 'base64'),
      };
      if (isEncryptedPayload(payload)) {
        const [plain] = await codec.decode([payload]);
        return {
          metadata: Object.fromEntries(
            Object.entries(plain?.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
          ),
          data: Buffer.from(plain?.data ?? []).toString('base64'),
        };
      }
    }
    const entries = await Promise.all(Object.entries(record).map(async ([k, v]) => [k, await open(v)] as const));
    return Object.fromEntries(entries);
  };
  return JSON.stringify(await open(JSON.parse(json)));
}

function scrubHistory(json: string): string {
  return JSON.stringify(JSON.parse(json), (key, value: unknown) => {
    if (key === 'identity' && typeof value === 'string') return 'test-worker';
    // Sticky task queues are named <pid>@<hostname> of the recording machine.
    if (key === 'name' && typeof value === 'string' && /^\d+@/.test(value)) return 'sticky@test-host';
    return typeof value === 'string' ? value.replaceAll(ROOT, '<repo>') : value;
  });
}

/** The body a region's router returns for GET /. */
export async function hitRouter(url: string): Promise<string> {
  const res = await fetch(`${url}/`);
  return res.text();
}

/**
 * One engine per test in a describe block, closed after each test: `const engines = useEngines();` then
 * `const engine = await engines.start({...})`.
 */
export function useEngines() {
  const started: TestEngine[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((engine) => engine.close()));
  });
  return {
    start: async (options: EngineOptions = {}) => {
      const engine = await startTestEngine(options);
      started.push(engine);
      return engine;
    },
  };
}
