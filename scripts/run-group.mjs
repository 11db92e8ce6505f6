// Runs a command so that nothing it starts can outlive it: the command leads a process group of its own, gets a
// scratch directory as TMPDIR and a marker variable in its environment, and once it has exited (or been
// interrupted) every process of its group, every process carrying the marker and every process running from the
// scratch directory is stopped: SIGTERM, then SIGKILL after a grace period. The last two catch processes that left
// the group on purpose, like the local fleet's instances, which detach into sessions of their own.
// Plain Node with no dependencies, like bootstrap.mjs. The marker and directory checks read /proc (Linux); elsewhere
// only the process group is stopped.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';

export const RUN_MARKER = 'RELEASE_ENGINE_TEST_RUN';
const PROCFS = existsSync('/proc/self/stat');

function read(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** A process's group and state from /proc/<pid>/stat; undefined once it is gone. */
function stat(pid) {
  const text = read(`/proc/${pid}/stat`);
  if (!text) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], pgid: Number(fields[2]) };
}

/** Whether `pid` is a live process (a zombie, exited but not yet reaped, is not). */
export function isRunning(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code !== 'EPERM') return false;
  }
  if (!PROCFS) return true;
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

/** The live processes that belong to a run: in its group, carrying its marker, or running from its directory. */
export function processesOfRun({ pgid, marker, dir }) {
  if (!PROCFS) return [];
  const found = [];
  const inDir = (path) => path === dir || path.startsWith(`${dir}${sep}`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const s = stat(pid);
    if (!s || s.state === 'Z' || s.state === 'X') continue;
    const args = read(`/proc/${pid}/cmdline`).split('\0').filter(Boolean);
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // gone, or not ours to inspect
    }
    const environ = read(`/proc/${pid}/environ`).split('\0');
    if (
      s.pgid === pgid ||
      (marker && environ.includes(`${RUN_MARKER}=${marker}`)) ||
      (dir && (inDir(cwd) || args.some(inDir)))
    ) {
      found.push({ pid, command: args.join(' ').slice(0, 160) });
    }
  }
  return found;
}

function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** Sends `name` to a whole process group; quiet if the group is gone. */
export function signalGroup(pgid, name) {
  signal(-pgid, name);
}

/**
 * Stops every process of the run (see processesOfRun): SIGTERM, then SIGKILL whatever is left after `graceMs`.
 * Returns the processes it found, so the caller can say what was left behind.
 */
export async function stopRun(run, graceMs = 3000) {
  const found = processesOfRun(run);
  signalGroup(run.pgid, 'SIGTERM');
  for (const p of found) signal(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && found.some((p) => isRunning(p.pid))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  signalGroup(run.pgid, 'SIGKILL');
  for (const p of found) if (isRunning(p.pid)) signal(p.pid, 'SIGKILL');
  // A process that was forking while we looked: one more pass catches its children.
  for (const p of processesOfRun(run)) signal(p.pid, 'SIGKILL');
  return found;
}

/**
 * Runs `command` with `args` in a process group of its own (see the header). SIGINT, SIGTERM and SIGHUP sent to
 * this process are passed to the group, so the command can stop tidily; a second one, or `graceMs` later, kills
 * the group. Resolves once the command has exited and its run is cleaned up, with its exit code, the signal that
 * interrupted the run (if any) and the processes that outlived the command.
 */
export function runInOwnGroup(command, args, { env = process.env, cwd, graceMs = 15_000, label = 'test' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'release-engine-run-'));
  const marker = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const child = spawn(command, args, {
    cwd,
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...env, TMPDIR: dir, [RUN_MARKER]: marker },
  });
  const run = { pgid: child.pid, marker, dir };
  let interrupted;
  let interruptedAt = 0;
  let killTimer;
  const onSignal = (name) => {
    if (interrupted) {
      // npm passes a Ctrl-C on to its child although the terminal already sent it to the whole group: a second
      // signal within a second is that echo; a later one is a person who does not want to wait.
      if (Date.now() - interruptedAt > 1000) signalGroup(run.pgid, 'SIGKILL');
      return;
    }
    interrupted = name;
    interruptedAt = Date.now();
    process.stderr.write(`\n[${label}] ${name}: stopping the test run and every process it started ...\n`);
    signalGroup(run.pgid, name);
    killTimer = setTimeout(() => signalGroup(run.pgid, 'SIGKILL'), graceMs);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const name of signals) process.on(name, onSignal);
  return new Promise((resolve) => {
    let settled = false;
    const finish = async (code) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      const leftovers = await stopRun(run);
      for (const name of signals) process.off(name, onSignal);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, interrupted, leftovers });
    };
    child.once('error', (err) => {
      process.stderr.write(`[${label}] could not start ${command}: ${err.message}\n`);
      void finish(1);
    });
    child.once('close', (code, sig) => void finish(code ?? (sig ? 1 : 0)));
  });
}
