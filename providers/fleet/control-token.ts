// fleetd's control token: a random bearer token that fleetd writes once (0600, in a 0700 directory) and that every
// caller of its control API reads from the same file. Only the file's path is ever logged, never its content.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const TOKEN = /^[A-Za-z0-9_-]{32,256}$/;

/** Where the control token lives: FLEET_TOKEN_FILE when set, else `<DATA_DIR>/fleet/control-token`. */
export function controlTokenFile(env: { FLEET_TOKEN_FILE?: string | undefined }, defaultFile: string): string {
  return env.FLEET_TOKEN_FILE ?? defaultFile;
}

/** Reads the token fleetd uses, or writes a new one (owner-only) at its first start. */
export async function ensureControlToken(file: string): Promise<{ token: string; created: boolean }> {
  try {
    return { token: await readControlToken(file), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  try {
    // wx: two processes starting at once never overwrite each other's token.
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      return { token: await readControlToken(file), created: false };
    throw err;
  }
  await chmod(file, 0o600);
  return { token, created: true };
}

/**
 * The token in `file`. Throws (code ENOENT) when there is none yet, and refuses a file that others may read or that
 * does not hold a token, saying what to do.
 */
export async function readControlToken(file: string): Promise<string> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(
      `fleetd's control token file ${file} may be read by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${file}`,
    );
  }
  const token = (await readFile(file, 'utf8')).trim();
  if (!TOKEN.test(token)) {
    throw new Error(
      `${file} does not hold a fleetd control token (32-256 characters of A-Z a-z 0-9 _ -); delete it and restart fleetd to write a new one`,
    );
  }
  return token;
}

/** The token of an `Authorization: Bearer <token>` header, if that is what the header is. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Whether `presented` is `expected`, in time that depends on neither (both are hashed to equal lengths first). */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
