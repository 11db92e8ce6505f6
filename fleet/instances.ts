// Instance processes of the local fleet. Each instance is a real `node` process running an unpacked artifact.
// Instances are started detached from fleetd, so a crashed fleetd can adopt them again instead of restarting them.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface InstanceProcess {
  version: string;
  port: number;
  pid: number;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** The version an instance on `port` reports, or undefined if nothing healthy answers there. */
export async function probe(port: number, timeoutMs = 1000): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { version?: unknown };
    return typeof body.version === 'string' ? body.version : undefined;
  } catch {
    return undefined;
  }
}

export interface StartOptions {
  releaseDir: string;
  entrypoint: string;
  version: string;
  service: string;
  region: string;
  logDir: string;
  nodePath: string;
  healthTimeoutMs: number;
}

/** Starts one instance and waits until its health check reports the expected version. */
export async function startInstance(options: StartOptions): Promise<InstanceProcess> {
  const port = await freePort();
  await mkdir(options.logDir, { recursive: true });
  const logFd = openSync(join(options.logDir, `${options.service}-${options.region}-${port}.log`), 'a');
  let child;
  try {
    child = spawn(options.nodePath, [join(options.releaseDir, options.entrypoint)], {
      cwd: options.releaseDir,
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { PATH: process.env.PATH ?? '', PORT: String(port), REGION: options.region, SERVICE: options.service },
    });
  } finally {
    closeSync(logFd);
  }
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${options.service}@${options.version}`);
  const deadline = Date.now() + options.healthTimeoutMs;
  while (Date.now() < deadline) {
    if ((await probe(port, 500)) === options.version) return { version: options.version, port, pid };
    if (child.exitCode !== null || !isAlive(pid)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stopProcess(pid);
  throw new Error(
    `${options.service}@${options.version} in ${options.region} did not become healthy within ${options.healthTimeoutMs}ms`,
  );
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
export async function stopProcess(pid: number, graceMs = 5000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  if (isAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
