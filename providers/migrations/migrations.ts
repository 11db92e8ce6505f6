// Reads schema migrations from the files that ship them: a map of paths to contents, a directory, or an artifact
// archive (which carries them under `migrations/`). Names follow `migrations/<NNNN>_<name>.<phase>.<up|down>.sql`;
// anything else under migrations/ is refused rather than skipped, so a typo cannot silently drop a migration.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackArtifact } from '../artifacts/pack';

export type MigrationPhase = 'expand' | 'contract';

export interface Migration {
  /** `<NNNN>_<name>`, e.g. `0001_greetings`. */
  id: string;
  phase: MigrationPhase;
  up: string;
  down?: string;
  /** sha256 hex of the up SQL: an applied migration whose up file changed is refused. */
  checksum: string;
}

/** A file under migrations/ whose name or set (a down without its up, a reused number) is not valid. */
export class MigrationNameError extends Error {
  override readonly name = 'MigrationNameError';
}

const MIGRATIONS_DIR = 'migrations';
const FILE_NAME = /^(\d+)_([A-Za-z0-9][A-Za-z0-9_-]*)\.(expand|contract)\.(up|down)\.sql$/;
const EXPECTED = '<NNNN>_<name>.<expand|contract>.<up|down>.sql';

/** sha256 hex of a migration's up SQL. */
export function migrationChecksum(up: string): string {
  return createHash('sha256').update(up, 'utf8').digest('hex');
}

/** From a map of relative paths to contents (paths outside migrations/ are ignored). */
export function migrationsFromFiles(files: Record<string, string>): Migration[] {
  interface Parts {
    number: bigint;
    phase: MigrationPhase;
    up?: { path: string; sql: string };
    down?: { path: string; sql: string };
  }
  const byId = new Map<string, Parts>();
  for (const [rawPath, sql] of Object.entries(files)) {
    const path = rawPath.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
    if (!path.startsWith(`${MIGRATIONS_DIR}/`)) continue;
    const name = path.slice(MIGRATIONS_DIR.length + 1);
    // Hidden files (.gitkeep, editor droppings) are not migrations and not typos.
    if (name.split('/').some((segment) => segment.startsWith('.'))) continue;
    const match = FILE_NAME.exec(name);
    if (!match) {
      throw new MigrationNameError(`migration file ${path} is not named ${MIGRATIONS_DIR}/${EXPECTED}`);
    }
    const [, digits = '', label = '', phase, direction] = match;
    const id = `${digits}_${label}`;
    const key = `${id}.${phase}`;
    const parts = byId.get(key) ?? { number: BigInt(digits), phase: phase as MigrationPhase };
    byId.set(key, parts);
    // Two paths can only collide here if they differ before normalisation (e.g. `./migrations/x` and `migrations/x`).
    if (parts[direction as 'up' | 'down']) {
      throw new MigrationNameError(`migration file ${path} is given twice`);
    }
    parts[direction as 'up' | 'down'] = { path, sql };
  }

  const migrations: (Migration & { number: bigint })[] = [];
  for (const [key, parts] of byId) {
    if (!parts.up) {
      throw new MigrationNameError(
        `migration file ${parts.down?.path ?? key} is a down migration without its up file (${MIGRATIONS_DIR}/${key}.up.sql)`,
      );
    }
    migrations.push({
      number: parts.number,
      id: key.slice(0, key.lastIndexOf('.')),
      phase: parts.phase,
      up: parts.up.sql,
      ...(parts.down ? { down: parts.down.sql } : {}),
      checksum: migrationChecksum(parts.up.sql),
    });
  }
  migrations.sort((a, b) => (a.number < b.number ? -1 : a.number > b.number ? 1 : 0));

  // The number is the order; two migrations with one number (even in different phases) would have no order.
  for (let i = 1; i < migrations.length; i++) {
    const previous = migrations[i - 1];
    const current = migrations[i];
    if (previous && current && previous.number === current.number) {
      throw new MigrationNameError(
        `migrations ${previous.id} (${previous.phase}) and ${current.id} (${current.phase}) share the number ${previous.number}`,
      );
    }
  }
  return migrations.map(({ number: _number, ...migration }) => migration);
}

async function readTree(root: string, prefix: string, out: Record<string, string>): Promise<void> {
  let entries;
  try {
    entries = await readdir(join(root, prefix), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const entry of entries) {
    const rel = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) await readTree(root, rel, out);
    else if (entry.isFile()) out[rel] = await readFile(join(root, rel), 'utf8');
  }
}

/** From a directory that holds migrations/ (an artifact's root); no migrations/ means no migrations. */
export async function migrationsFromDirectory(dir: string): Promise<Migration[]> {
  const files: Record<string, string> = {};
  await readTree(dir, MIGRATIONS_DIR, files);
  return migrationsFromFiles(files);
}

/** From artifact archive bytes: unpacks into a temporary directory, reads migrations/, removes the directory. */
export async function migrationsFromArtifact(bytes: Buffer): Promise<Migration[]> {
  const dir = await mkdtemp(join(tmpdir(), 'artifact-migrations-'));
  try {
    await unpackArtifact(bytes, dir);
    return await migrationsFromDirectory(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
