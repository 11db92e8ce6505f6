// Runs the real relctl (bin/relctl.cjs) as a person or a pipeline step would: a child process with the API's URL and
// a principal's token in its environment.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { TestEngine } from './engine';

export const RELCTL = join(resolve(__dirname, '..', '..'), 'bin', 'relctl.cjs');

export interface RelctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts `relctl args` as `principal`; `done` resolves when it exits, `output()` is its stdout so far. */
export function startRelctl(engine: TestEngine, principal: string, args: string[]) {
  const child = spawn(process.execPath, [RELCTL, ...args], {
    env: { ...process.env, RELCTL_URL: engine.apiUrl, RELCTL_TOKEN: engine.tokens[principal] },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<RelctlRun>((finish) =>
    child.on('close', (code) => finish({ code: code ?? -1, stdout, stderr })),
  );
  return { done, output: () => stdout };
}

/** Runs `relctl args` as `principal` to its end. */
export const runRelctl = (engine: TestEngine, principal: string, args: string[]) =>
  startRelctl(engine, principal, args).done;
