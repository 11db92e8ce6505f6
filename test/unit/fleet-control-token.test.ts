// fleetd's control token file: written once, owner-only, read back the same; compared in constant time.
import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bearerToken, ensureControlToken, readControlToken, tokenMatches } from '../../providers/fleet/control-token';

describe('fleetd control token', () => {
  it('is written once (0600 in a 0700 directory) and read back unchanged', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'token-')), 'fleet', 'control-token');
    const first = await ensureControlToken(file);
    expect(first.created).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(file))).mode & 0o777).toBe(0o700);
    const again = await ensureControlToken(file);
    expect(again).toEqual({ token: first.token, created: false });
    expect(await readControlToken(file)).toBe(first.token);
    expect(first.token.length).toBeGreaterThanOrEqual(43);
  });

  it('refuses a token file others can read, saying how to fix it', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'token-')), 'control-token');
    await writeFile(file, `${'a'.repeat(43)}\n`);
    await chmod(file, 0o644);
    await expect(readControlToken(file)).rejects.toThrow(`run chmod 600 ${file}`);
    expect(await readFile(file, 'utf8')).toBe(`${'a'.repeat(43)}\n`);
  });

  it('matches only the exact token, whatever the lengths', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('ab', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
    expect(bearerToken('Bearer xyz')).toBe('xyz');
    expect(bearerToken('Basic xyz')).toBeUndefined();
  });
});
