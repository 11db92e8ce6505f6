// Seeds a data directory for the demo: the hello artifacts and dev API tokens (hashes for the API, plaintext for
// the person at the keyboard, both git-ignored). Used by the dev stack at start-up and, as an entry point, by the
// docker-compose setup: `node --import tsx scripts/seed-demo.ts`.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { hashToken, type Role, type TokensFile } from '../api/auth';
import { seedDemoArtifacts } from '../demo/seed';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { dataPaths } from '../providers/data-paths';

export const DEV_PRINCIPALS: { principal: string; roles: Role[]; purpose: string }[] = [
  { principal: 'ci-pipeline', roles: ['pipeline'], purpose: 'starts releases' },
  { principal: 'alice', roles: ['approver'], purpose: 'approves gates' },
  { principal: 'bob', roles: ['approver'], purpose: 'approves gates (second approver)' },
  { principal: 'sam', roles: ['sre', 'operator'], purpose: 'pauses, aborts, rolls back' },
  { principal: 'admin', roles: ['admin'], purpose: 'everything' },
];

const DevCredentials = z.record(z.string(), z.string());

/** Dev tokens per principal, generated once per data directory. */
export async function ensureDevTokens(
  paths: ReturnType<typeof dataPaths>,
): Promise<{ credentials: Record<string, string>; created: boolean }> {
  if (existsSync(paths.devCredentials) && existsSync(paths.apiTokens)) {
    return {
      credentials: DevCredentials.parse(JSON.parse(await readFile(paths.devCredentials, 'utf8'))),
      created: false,
    };
  }
  const credentials: Record<string, string> = {};
  const file: TokensFile = { tokens: [] };
  for (const { principal, roles } of DEV_PRINCIPALS) {
    const token = `dev-${principal}-${randomBytes(18).toString('base64url')}`;
    credentials[principal] = token;
    file.tokens.push({ sha256: hashToken(token), principal, roles });
  }
  await mkdir(paths.root, { recursive: true });
  await writeFile(paths.apiTokens, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await writeFile(paths.devCredentials, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return { credentials, created: true };
}

/** Seeds the demo artifacts and dev tokens into `dataDir`. Idempotent. */
export async function seedDemo(dataDir: string) {
  const paths = dataPaths(dataDir);
  const artifacts = await seedDemoArtifacts(new LocalArtifactStore(paths.artifacts));
  const tokens = await ensureDevTokens(paths);
  return { paths, artifacts, ...tokens };
}

if (require.main === module) {
  seedDemo(process.env.DATA_DIR ?? '.data').then(
    ({ artifacts, credentials, paths }) => {
      console.log(`artifacts: ${artifacts.map((a) => `${a.service}@${a.version}`).join(', ')}`);
      console.log(`dev API tokens (${paths.devCredentials}):`);
      for (const [principal, token] of Object.entries(credentials)) console.log(`  ${principal.padEnd(12)} ${token}`);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
