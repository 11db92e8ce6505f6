// The dev stack behind `npm start`: seeds the demo, then starts and supervises the Temporal dev server (SQLite
// file under .data, Web UI, search attributes registered), fleetd (the local demo fleet), the orchestrator worker
// and the API. A process that dies is restarted; Ctrl-C stops everything; the next start resumes where it was.
// Payloads are encrypted by default with a dev key generated once under .data, and the Web UI decodes them through
// the API's codec endpoint (see README, "Encrypted payloads").
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { payloadEncryption } from '../providers/codec/payload-encryption';
import { PayloadKeysEnv } from '../providers/codec/payload-keys';
import { dataPaths } from '../providers/data-paths';
import { decisionKeyPaths } from '../providers/keys/decision-keys';
import { readControlToken } from '../providers/fleet/control-token';
import { repairDataModes, restrictUmask } from '../providers/file-modes';
import { BooleanVar, parseEnv, PortVar } from '../providers/env';
import { RELEASE_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { DEV_PRINCIPALS, ensureDevPayloadKeys, seedDemo } from './seed-demo';

const ROOT = resolve(__dirname, '..');

const StackEnv = z.object({
  TEMPORAL_CLI: z.string().min(1, 'is set by scripts/start.mjs; run `npm start`'),
  DATA_DIR: z.string().min(1).default('.data'),
  HOST: z.string().min(1).default('127.0.0.1'),
  TEMPORAL_PORT: PortVar.default(7233),
  TEMPORAL_UI_PORT: PortVar.default(8233),
  API_PORT: PortVar.default(7300),
  FLEET_PORT: PortVar.default(7310),
  FLEET_ROUTER_BASE_PORT: PortVar.default(7311),
  WORKER_METRICS_PORT: PortVar.default(7320),
  CATALOG_FILE: z.string().min(1).default('config/catalog.json'),
  /** Encrypt payloads (with PAYLOAD_KEYS / PAYLOAD_KEYS_FILE if set, else a dev key under DATA_DIR); false: clear. */
  PAYLOAD_ENCRYPTION: BooleanVar.default(true),
  ...PayloadKeysEnv.shape,
});
type StackEnv = z.infer<typeof StackEnv>;

function say(message: string) {
  const time = new Date().toTimeString().slice(0, 8);
  process.stdout.write(`${time} ${message}\n`);
}

async function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, host, () => server.close(() => done(true)));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, isDead?: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isDead?.()) throw new Error(`${what}: the process exited while starting`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} was not ready after ${timeoutMs / 1000}s`);
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  return res.ok;
}

/** A supervised child process: logs to .data/logs/<name>.log, restarted with backoff when it dies. */
class Supervised {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private stopping = false;
  private restarts = 0;
  private startedAt = 0;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logPath: string,
    private readonly pidPath: string,
    /** Whether the process started last (its pid is passed) is ready: answers, or polls its task queue. */
    private readonly ready: (pid: number | undefined) => Promise<boolean>,
    private readonly readyTimeoutMs: number,
  ) {}

  get pid() {
    return this.child?.pid;
  }

  get exited() {
    return !this.child || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  async start(): Promise<void> {
    this.log ??= createWriteStream(this.logPath, { flags: 'a' });
    this.log.write(`\n---- ${new Date().toISOString()} starting ${this.name} ----\n`);
    // Detached: a Ctrl-C in the terminal reaches only the supervisor, which then stops children in order.
    const child = spawn(this.command, this.args, {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.startedAt = Date.now();
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    if (child.pid) await writeFile(this.pidPath, `${child.pid}\n`);
    child.once('exit', (code, signal) => void this.onExit(code, signal));
    await waitFor(
      this.name,
      () => this.ready(child.pid),
      this.readyTimeoutMs,
      () => this.exited,
    );
  }

  private async onExit(code: number | null, signal: NodeJS.Signals | null) {
    await rm(this.pidPath, { force: true });
    if (this.stopping) return;
    // A process that ran for a minute has recovered; start counting restarts again.
    if (Date.now() - this.startedAt > 60_000) this.restarts = 0;
    this.restarts += 1;
    const delay = Math.min(30_000, 1000 * 2 ** (this.restarts - 1));
    say(`${this.name} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000}s. Last lines of its log:`);
    for (const line of tail(this.logPath, 8)) say(`  | ${line}`);
    await new Promise((r) => setTimeout(r, delay));
    if (this.stopping) return;
    try {
      await this.start();
      say(`${this.name} is back (pid ${this.child?.pid})`);
    } catch (err) {
      say(`${this.name} did not come back: ${(err as Error).message}`);
    }
  }

  /** No more restarts: the stack is shutting down. */
  markStopping() {
    this.stopping = true;
  }

  /** Last resort when the supervisor itself exits: synchronous, no waiting. */
  killNow() {
    if (this.child && !this.exited) this.child.kill('SIGTERM');
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && !this.exited) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    }
    await rm(this.pidPath, { force: true });
    this.log?.end();
  }
}

function tail(path: string, lines: number): string[] {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

/** Stops processes a previous run left behind (e.g. when its supervisor was killed), found by their pid files. */
async function reapLeftovers(pidDir: string) {
  for (const name of ['api', 'worker', 'fleetd', 'temporal']) {
    const pidPath = join(pidDir, `${name}.pid`);
    const pid = Number((await readFile(pidPath, 'utf8').catch(() => '')).trim());
    if (!pid) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // not running (or no /proc): nothing to reap
    }
    if (cmdline.includes(ROOT) || cmdline.includes('start-dev')) {
      say(`stopping ${name} left over from a previous run (pid ${pid})`);
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      for (let i = 0; i < 40 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 250));
    }
    await rm(pidPath, { force: true });
  }
}

function cliSearchAttributeType(type: string): string {
  return type
    .toLowerCase()
    .split('_')
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');
}

async function main() {
  // Before anything is written: every file of the stack, and of the processes it starts (the Temporal dev server's
  // sqlite file included), is then the owner's only.
  restrictUmask();
  const env = parseEnv(StackEnv);
  const paths = dataPaths(resolve(ROOT, env.DATA_DIR));
  const repaired = await repairDataModes(paths.root);
  if (repaired > 0)
    say(`made ${repaired} files and folders under ${relative(ROOT, paths.root) || '.'} readable by their owner only`);
  const pidDir = join(paths.root, 'pids');
  await Promise.all(
    [paths.logs, pidDir, join(paths.temporalDb, '..'), paths.fleet].map((d) => mkdir(d, { recursive: true })),
  );
  await reapLeftovers(pidDir);

  const ports: [string, number][] = [
    ['TEMPORAL_PORT', env.TEMPORAL_PORT],
    ['TEMPORAL_UI_PORT', env.TEMPORAL_UI_PORT],
    ['API_PORT', env.API_PORT],
    ['FLEET_PORT', env.FLEET_PORT],
    ['WORKER_METRICS_PORT', env.WORKER_METRICS_PORT],
  ];
  for (const [name, port] of ports) {
    if (!(await portIsFree(port, env.HOST))) {
      throw new Error(
        `port ${port} (${name}) on ${env.HOST} is already in use. Is another \`npm start\` running? Stop it, or set ${name} to a free port.`,
      );
    }
  }

  say('seeding the demo artifacts (hello@1.0.0, 1.1.0, 1.2.0, 1.3.0) ...');
  const { credentials, created, decisionKeysCreated } = await seedDemo(paths.root);
  if (decisionKeysCreated) {
    const { signingKey } = decisionKeyPaths(paths.root);
    say(`generated the API's decision-signing key in ${relative(ROOT, signingKey)} (git-ignored, owner-only)`);
  }
  if (created) say(`generated dev API tokens in ${relative(ROOT, paths.devCredentials)} (local only, git-ignored)`);

  // Keys set by the caller win; otherwise a dev key generated once. The same keys reach the worker, the API and
  // this process's own client.
  const keysEnv: Record<string, string> = {};
  if (env.PAYLOAD_ENCRYPTION && !env.PAYLOAD_KEYS && !env.PAYLOAD_KEYS_FILE) {
    const devKeys = await ensureDevPayloadKeys(paths);
    if (devKeys.created) say(`generated a dev payload encryption key in ${relative(ROOT, devKeys.file)} (git-ignored)`);
    keysEnv.PAYLOAD_KEYS_FILE = devKeys.file;
  }
  const childKeysEnv: NodeJS.ProcessEnv = env.PAYLOAD_ENCRYPTION
    ? keysEnv
    : { PAYLOAD_KEYS: undefined, PAYLOAD_KEYS_FILE: undefined, PAYLOAD_KEY_ID: undefined };
  const encryption = payloadEncryption(parseEnv(PayloadKeysEnv, { ...process.env, ...childKeysEnv }));
  const api = `http://${env.HOST}:${env.API_PORT}`;
  const uiOrigins = [`http://${env.HOST}:${env.TEMPORAL_UI_PORT}`];
  if (env.HOST === '127.0.0.1') uiOrigins.push(`http://localhost:${env.TEMPORAL_UI_PORT}`);
  // The Web UI can send none of our tokens, so its codec endpoint URL carries the viewer-only dev token of the
  // temporal-ui principal, and the API accepts such URL tokens from the UI's origin only (CODEC_URL_TOKENS).
  const uiCodecEndpoint = `${api}/codec/t/${credentials['temporal-ui']}`;

  const temporalAddress = `${env.HOST}:${env.TEMPORAL_PORT}`;
  const common: NodeJS.ProcessEnv = {
    ...process.env,
    ...childKeysEnv,
    DATA_DIR: paths.root,
    CATALOG_FILE: resolve(ROOT, env.CATALOG_FILE),
    TEMPORAL_ADDRESS: temporalAddress,
    FLEET_URL: `http://${env.HOST}:${env.FLEET_PORT}`,
  };
  const tsx = (entry: string) => ['--import', 'tsx', join(ROOT, entry)];
  const log = (name: string) => join(paths.logs, `${name}.log`);
  const pid = (name: string) => join(pidDir, `${name}.pid`);

  let temporalClient: Client | undefined;
  const temporal = () => {
    temporalClient ??= new Client({
      connection: Connection.lazy({ address: temporalAddress }),
      dataConverter: encryption.dataConverter,
    });
    return temporalClient;
  };
  // A process polls when the server lists a poller with its identity (a worker's default identity is <pid>@<host>).
  // Matching the pid matters after a restart: the killed worker's poller entry lingers for a minute, so "any poller"
  // would announce the new worker back long before it polls.
  const polls = async (taskQueue: string, pid: number | undefined) => {
    if (pid === undefined) return false;
    const res = await temporal().workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // workflow task queue
    });
    return (res.pollers ?? []).some((poller) => (poller.identity ?? '').startsWith(`${pid}@`));
  };

  const processes = [
    new Supervised(
      'temporal',
      env.TEMPORAL_CLI,
      [
        'server',
        'start-dev',
        '--ip',
        env.HOST,
        '--port',
        String(env.TEMPORAL_PORT),
        '--ui-port',
        String(env.TEMPORAL_UI_PORT),
        '--db-filename',
        paths.temporalDb,
        '--log-level',
        'warn',
        ...(encryption.codec ? ['--ui-codec-endpoint', uiCodecEndpoint] : []),
        ...RELEASE_SEARCH_ATTRIBUTES.flatMap((key) => [
          '--search-attribute',
          `${key.name}=${cliSearchAttributeType(key.type)}`,
        ]),
      ],
      process.env,
      log('temporal'),
      pid('temporal'),
      async () => {
        await temporal().connection.withDeadline(Date.now() + 1000, () => temporal().workflowService.getSystemInfo({}));
        return true;
      },
      60_000,
    ),
    new Supervised(
      'fleetd',
      process.execPath,
      tsx('fleet/main.ts'),
      {
        ...common,
        FLEET_HOST: env.HOST,
        FLEET_PORT: String(env.FLEET_PORT),
        FLEET_ROUTER_BASE_PORT: String(env.FLEET_ROUTER_BASE_PORT),
      },
      log('fleetd'),
      pid('fleetd'),
      () => httpOk(`http://${env.HOST}:${env.FLEET_PORT}/healthz`),
      60_000,
    ),
    new Supervised(
      'worker',
      process.execPath,
      tsx('workers/orchestrator.ts'),
      // Notifications link to the release's page in the console; hosts fetch artifacts from the API by signed URL.
      {
        ...common,
        WORKER_METRICS_ADDRESS: `${env.HOST}:${env.WORKER_METRICS_PORT}`,
        CONSOLE_URL: `${api}/`,
        ARTIFACT_URL_BASE: api,
      },
      log('worker'),
      pid('worker'),
      (workerPid) => polls('releases', workerPid),
      120_000,
    ),
    new Supervised(
      'api',
      process.execPath,
      tsx('api/main.ts'),
      {
        ...common,
        API_HOST: env.HOST,
        API_PORT: String(env.API_PORT),
        API_TOKENS_FILE: paths.apiTokens,
        CODEC_CORS_ORIGINS: uiOrigins.join(','),
        CODEC_URL_TOKENS: 'true',
      },
      log('api'),
      pid('api'),
      () => httpOk(`http://${env.HOST}:${env.API_PORT}/readyz`),
      60_000,
    ),
  ];

  let shutdownAt = 0;
  const shutdown = async (signal: string) => {
    if (shutdownAt) {
      // The same Ctrl-C can arrive twice (terminal and npm); only a later, separate one forces.
      if (signal === 'SIGINT' && Date.now() - shutdownAt > 1000) {
        say('second interrupt: killing everything now');
        process.exit(130);
      }
      return;
    }
    shutdownAt = Date.now();
    for (const p of processes) p.markStopping();
    say(`${signal}: stopping the stack (Ctrl-C again to force) ...`);
    for (const p of [...processes].reverse()) {
      await p.stop();
      say(`  ${p.name} stopped`);
    }
    await temporalClient?.connection.close().catch(() => undefined);
    say('stopped. `npm start` resumes where this left off (state is in .data/).');
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));
  process.on('exit', () => processes.forEach((p) => p.killNow()));

  for (const p of processes) {
    const started = Date.now();
    say(`starting ${p.name} ...`);
    try {
      await p.start();
    } catch (err) {
      say(`${p.name} failed to start: ${(err as Error).message}. Last lines of ${relative(ROOT, log(p.name))}:`);
      for (const line of tail(log(p.name), 15)) say(`  | ${line}`);
      await shutdown('start-up failure');
      return;
    }
    say(`${p.name} is up (pid ${p.pid}, ${((Date.now() - started) / 1000).toFixed(1)}s)`);
  }

  const fleetToken = await readControlToken(process.env.FLEET_TOKEN_FILE ?? paths.fleetControlToken);
  const fleetState = (await (
    await fetch(`http://${env.HOST}:${env.FLEET_PORT}/v1/state`, { headers: { authorization: `Bearer ${fleetToken}` } })
  ).json()) as {
    regions: { service: string; region: string; url: string; stableVersion?: string }[];
  };
  const lines = [
    '',
    '================================================================================',
    ' release engine is ready',
    '================================================================================',
    ` Console        ${api}/      sign in with a dev token below (alice approves, sam pauses and aborts)`,
    ` Temporal UI    http://${env.HOST}:${env.TEMPORAL_UI_PORT}/namespaces/default/workflows`,
    ` API (tRPC)     ${api}/trpc      health: ${api}/healthz  ${api}/readyz`,
    ` API (REST)     ${api}/api/v1    OpenAPI: ${api}/api/v1/openapi.json  metrics: ${api}/metrics`,
    ` Temporal       ${temporalAddress}  (state in ${relative(ROOT, paths.temporalDb)})`,
    encryption.codec
      ? ` Payloads       encrypted (key "${encryption.codec.currentKeyId}"); the UI decodes them via ${api}/codec`
      : ' Payloads       NOT encrypted (PAYLOAD_ENCRYPTION=false): release data is in Temporal in clear text',
    ` Logs           ${relative(ROOT, paths.logs)}/{temporal,fleetd,worker,api}.log`,
    '',
    ' Demo fleet (hello, and greeter and web for release trains; each region a weighted router in front of real instances):',
    ...fleetState.regions.map(
      (r) => `   ${r.region.padEnd(10)} ${r.url}   runs ${r.service}@${r.stableVersion ?? '-'}`,
    ),
    `   control API http://${env.HOST}:${env.FLEET_PORT} needs the bearer token in ${relative(ROOT, process.env.FLEET_TOKEN_FILE ?? paths.fleetControlToken)}`,
    '',
    ' Dev API tokens (from .data/dev-credentials.json):',
    ...DEV_PRINCIPALS.map(
      (p) => `   ${p.principal.padEnd(12)} ${credentials[p.principal]}   ${p.roles.join(',')}: ${p.purpose}`,
    ),
    '',
    ' Start a release of hello@1.1.0 (local-a, then local-b and local-c) and watch it:',
    '',
    `   export RELCTL_URL=${api} RELCTL_TOKEN=${credentials['ci-pipeline']}`,
    '   npx relctl release start hello@1.1.0 --bake 10 --wait',
    '',
    ` Then: curl ${fleetState.regions[0]?.url ?? ''}/   and open the Temporal UI above.`,
    ' hello@1.2.0 fails ~30% of its requests; 1.3.0 is healthy; 1.4.0 starts failing half its requests 60 s after it starts.',
    ' Three services at once (web@2.0.0 needs greeter@2.0.0, which needs hello >=1.3.0):',
    '   npx relctl train start web@2.0.0 greeter@2.0.0 hello@1.3.0 --lockstep --wait',
    ' Ctrl-C stops everything; npm start resumes.',
    '================================================================================',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().catch((err) => {
  say(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
