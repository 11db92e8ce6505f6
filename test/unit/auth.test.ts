import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bearerToken, hashToken, TokenAuthenticator } from '../../api/auth';

describe('token authentication', () => {
  const authenticator = new TokenAuthenticator({
    tokens: [
      { sha256: hashToken('token-of-ci'), principal: 'ci', roles: ['pipeline'] },
      { sha256: hashToken('token-of-alice'), principal: 'alice', roles: ['approver', 'viewer'] },
    ],
  });

  it('resolves a token to its principal and roles, and nothing else to anyone', () => {
    expect(authenticator.authenticate('token-of-alice')).toEqual({ id: 'alice', roles: ['approver', 'viewer'] });
    expect(authenticator.authenticate('token-of-ci')).toEqual({ id: 'ci', roles: ['pipeline'] });
    expect(authenticator.authenticate('token-of-ci ')).toBeUndefined();
    expect(authenticator.authenticate('')).toBeUndefined();
    expect(authenticator.authenticate(hashToken('token-of-ci'))).toBeUndefined();
  });

  it('reads only Bearer authorization headers', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('explains what is wrong with a tokens file, naming the file and field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tokens-'));
    const path = join(dir, 'tokens.json');
    await writeFile(path, JSON.stringify({ tokens: [{ sha256: 'abc', principal: 'ci', roles: ['pipeline'] }] }));
    expect(() => TokenAuthenticator.fromFile(path)).toThrow(
      new RegExp(`${path} is invalid[\\s\\S]*tokens\\[0\\]\\.sha256`),
    );
    await writeFile(path, '{ not json');
    expect(() => TokenAuthenticator.fromFile(path)).toThrow(/cannot read the API tokens file/);
  });
});
