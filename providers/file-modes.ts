// What the engine writes under its data directory (audit and service databases, the ledger and calendar, Temporal's
// sqlite file, logs, pid files, keys, tokens) is for its owner only. The root of it is the umask: set once at the top
// of every entry point, it covers every file the process and its children create (PGlite's files, the Go Temporal
// dev server's database) without a mode on each write. repairDataModes() fixes a tree an older version left open.
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** New files 0600, new directories 0700. */
export const PRIVATE_UMASK = 0o077;

/** Makes everything this process (and every child it starts later) creates readable by its owner only. */
export function restrictUmask(): void {
  process.umask(PRIVATE_UMASK);
}

/**
 * Takes group and other permissions off everything under `root` (directories 0700, files 0600; the owner's execute
 * bit on a file is kept), leaving symlinks and what they point to alone. Returns how many entries it changed. A
 * missing root is nothing to repair.
 */
export async function repairDataModes(root: string): Promise<number> {
  let changed = 0;
  async function visit(path: string): Promise<void> {
    let stats;
    try {
      stats = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed meanwhile (a pid file, a WAL)
      throw err;
    }
    if (stats.isSymbolicLink()) return;
    const mode = stats.mode & 0o7777;
    const wanted = stats.isDirectory() ? 0o700 : 0o600 | (mode & 0o100);
    if (mode !== wanted) {
      await chmod(path, wanted);
      changed += 1;
    }
    if (stats.isDirectory()) {
      for (const name of await readdir(path)) await visit(join(path, name));
    }
  }
  await visit(root);
  return changed;
}
