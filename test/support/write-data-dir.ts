// Run as a process by test/acceptance/data-file-modes.test.ts: writes a data directory the way the stack's processes
// do, with the stack's start-up (umask, repair of an older tree) and the real writers: demo seeding (tokens, keys,
// artifacts), the audit trail in PGlite with its signing key, the config store (ledger), a log and a pid file, and
// the Temporal dev server's sqlite file (a child process, as the dev stack starts it).
// Usage: node --import tsx test/support/write-data-dir.ts <data dir> <temporal cli>
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { loadOrCreateAuditSigningKey } from '../../providers/audit/signing-key';
import { SqlAuditStore } from '../../providers/audit/sql-audit-store';
import { FileConfigStore } from '../../providers/config-store/file-config-store';
import { VersionLedger } from '../../providers/config-store/version-ledger';
import { dataPaths } from '../../providers/data-paths';
import { repairDataModes, restrictUmask } from '../../providers/file-modes';
import { openDatabase } from '../../providers/sql/database';
import { seedDemo } from '../../scripts/seed-demo';

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
    server.once('error', fail);
  });
}

async function main() {
  restrictUmask();
  const [root, temporalCli] = process.argv.slice(2);
  if (!root || !temporalCli) throw new Error('usage: write-data-dir.ts <data dir> <temporal cli>');
  const paths = dataPaths(root);
  await repairDataModes(paths.root);
  await mkdir(paths.logs, { recursive: true });
  await mkdir(join(paths.root, 'pids'), { recursive: true });
  await mkdir(dirname(paths.temporalDb), { recursive: true });

  await seedDemo(paths.root);
  const auditDb = await openDatabase({ pgliteDir: paths.audit });
  const audit = new SqlAuditStore(auditDb, { signer: loadOrCreateAuditSigningKey(paths.auditSigningKey) });
  await audit.append([
    { id: 'modes#1', at: new Date().toISOString(), actor: 'engine', action: 'release.requested', service: 'hello' },
  ]);
  // Checked while it is open, as a running worker's files are.
  await audit.verify();
  const ledger = new VersionLedger(new FileConfigStore(paths.configStore));
  await ledger.observe('hello', 'local-a', '1.0.0', new Date().toISOString());

  const log = createWriteStream(join(paths.logs, 'temporal.log'), { flags: 'a' });
  const [port, uiPort] = [await freePort(), await freePort()];
  const server = spawn(
    temporalCli,
    [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
    ].concat(['--db-filename', paths.temporalDb, '--log-level', 'warn']),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout.pipe(log);
  server.stderr.pipe(log);
  await writeFile(join(paths.root, 'pids', 'temporal.pid'), `${server.pid}\n`);
  const deadline = Date.now() + 30_000;
  while (!existsSync(paths.temporalDb) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500)); // its -wal and -shm files
  server.kill('SIGKILL'); // only its files matter here, not a clean shutdown
  await new Promise((r) => server.once('exit', r));
  log.end();
  if (!existsSync(paths.temporalDb)) throw new Error(`the Temporal dev server wrote no ${paths.temporalDb}`);
}

// Exits without closing the audit database: the files are checked as a running (or killed) worker leaves them.
main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
