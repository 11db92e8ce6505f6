// hello@1.4.0's trick (demo/hello/versions.json): healthy for degradeAfterSeconds after it starts, then failing
// degradedFailureRate of its requests. The demo of alerts from monitoring depends on it passing a canary first.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packDemoVersion } from '../../demo/seed';
import { unpackArtifact } from '../../providers/artifacts/pack';

async function statuses(url: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await fetch(url)).status);
  return out;
}

describe('a degrading demo version', () => {
  it('answers every request at first, and fails them at the degraded rate once its time is up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'degrade-'));
    const behaviour = { greeting: 'hi', failureRate: 0, latencyMs: 1, degradeAfterSeconds: 1, degradedFailureRate: 1 };
    await unpackArtifact(await packDemoVersion('9.9.9', behaviour), dir);
    const child = spawn(process.execPath, [join(dir, 'server.mjs')], {
      env: { ...process.env, PORT: '0', REGION: 'test' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const port = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          const match = / listening on (\d+)/.exec(chunk.toString('utf8'));
          if (match?.[1]) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`the demo server exited (${code}) before listening`)));
      });
      const url = `http://127.0.0.1:${port}/`;
      expect(await statuses(url, 5)).toEqual([200, 200, 200, 200, 200]);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect(await statuses(url, 5)).toEqual([500, 500, 500, 500, 500]);
      // The health check stays green: the instance is up, only its answers are wrong (what a canary cannot see late).
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
