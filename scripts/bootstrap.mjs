// Bootstrap shared by `npm start` and `npm test`: installs dependencies when the lock file changed and finds (or
// builds from source) the Temporal CLI. Plain Node with no dependencies, because it runs before `npm ci`.
// It never downloads a binary: the CLI comes from TEMPORAL_CLI, PATH, the git-ignored .tools folder, or `go install`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const TEMPORAL_MODULE = 'github.com/temporalio/cli/cmd/temporal';
// Where the CLI is built; overridable so tests can point it at an empty folder.
const TOOLS_BIN = process.env.RELEASE_ENGINE_TOOLS_DIR
  ? resolve(process.env.RELEASE_ENGINE_TOOLS_DIR)
  : join(ROOT, '.tools', 'bin');
const EXE = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

/** Prints a bootstrap progress line on stderr, so stdout stays clean for `--temporal-path`. */
function say(message) {
  process.stderr.write(`[bootstrap] ${message}\n`);
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs `npm ci` when node_modules is missing or was installed from a different package-lock.json. */
export function ensureDependencies() {
  const lock = join(ROOT, 'package-lock.json');
  const stamp = join(ROOT, 'node_modules', '.release-engine-lock-sha256');
  const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) return;
  say('installing dependencies (npm ci) ...');
  const started = Date.now();
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error('`npm ci` failed; see its output above. Check that the npm registry is reachable.');
  }
  writeFileSync(stamp, `${want}\n`);
  say(`dependencies installed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate) && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds the Temporal CLI without building it: TEMPORAL_CLI, then `temporal` on PATH, then .tools/bin.
 * Returns `{ path, source }` or undefined.
 */
export function findTemporalCli() {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    const path = resolve(fromEnv);
    if (!existsSync(path) || !isExecutable(path)) {
      throw new Error(`TEMPORAL_CLI is set to ${fromEnv}, but that is not an executable file.`);
    }
    return { path, source: 'TEMPORAL_CLI' };
  }
  const fromPath = onPath(EXE);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  const tool = join(TOOLS_BIN, EXE);
  if (existsSync(tool) && isExecutable(tool)) return { path: tool, source: TOOLS_BIN };
  return undefined;
}

function howToGetIt(reason) {
  return [
    `The Temporal CLI (${TEMPORAL_CLI_VERSION}) is needed and could not be built: ${reason}`,
    'Get it in one of three ways, then run the command again:',
    '  1. point TEMPORAL_CLI at an existing binary:   export TEMPORAL_CLI=/path/to/temporal',
    '  2. put a `temporal` binary on your PATH        (https://docs.temporal.io/cli)',
    `  3. install Go 1.23+ and let this script build it into .tools/bin:`,
    `       CGO_ENABLED=0 GOBIN="$PWD/.tools/bin" go install ${TEMPORAL_MODULE}@${TEMPORAL_CLI_VERSION}`,
  ].join('\n');
}

/** Finds the Temporal CLI, building it with `go install` into .tools/bin when nothing else provides one. */
export function ensureTemporalCli() {
  const found = findTemporalCli();
  if (found) return found;
  const go = onPath('go');
  if (!go) throw new Error(howToGetIt('Go is not installed (no `go` on PATH).'));
  mkdirSync(TOOLS_BIN, { recursive: true });
  say(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} from source with ${go} (first run only;`);
  say('  a few minutes on a cold Go module cache, seconds on a warm one) ...');
  const started = Date.now();
  const result = spawnSync(go, ['install', `${TEMPORAL_MODULE}@${TEMPORAL_CLI_VERSION}`], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      CGO_ENABLED: '0',
      GOBIN: TOOLS_BIN,
      GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim(),
    },
  });
  const tool = join(TOOLS_BIN, EXE);
  if (result.status !== 0 || !existsSync(tool)) {
    throw new Error(howToGetIt(`\`go install\` exited with status ${result.status ?? result.signal}.`));
  }
  say(`built ${tool} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  return { path: tool, source: 'built' };
}

// `node scripts/bootstrap.mjs [--temporal-path]`: bootstrap, and optionally print the CLI path on stdout.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    if (!process.argv.includes('--no-install')) ensureDependencies();
    const cli = ensureTemporalCli();
    if (process.argv.includes('--temporal-path')) process.stdout.write(`${cli.path}\n`);
    else say(`Temporal CLI: ${cli.path} (from ${cli.source})`);
  } catch (err) {
    process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

/**
 * Debian's chromium for the browser tests (driven by playwright-core): CHROMIUM_PATH, then chromium on PATH; when
 * neither is there, installs the `chromium` package with apt-get (needs root, and Debian's package mirror).
 * Returns its path.
 */
export function ensureChromium() {
  if (process.env.CHROMIUM_PATH && isExecutable(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH;
  const found = onPath('chromium');
  if (found) return found;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(
      'The browser tests need chromium and it is not installed. Install it (sudo apt-get install chromium) or set ' +
        'CHROMIUM_PATH to a Chromium binary, then run the tests again.',
    );
  }
  say('installing chromium for the browser tests (apt-get) ...');
  const started = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (result.status !== 0) {
      throw new Error(
        `\`apt-get ${args.join(' ')}\` failed; see its output above. Is Debian's package mirror reachable?`,
      );
    }
  }
  const installed = onPath('chromium');
  if (!installed) throw new Error('apt-get installed chromium, but no `chromium` is on PATH');
  say(`chromium installed in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return installed;
}
