// Helpers shared by the benchmarks: progress lines, free ports, the Temporal CLI, the machine and commit a run was
// measured on, and the statistics the tables print.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..');

/** A progress line, prefixed with the time of day. */
export function say(message: string) {
  process.stdout.write(`${new Date().toTimeString().slice(0, 8)} ${message}\n`);
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
    server.once('error', fail);
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** The Temporal CLI as scripts/bootstrap.mjs finds it (TEMPORAL_CLI, PATH, .tools/bin); this never builds it. */
export function findTemporalCli(): string {
  const candidates = [
    process.env.TEMPORAL_CLI,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'temporal')),
    join(ROOT, '.tools', 'bin', 'temporal'),
  ];
  const found = candidates.find((path) => path && existsSync(path));
  if (!found) throw new Error('no Temporal CLI: run `npm run bootstrap` (or set TEMPORAL_CLI) first');
  return found;
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The p-th percentile (0-100) by the nearest-rank method. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  loadAverageBeforeStart: number[];
  node: string;
}

/** What the numbers were measured on: cores, CPU, memory, load average now (1/5/15 min), node. */
export function machineInfo(): MachineInfo {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    loadAverageBeforeStart: loadAverage(),
    node: process.version,
  };
}

export function loadAverage(): number[] {
  return loadavg().map((l) => Number(l.toFixed(2)));
}

/** The checked-out commit (with `+dirty` when the work tree has changes), or `unknown` outside git. */
export function gitCommit(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short=12', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    return `${head}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}
