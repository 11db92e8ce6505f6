// Seeds a data directory for the demo: the hello artifacts and dev API tokens (hashes for the API, plaintext for
// the person at the keyboard, both git-ignored). Used by the dev stack at start-up and, as an entry point, by the
// docker-compose setup: `node --import tsx scripts/seed-demo.ts`. The dev stack also takes its payload encryption
// key from here (ensureDevPayloadKeys).
import { createPublicKey, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { hashToken, type Role, TokensFile } from '../api/auth';
import { DEMO_SERVICE, DEMO_TRAIN_SERVICES, seedDemoArtifacts, seedDemoTrainServices } from '../demo/seed';
import { generateSigningKey, keyIdOf } from '../providers/artifacts/signing';
import { generatePayloadKeyEntry } from '../providers/codec/payload-keys';
import type { TrustFile } from '../providers/artifacts/trust-store';
import { LocalArtifactStore } from '../providers/artifacts/local-artifact-store';
import { decisionKeyPaths, ensureDecisionKeys } from '../providers/keys/decision-keys';
import { dataPaths } from '../providers/data-paths';
import { restrictUmask } from '../providers/file-modes';

export const DEV_PRINCIPALS: { principal: string; roles: Role[]; purpose: string }[] = [
  { principal: 'ci-pipeline', roles: ['pipeline'], purpose: 'starts releases' },
  { principal: 'alice', roles: ['approver'], purpose: 'approves gates' },
  { principal: 'bob', roles: ['approver'], purpose: 'approves gates (second approver)' },
  { principal: 'sam', roles: ['sre', 'operator'], purpose: 'pauses, aborts, rolls back' },
  { principal: 'admin', roles: ['admin'], purpose: 'everything' },
  { principal: 'temporal-ui', roles: ['viewer'], purpose: 'the dev Temporal UI decodes payloads with it' },
  { principal: 'alertmanager', roles: ['alerter'], purpose: 'posts alerts to /api/v1/alerts/alertmanager' },
  { principal: 'contract-ci', roles: ['checker'], purpose: 'reports external checks to /api/v1/check/report' },
];

const DevCredentials = z.record(z.string(), z.string());

/** Dev tokens per principal, generated once per data directory (a principal added later gets one on the next run). */
export async function ensureDevTokens(
  paths: ReturnType<typeof dataPaths>,
): Promise<{ credentials: Record<string, string>; created: boolean }> {
  const exists = existsSync(paths.devCredentials) && existsSync(paths.apiTokens);
  const credentials: Record<string, string> = exists
    ? DevCredentials.parse(JSON.parse(await readFile(paths.devCredentials, 'utf8')))
    : {};
  const file: TokensFile = exists
    ? TokensFile.parse(JSON.parse(await readFile(paths.apiTokens, 'utf8')))
    : { tokens: [] };
  const missing = DEV_PRINCIPALS.filter(({ principal }) => credentials[principal] === undefined);
  if (missing.length === 0) return { credentials, created: false };
  for (const { principal, roles } of missing) {
    const token = `dev-${principal}-${randomBytes(18).toString('base64url')}`;
    credentials[principal] = token;
    file.tokens.push({ sha256: hashToken(token), principal, roles });
  }
  await mkdir(paths.root, { recursive: true });
  await writeFile(paths.apiTokens, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await writeFile(paths.devCredentials, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return { credentials, created: true };
}

/** The dev stack's payload encryption keys file (one key, `dev-1`), generated once per data directory. */
export async function ensureDevPayloadKeys(
  paths: ReturnType<typeof dataPaths>,
): Promise<{ file: string; created: boolean }> {
  if (existsSync(paths.devPayloadKeys)) return { file: paths.devPayloadKeys, created: false };
  await mkdir(dirname(paths.devPayloadKeys), { recursive: true, mode: 0o700 });
  const contents = [
    '# Payload encryption keys of the dev stack (PAYLOAD_KEYS_FILE): <keyId>:<base64 32-byte key>, the first is current.',
    '# Local only and git-ignored. Deleting this file makes every encrypted payload in .data/temporal unreadable.',
    generatePayloadKeyEntry('dev-1'),
    '',
  ].join('\n');
  await writeFile(paths.devPayloadKeys, contents, { mode: 0o600 });
  return { file: paths.devPayloadKeys, created: true };
}

/**
 * A dev signing key (local, git-ignored) and a trust file in which the demo service trusts it, generated once, so the
 * demo releases only signed artifacts as production would.
 */
export async function ensureDevSigningKey(
  paths: ReturnType<typeof dataPaths>,
): Promise<{ keyId: string; privateKeyPem: string }> {
  if (existsSync(paths.devSigningKey) && existsSync(paths.trustedKeys)) {
    const privateKeyPem = await readFile(paths.devSigningKey, 'utf8');
    // A data dir from before the demo had greeter and web: its dev key comes to sign them too.
    const trust = JSON.parse(await readFile(paths.trustedKeys, 'utf8')) as TrustFile;
    const dev = trust.keys.find((k) => k.comment === 'dev signing key');
    const missing = DEMO_TRAIN_SERVICES.filter((s) => dev?.services && !dev.services.includes(s));
    if (dev?.services && missing.length > 0) {
      dev.services.push(...missing);
      await writeFile(paths.trustedKeys, `${JSON.stringify(trust, null, 2)}\n`, { mode: 0o600 });
    }
    return {
      keyId: keyIdOf(createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString()),
      privateKeyPem,
    };
  }
  const key = generateSigningKey();
  await mkdir(dirname(paths.devSigningKey), { recursive: true });
  await writeFile(paths.devSigningKey, key.privateKeyPem, { mode: 0o600 });
  await writeFile(`${paths.devSigningKey.replace(/\.key$/, '')}.pub`, key.publicKeyPem);
  const trust: TrustFile = {
    keys: [
      { publicKey: key.publicKeyPem, services: [DEMO_SERVICE, ...DEMO_TRAIN_SERVICES], comment: 'dev signing key' },
    ],
  };
  await writeFile(paths.trustedKeys, `${JSON.stringify(trust, null, 2)}\n`);
  return { keyId: key.keyId, privateKeyPem: key.privateKeyPem };
}

/** Seeds the signed demo artifacts and dev tokens into `dataDir`. Idempotent. */
export async function seedDemo(dataDir: string) {
  const paths = dataPaths(dataDir);
  const signing = await ensureDevSigningKey(paths);
  const store = new LocalArtifactStore(paths.artifacts);
  const artifacts = [
    ...(await seedDemoArtifacts(store, { signingKeyPem: signing.privateKeyPem })),
    ...(await seedDemoTrainServices(store, { signingKeyPem: signing.privateKeyPem })),
  ];
  const tokens = await ensureDevTokens(paths);
  // The API signs decisions with this key; the worker trusts its public half (compose's demo-seed makes it too).
  const decisionKeys = await ensureDecisionKeys(decisionKeyPaths(dataDir));
  return { paths, artifacts, signingKeyId: signing.keyId, decisionKeysCreated: decisionKeys.created, ...tokens };
}

if (require.main === module) {
  restrictUmask();
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
