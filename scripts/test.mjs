// `npm test`: bootstrap (dependencies, Temporal CLI, chromium for the browser tests), then lint, format check, typecheck and every vitest project
// (unit, workflow, acceptance, replay). Every step runs even if an earlier one failed, so one run reports
// everything; the exit code is non-zero if any step failed.
//
// `node scripts/test.mjs --layer <name> [--layer <name> ...] [vitest arguments]` (the test:<layer> npm scripts)
// runs only those vitest projects, and bootstraps the Temporal CLI only when one of them needs the dev server.
//
// Vitest runs through runInOwnGroup (run-group.mjs): passed, failed or interrupted with Ctrl-C, the run leaves no
// process behind (dev server, worker processes, fleet instances, moto_server), and says so if it had to stop any.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureChromium, ensureDependencies, ensureTemporalCli, ROOT } from './bootstrap.mjs';
import { runInOwnGroup } from './run-group.mjs';

// What tests write (temporary data dirs, databases, logs) is the owner's only, as in the stack (providers/file-modes.ts).
process.umask(0o077);

const LAYERS = ['unit', 'workflow', 'acceptance', 'replay'];
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

function parseArgs(argv) {
  const layers = [];
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = arg === '--layer' ? argv[++i] : arg.startsWith('--layer=') ? arg.slice('--layer='.length) : undefined;
    if (value === undefined && arg !== '--layer') {
      rest.push(arg);
      continue;
    }
    if (!LAYERS.includes(value)) {
      process.stderr.write(`[test] --layer takes one of ${LAYERS.join(', ')}, not "${value ?? ''}"\n`);
      process.exit(2);
    }
    layers.push(value);
  }
  return { layers, vitestArgs: rest };
}

function hasTests(dir) {
  if (!existsSync(dir)) return false;
  return readdirSync(dir, { recursive: true }).some((name) => String(name).endsWith('.test.ts'));
}

/**
 * Runs an npm script in our own process group, so Ctrl-C reaches it directly; resolves with its exit code and its
 * output (kept, so checks running side by side print one after the other).
 */
function npmRun(script, env) {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    const output = [];
    child.stdout.on('data', (chunk) => output.push(chunk));
    child.stderr.on('data', (chunk) => output.push(chunk));
    child.once('error', (err) => resolve({ code: 1, output: `${err.message}\n` }));
    child.once('close', (code) => resolve({ code: code ?? 1, output: Buffer.concat(output).toString() }));
  });
}

const started = Date.now();
const { layers, vitestArgs } = parseArgs(process.argv.slice(2));
const needsTemporal = layers.length === 0 || layers.some((layer) => layer !== 'unit');
const env = { ...process.env };
try {
  ensureDependencies();
  if (needsTemporal) {
    const cli = ensureTemporalCli();
    env.TEMPORAL_CLI = cli.path;
    process.stderr.write(`[test] Temporal CLI: ${cli.path} (from ${cli.source})\n`);
  }
  if (layers.length === 0 || layers.includes('acceptance')) {
    env.CHROMIUM_PATH = ensureChromium();
    process.stderr.write(`[test] chromium: ${env.CHROMIUM_PATH}\n`);
  }
} catch (err) {
  process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}

const projectArgs = layers.flatMap((layer) => ['--project', layer]);
// Until test/workflow has tests, running that layer alone finds no files; that is not a failure.
if (layers.length > 0 && layers.every((layer) => layer === 'workflow') && !hasTests(join(ROOT, 'test', 'workflow'))) {
  process.stderr.write('[test] test/workflow has no tests yet\n');
  projectArgs.push('--passWithNoTests');
}

// While a check runs, Ctrl-C reaches it directly (it shares our process group); we stop after it.
let interrupted;
const noteSignal = (name) => (interrupted ??= name);
for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(name, noteSignal);

const checks = layers.length === 0 ? ['lint', 'format:check', 'typecheck'] : [];
const results = [];
if (checks.length > 0) {
  // Side by side: each is one process, and the machine has more than one core (about 20 s saved on two).
  process.stderr.write(`\n[test] ${checks.join(', ')} (side by side) ...\n`);
  const stepStart = Date.now();
  const done = await Promise.all(
    checks.map(async (script) => ({
      script,
      ...(await npmRun(script, env)),
      seconds: (Date.now() - stepStart) / 1000,
    })),
  );
  for (const { script, code, output, seconds } of done) {
    process.stderr.write(`\n[test] ${script}:\n${output}`);
    results.push({ name: script, ok: code === 0, seconds });
  }
}

if (!interrupted) {
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(name, noteSignal);
  const stepStart = Date.now();
  const name = layers.length === 0 ? 'vitest' : `vitest (${layers.join(', ')})`;
  process.stderr.write(`\n[test] ${name} ...\n`);
  const vitest = await runInOwnGroup(process.execPath, [VITEST, 'run', ...projectArgs, ...vitestArgs], {
    env,
    cwd: ROOT,
  });
  if (vitest.leftovers.length > 0) {
    const what = vitest.interrupted ? 'were still running when the run was interrupted' : 'outlived vitest';
    process.stderr.write(`\n[test] ${vitest.leftovers.length} processes of the run ${what}; stopped them:\n`);
    for (const p of vitest.leftovers) process.stderr.write(`  ${p.pid} ${p.command}\n`);
  }
  interrupted = vitest.interrupted;
  results.push({ name, ok: vitest.code === 0 && !interrupted, seconds: (Date.now() - stepStart) / 1000 });
}

process.stderr.write(`\n[test] summary${interrupted ? ` (interrupted by ${interrupted})` : ''}\n`);
for (const r of results)
  process.stderr.write(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(12)} ${r.seconds.toFixed(1)}s\n`);
process.stderr.write(`  total ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
if (interrupted) process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[interrupted] ?? 0));
process.exit(results.every((r) => r.ok) ? 0 : 1);
