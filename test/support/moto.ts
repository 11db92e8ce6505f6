// moto_server, a maintained AWS emulator, for the tests of what it emulates faithfully (SSM Parameter Store): one
// server per test file on a free port, stopped afterwards and killed with the test process if that ends first.
// It does not execute Run Command documents, so the Run Command tests keep the SSM double (fake-ssm.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, it } from 'vitest';
import { killOnExit } from './process-cleanup';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The moto_server executable, if one is on PATH. */
export const MOTO_SERVER = onPath('moto_server');

/** Why the moto_server tests are skipped here, or undefined when they run. */
export const MOTO_SKIPPED = MOTO_SERVER
  ? undefined
  : 'skipped: moto_server is not on PATH (pip install "moto[server]" to run these tests against it)';

/** `describe` for tests against moto_server: when it is not on PATH, one skipped test and a warning say why. */
export function describeAgainstMoto(title: string, body: () => void): void {
  describe(`${title} against moto_server`, () => {
    if (MOTO_SKIPPED) {
      console.warn(`${title} against moto_server: ${MOTO_SKIPPED}`);
      it.skip(MOTO_SKIPPED, () => undefined);
      return;
    }
    body();
  });
}

/** How long moto_server may take to listen; Python imports take a few seconds on a loaded machine. */
const READY_MS = 60_000;

export class MotoServer {
  private constructor(
    private readonly child: ChildProcess,
    /** The endpoint to give an AWS SDK client (any region and credentials work). */
    readonly endpoint: string,
    private readonly release: () => void,
  ) {}

  /** Starts moto_server on 127.0.0.1 on a port the kernel picks, and waits until it says where it listens. */
  static async start(): Promise<MotoServer> {
    if (!MOTO_SERVER) throw new Error('moto_server is not on PATH');
    const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const release = killOnExit(child.pid);
    let output = '';
    let listening: string | undefined;
    const onData = (chunk: Buffer) => {
      // Keep reading after it listens (it logs every request; a full pipe would stall it), but keep nothing.
      if (listening) return;
      output += chunk.toString('utf8');
      listening = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let failed: Error | undefined;
    child.once('error', (err) => (failed = err));
    const since = Date.now();
    while (!listening) {
      const exited = child.exitCode !== null || child.signalCode !== null;
      if (failed || exited || Date.now() - since > READY_MS) {
        child.kill('SIGKILL');
        release();
        const why = failed
          ? `could not start: ${failed.message}`
          : exited
            ? `exited (${child.exitCode ?? child.signalCode}) before it listened`
            : `did not listen within ${READY_MS / 1000}s`;
        throw new Error(`moto_server (${MOTO_SERVER}) ${why}; its output:\n${output.trim() || '(none)'}`);
      }
      await new Promise((done) => setTimeout(done, 50));
    }
    const endpoint = listening;
    return new MotoServer(child, endpoint, release);
  }

  /** Stops the server (SIGTERM, SIGKILL after 5 s) and waits until it has exited. */
  async close(): Promise<void> {
    const { child } = this;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    }
    this.release();
  }
}
