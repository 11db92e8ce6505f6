// What a test starts outside its own process (a worker process, fleet instances, moto_server) must not outlive the
// test process, however that ends: tests finishing, vitest stopping the fork (SIGTERM, then SIGKILL half a second
// later, so nothing asynchronous gets to run), Ctrl-C, or vitest's main process dying under it (the IPC channel
// closes). On any of these, the registered processes, and every process running from a registered directory (fleet
// instances detach into sessions of their own, so no signal to a process group reaches them), are SIGKILLed
// synchronously before this process goes. scripts/test.mjs sweeps again after vitest, for a fork that was SIGKILLed.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { sep } from 'node:path';

interface Registry {
  pids: Set<number>;
  dirs: Set<string>;
}

// On globalThis, not in this module: vitest may evaluate this module more than once in one process, and the exit
// handlers installed by the first evaluation must see what later ones register.
const REGISTRY = Symbol.for('release-engine.test.process-cleanup');

function registry(): Registry {
  const scope = globalThis as { [REGISTRY]?: Registry };
  let found = scope[REGISTRY];
  if (!found) {
    found = { pids: new Set(), dirs: new Set() };
    scope[REGISTRY] = found;
    process.on('exit', killEverythingRegistered);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
    // Vitest's main process is gone: nobody will stop this fork, so it stops itself.
    process.on('disconnect', () => onSignal('SIGTERM'));
  }
  return found;
}

const PROCFS = existsSync('/proc/self/stat');

function live(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose working directory or command line lies under one of `roots` (Linux; none elsewhere). */
function processesUnder(roots: string[]): number[] {
  if (!PROCFS || roots.length === 0) return [];
  const under = (path: string) => roots.some((root) => path === root || path.startsWith(`${root}${sep}`));
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.some(under) || under(readlinkSync(`/proc/${entry}/cwd`))) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours
    }
  }
  return found;
}

function killEverythingRegistered() {
  const { pids, dirs } = registry();
  for (const pid of [...pids, ...processesUnder([...dirs])]) {
    if (!live(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pids.clear();
  dirs.clear();
}

/** Kills what is registered, then lets `signal` take its default course (other listeners would delay it). */
function onSignal(signal: NodeJS.Signals) {
  killEverythingRegistered();
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

/**
 * Installs the exit handlers in this process (once). The projects that start processes do it in a setup file, so a
 * fork that holds nothing registered still stops when vitest's main process goes.
 */
export function installProcessCleanup(): void {
  registry();
}

/** Kills process `pid` if this process ends before the returned function is called. */
export function killOnExit(pid: number | undefined): () => void {
  const { pids } = registry();
  if (pid === undefined) return () => undefined;
  pids.add(pid);
  return () => pids.delete(pid);
}

/** Kills every process running from `dir` (by working directory or command line) if this process ends first. */
export function killOnExitUnder(dir: string): () => void {
  const { dirs } = registry();
  dirs.add(dir);
  return () => dirs.delete(dir);
}
