// What the engine writes under its data directory is its owner's only: no file or folder there that the group or
// others can read, write or enter, after the real writers ran (PGlite, the Temporal dev server, seeding, the ledger,
// logs, keys), and an older tree (0666 files, 0755 folders) is repaired at start without following symlinks.
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..', '..');
const scratch = await mkdtemp(join(tmpdir(), 'data-modes-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** Every entry under `root` (symlinks not followed) that group or others have any permission on. */
async function openToOthers(root: string): Promise<string[]> {
  const found: string[] = [];
  async function visit(path: string) {
    const stats = await lstat(path);
    if (stats.isSymbolicLink()) return;
    if (stats.mode & 0o077) found.push(`${(stats.mode & 0o777).toString(8)} ${relative(root, path) || '.'}`);
    if (stats.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  }
  await visit(root);
  return found;
}

it('leaves nothing under the data directory that group or others can read, and repairs an older tree', async () => {
  const dataDir = join(scratch, '.data');
  // What an older version left: world-writable files in an open tree, and a symlink to a file outside it.
  await mkdir(join(dataDir, 'fleet'), { recursive: true, mode: 0o755 });
  await chmod(dataDir, 0o755);
  await chmod(join(dataDir, 'fleet'), 0o755);
  await writeFile(join(dataDir, 'fleet', 'state.json'), '{}\n');
  await chmod(join(dataDir, 'fleet', 'state.json'), 0o666);
  const outside = join(scratch, 'shared-catalog.json');
  await writeFile(outside, '{}\n');
  await chmod(outside, 0o644);
  await symlink(outside, join(dataDir, 'catalog-link.json'));

  const temporalCli = process.env.TEMPORAL_CLI ?? join(ROOT, '.tools', 'bin', 'temporal');
  // A process of its own: the umask is per process, as it is for the stack's processes.
  await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test', 'support', 'write-data-dir.ts'), dataDir, temporalCli],
    { cwd: ROOT, timeout: 120_000 },
  );

  const written = await readdir(dataDir, { recursive: true });
  // The writers did write what the issue measured: PGlite's files, Temporal's database, keys, tokens, logs.
  expect(written).toEqual(
    expect.arrayContaining([
      join('audit', 'PG_VERSION'),
      join('temporal', 'temporal.db'),
      join('secrets', 'audit-signing.key'),
      'api-tokens.json',
      'config-store.json',
      join('logs', 'temporal.log'),
      join('pids', 'temporal.pid'),
    ]),
  );
  expect(await openToOthers(dataDir)).toEqual([]);
  // The symlink's target is not the engine's to change.
  expect((await lstat(outside)).mode & 0o777).toBe(0o644);
});
