// Instance processes of the local fleet. Each instance is a real `node` process running an unpacked artifact.
// Instances are started detached from fleetd, so a crashed fleetd can adopt them again instead of restarting them.
// Spawning and waiting for health are separate steps, so fleetd can record a pid before it waits on it.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, sep } from 'node:path';

const procfs = existsSync('/proc/self/stat');

/** Whether `pid` runs. A zombie (exited, never reaped: orphans of a killed fleetd when PID 1 does not reap) does not. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!procfs) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Whether `pid` is a live process started from `releaseDir`, so a recorded pid that the system has since given to
 * another process is never signalled. Without /proc it cannot tell, and trusts the record.
 */
export async function runsFrom(pid: number, releaseDir: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  if (!procfs) return true;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').some((arg) => arg.startsWith(`${releaseDir}${sep}`));
}

/** Live processes whose command line runs a file under `dir`, with the SERVICE and REGION they were started with. */
export async function processesUnder(dir: string): Promise<{ pid: number; service?: string; region?: string }[]> {
  if (!procfs) return [];
  const found: { pid: number; service?: string; region?: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.split('\0').some((arg) => arg.startsWith(`${dir}${sep}`)) || !isAlive(pid)) continue;
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')).split('\0');
    const variable = (name: string) => environ.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
    found.push({ pid, service: variable('SERVICE'), region: variable('REGION') });
  }
  return found;
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

export interface SpawnOptions {
  releaseDir: string;
  entrypoint: string;
  service: string;
  region: string;
  logDir: string;
  nodePath: string;
}

export interface SpawnedInstance {
  port: number;
  pid: number;
  /** True once the process has exited. */
  exited: () => boolean;
}

/** Starts one instance process on a free port; does not wait for it to become healthy (see waitUntilHealthy). */
export async function spawnInstance(options: SpawnOptions): Promise<SpawnedInstance> {
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
  const { pid } = child;
  if (pid === undefined) throw new Error(`could not start ${options.service} from ${options.releaseDir}`);
  const started = child;
  return { port, pid, exited: () => started.exitCode !== null || started.signalCode !== null || !isAlive(pid) };
}

/** Waits until the instance on `port` reports `version`; false if it exits or the time runs out first. */
export async function waitUntilHealthy(instance: SpawnedInstance, version: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await probe(instance.port, 500)) === version) return true;
    if (instance.exited()) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
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
