// A test run leaves no process behind (scripts/test.mjs and run-group.mjs), shown on a tiny vitest project in a
// temporary folder whose test starts what the real suite starts: a process in the run's process group (like the
// Temporal dev server or a worker process) and a detached one without the run's environment, working in a folder
// under TMPDIR (like a fleet instance). Both ignore SIGTERM, as a process stuck in its shutdown would.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../fleet/instances';
import { waitUntil } from '../support/wait';

const ROOT = resolve(__dirname, '..', '..');

const CONFIG = `export default {
  test: { projects: [{ test: { name: 'unit', include: ['*.test.mjs'], globals: true, pool: 'forks' } }] },
};
`;

// Starts the processes, waits until they are ready (their signal handlers installed) and writes their pids to
// PIDS_FILE; then hangs (MODE=hang) or passes, leaving them running (MODE=leak).
const TEST = `import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

const STUBBORN = 'for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => {}); setInterval(() => {}, 1000); console.log("ready");';

async function start(options) {
  const child = spawn(process.execPath, ['-e', STUBBORN], { ...options, stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((ready) => child.stdout.once('data', ready));
  child.stdout.destroy();
  child.unref();
  return child.pid;
}

test('starts processes', async () => {
  const dir = join(tmpdir(), 'instance');
  mkdirSync(dir);
  const pids = [
    await start({}),
    await start({ cwd: dir, detached: true, env: { PATH: process.env.PATH } }),
  ];
  writeFileSync(process.env.PIDS_FILE, JSON.stringify(pids));
  if (process.env.MODE === 'hang') await new Promise(() => {});
}, 600_000);
`;

const fixtures: string[] = [];
afterAll(async () => {
  await Promise.all(fixtures.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), 'run-cleanup-'));
  fixtures.push(dir);
  await writeFile(join(dir, 'vitest.config.mjs'), CONFIG);
  await writeFile(join(dir, 'starts.test.mjs'), TEST);
  return dir;
}

/** `npm run test:unit` on the fixture, as its own process group (a terminal's foreground job). */
function runTests(dir: string, mode: 'hang' | 'leak') {
  const pidsFile = join(dir, 'pids.json');
  const child = spawn('npm', ['run', 'test:unit', '--', '--root', dir, '--config', join(dir, 'vitest.config.mjs')], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PIDS_FILE: pidsFile, MODE: mode },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // The exit status a shell would report (npm re-raises a SIGINT it got, so it dies of it: 128 + 2).
  const exited = new Promise<number>((done) =>
    child.once('close', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0))),
  );
  const started = async (): Promise<number[]> => {
    await waitUntil(async () => (await readFile(pidsFile, 'utf8').catch(() => '')) !== '', 30_000);
    return JSON.parse(await readFile(pidsFile, 'utf8')) as number[];
  };
  return { child, exited, started, output: () => output };
}

describe('a test run leaves no process behind', () => {
  it.concurrent(
    'when interrupted with Ctrl-C mid-test',
    async () => {
      const run = runTests(await fixture(), 'hang');
      const pids = await run.started();
      expect(pids.every(isAlive)).toBe(true);

      process.kill(-(run.child.pid as number), 'SIGINT');
      const code = await run.exited;

      expect(pids.filter(isAlive), run.output()).toEqual([]);
      expect(code).toBe(130);
      expect(run.output()).toContain('were still running when the run was interrupted; stopped them');
    },
    60_000,
  );

  it.concurrent(
    'when a passing test leaves processes running, and says so',
    async () => {
      const run = runTests(await fixture(), 'leak');
      const pids = await run.started();
      const code = await run.exited;

      expect(pids.filter(isAlive), run.output()).toEqual([]);
      expect(code, run.output()).toBe(0);
      expect(run.output()).toMatch(/processes of the run outlived vitest; stopped them/);
      for (const pid of pids) expect(run.output()).toContain(`  ${pid} `);
    },
    60_000,
  );
});
