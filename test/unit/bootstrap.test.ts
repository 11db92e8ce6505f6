// The Temporal CLI lookup of scripts/bootstrap.mjs: TEMPORAL_CLI, then PATH, then the tools folder, else a build
// with Go, else a message naming the three ways to get it.
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BOOTSTRAP = resolve(__dirname, '..', '..', 'scripts', 'bootstrap.mjs');

async function fakeCli(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'temporal');
  await writeFile(path, '#!/bin/sh\necho fake\n');
  await chmod(path, 0o755);
  return path;
}

function lookup(env: Record<string, string>) {
  const result = spawnSync(process.execPath, [BOOTSTRAP, '--no-install', '--temporal-path'], {
    encoding: 'utf8',
    env: { HOME: process.env.HOME ?? '/tmp', ...env },
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

describe('Temporal CLI bootstrap', () => {
  it('prefers TEMPORAL_CLI, then PATH, then the tools folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bootstrap-'));
    const explicit = await fakeCli(join(dir, 'explicit'));
    const onPath = await fakeCli(join(dir, 'on-path'));
    const tools = await fakeCli(join(dir, 'tools'));
    const base = { RELEASE_ENGINE_TOOLS_DIR: join(dir, 'tools') };
    expect(lookup({ ...base, TEMPORAL_CLI: explicit, PATH: join(dir, 'on-path') }).stdout).toBe(explicit);
    expect(lookup({ ...base, PATH: join(dir, 'on-path') }).stdout).toBe(onPath);
    expect(lookup({ ...base, PATH: join(dir, 'empty') }).stdout).toBe(tools);
  });

  it('stops with a clear message when TEMPORAL_CLI points nowhere', () => {
    const result = lookup({ TEMPORAL_CLI: '/nonexistent/temporal', PATH: '' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'TEMPORAL_CLI is set to /nonexistent/temporal, but that is not an executable file.',
    );
  });

  it('without a CLI and without Go, names the three ways to get one and downloads nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bootstrap-'));
    const result = lookup({ RELEASE_ENGINE_TOOLS_DIR: join(dir, 'tools'), PATH: join(dir, 'empty') });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Go is not installed');
    expect(result.stderr).toContain('export TEMPORAL_CLI=');
    expect(result.stderr).toContain('put a `temporal` binary on your PATH');
    expect(result.stderr).toContain('go install github.com/temporalio/cli/cmd/temporal@v1.5.1');
    expect(result.stdout).toBe('');
  });
});
