// The processes the bench starts: its own Temporal dev server and the two worker processes (engine and bare). Each
// is registered, so whatever way the bench ends (done, failed, Ctrl-C) it can stop them; killAllNow() is the last
// resort of the exit handler (synchronous SIGKILL).
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { RELEASE_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { findTemporalCli, freePort, ROOT, sleep } from '../support';
import type { WorkerReady, WorkerReply, WorkerRequest } from './ipc';

const started = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/** SIGKILLs every process the bench started that still runs (synchronous: safe in an exit handler). */
export function killAllNow(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once('exit', () => done()));
}

/** Stops a process: SIGTERM, then SIGKILL after `graceMs`. */
async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n  ') || '(nothing)';
}

/** The CLI's name of a search attribute type: KEYWORD_LIST -> KeywordList. */
function cliSearchAttributeType(type: string): string {
  return type
    .toLowerCase()
    .split('_')
    .map((w) => (w[0]?.toUpperCase() ?? '') + w.slice(1))
    .join('');
}

export interface TemporalServer {
  address: string;
  pid: number | undefined;
  stop: () => Promise<void>;
}

/**
 * Starts a Temporal dev server of the bench's own on a free port (no UI), with its SQLite file in `dataDir` and the
 * engine's search attributes registered, as scripts/dev-stack.ts starts the one of `npm start`.
 */
export async function startTemporal(dataDir: string, logDir: string): Promise<TemporalServer> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const logFile = join(logDir, 'temporal.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = track(
    spawn(
      findTemporalCli(),
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--headless',
        '--db-filename',
        join(dataDir, 'temporal.db'),
        '--log-level',
        'warn',
        ...RELEASE_SEARCH_ATTRIBUTES.flatMap((key) => [
          '--search-attribute',
          `${key.name}=${cliSearchAttributeType(key.type)}`,
        ]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the Temporal dev server exited (${child.exitCode}):\n  ${await tail(logFile)}`);
    }
    const up = await Connection.connect({ address, connectTimeout: 1000 })
      .then(async (connection) => {
        try {
          await connection.workflowService.getSystemInfo({});
          return true;
        } finally {
          await connection.close();
        }
      })
      .catch(() => false);
    if (up) break;
    if (Date.now() > deadline)
      throw new Error(`the Temporal dev server did not answer within 60s:\n  ${await tail(logFile)}`);
    await sleep(250);
  }
  return { address, pid: child.pid, stop: () => stopProcess(child) };
}

/** A worker process (bench/engine/worker-process.ts or bench/bare/worker-process.ts) and the bench's line to it. */
export class WorkerProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly ready: WorkerReady,
  ) {
    child.on('message', (message: WorkerReply) => {
      const done = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      done?.(message);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Spawns `entry` (relative to the repository) with `env` and waits until it says its workers poll. */
  static async start(name: string, entry: string, env: Record<string, string>, logDir: string): Promise<WorkerProcess> {
    const logFile = join(logDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = track(
      spawn(process.execPath, ['--expose-gc', ...nodeArgs(), '--import', 'tsx', join(ROOT, entry)], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      }),
    );
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const ready = await new Promise<WorkerReady>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`${name} did not start polling within 180s`)), 180_000);
      child.on('message', (message: Partial<WorkerReady>) => {
        if (message.ready) {
          clearTimeout(timer);
          done(message as WorkerReady);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        void tail(logFile).then((text) =>
          fail(new Error(`${name} exited (${code ?? signal}) before it polled:\n  ${text}`)),
        );
      });
    });
    return new WorkerProcess(name, child, ready);
  }

  private request(kind: WorkerRequest['kind'], timeoutMs = 30_000): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        fail(new Error(`${this.name} did not answer ${kind} within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        done(reply);
      });
      this.child.send({ id, kind } satisfies WorkerRequest);
    });
  }

  /** The process's resident set size in MiB (VmRSS of /proc/<pid>/status), after it collected its garbage. */
  async rssMiB(): Promise<number> {
    await this.request('gc');
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    if (!kib) throw new Error(`no VmRSS in /proc/${this.pid}/status`);
    return Number(kib) / 1024;
  }

  /** The worker's counters: audit records per action (engine), completed activities per tag (bare). */
  async counters(): Promise<Record<string, number>> {
    return (await this.request('counters')).counters ?? {};
  }

  /** Asks the workers to shut down (in-flight tasks finish), then kills the process if it has not exited. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.request('stop', 15_000).catch(() => undefined);
    await stopProcess(this.child, 5_000);
  }
}

/** Extra Node.js flags for the worker processes, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'. */
function nodeArgs(): string[] {
  return (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}
