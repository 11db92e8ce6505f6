// `npm test`: bootstrap (dependencies, Temporal CLI), then lint, typecheck and the vitest suite.
// Every step runs even if an earlier one failed, so one run reports everything; the exit code is non-zero if any
// step failed.
import { spawnSync } from 'node:child_process';
import { ensureDependencies, ensureTemporalCli, ROOT } from './bootstrap.mjs';

const started = Date.now();
let cli;
try {
  ensureDependencies();
  cli = ensureTemporalCli();
} catch (err) {
  process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
process.stderr.write(`[test] Temporal CLI: ${cli.path} (from ${cli.source})\n`);

const steps = [
  ['lint', ['run', 'lint']],
  ['format', ['run', 'format:check']],
  ['typecheck', ['run', 'typecheck']],
  ['vitest', ['run', 'vitest', '--', ...process.argv.slice(2)]],
];
const results = [];
for (const [name, args] of steps) {
  const stepStart = Date.now();
  process.stderr.write(`\n[test] ${name} ...\n`);
  const result = spawnSync('npm', args, {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, TEMPORAL_CLI: cli.path },
  });
  results.push({ name, ok: result.status === 0, seconds: (Date.now() - stepStart) / 1000 });
}
process.stderr.write('\n[test] summary\n');
for (const r of results)
  process.stderr.write(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(10)} ${r.seconds.toFixed(1)}s\n`);
process.stderr.write(`  total ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
