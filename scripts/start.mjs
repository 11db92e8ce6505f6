// `npm start`: bootstrap (dependencies, Temporal CLI), then run the dev stack (scripts/dev-stack.ts).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ensureDependencies, ensureTemporalCli, ROOT } from './bootstrap.mjs';

// Files under .data are the owner's only (see providers/file-modes.ts); the stack and its children inherit this.
process.umask(0o077);

try {
  ensureDependencies();
  const cli = ensureTemporalCli();
  process.stderr.write(`[bootstrap] Temporal CLI: ${cli.path} (from ${cli.source})\n`);
  // Imported once the dependencies are there (it needs esbuild).
  const { buildWeb } = await import('./build-web.mjs');
  await buildWeb();
  process.stderr.write('[bootstrap] web console built\n');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'dev-stack.ts')], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, TEMPORAL_CLI: cli.path },
  });
  // Ctrl-C (SIGINT) and a closed terminal (SIGHUP) reach the stack directly, as it shares our process group: the
  // stack stops its processes in order while this wrapper waits. A SIGTERM sent to this wrapper alone is passed on.
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} catch (err) {
  process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
