// Chooses the config store (which also holds the version ledger and the release calendar) from configuration:
// the embedded file store by default, AWS SSM Parameter Store with CONFIG_STORE=ssm. Shared by the worker and the API,
// which must read and write the same store.
import { z } from 'zod';
import { createSsmClient } from '../aws/ssm-client';
import { dataPaths } from '../data-paths';
import type { ConfigStore } from './config-store';
import { FileConfigStore } from './file-config-store';
import { SsmConfigStore } from './ssm-config-store';

export const ConfigStoreEnv = z.object({
  /** `file` (embedded, under DATA_DIR) or `ssm` (AWS Systems Manager Parameter Store). */
  CONFIG_STORE: z.enum(['file', 'ssm']).default('file'),
  /** AWS region of the SSM providers (config store, fleet); credentials come from the SDK's default chain. */
  AWS_REGION: z.string().min(1).optional(),
  /** An SSM endpoint other than AWS's (a VPC endpoint, LocalStack, a test double). */
  SSM_ENDPOINT: z.url().optional(),
  /** An S3 endpoint other than AWS's (moto_server, MinIO), for ssm fleets whose artifacts go through a bucket. */
  S3_ENDPOINT: z.url().optional(),
});
export type ConfigStoreEnv = z.infer<typeof ConfigStoreEnv>;

/** AWS_REGION is required by anything that talks to SSM; said in the same words as other bad variables. */
export function requireAwsRegion(env: { AWS_REGION?: string | undefined }, why: string): string {
  if (!env.AWS_REGION) throw new Error(`Invalid environment:\n✖ AWS_REGION is required ${why}\n  → at AWS_REGION`);
  return env.AWS_REGION;
}

export function openConfigStore(env: ConfigStoreEnv & { DATA_DIR: string }): ConfigStore {
  if (env.CONFIG_STORE === 'file') return new FileConfigStore(dataPaths(env.DATA_DIR).configStore);
  const region = requireAwsRegion(env, 'with CONFIG_STORE=ssm');
  return new SsmConfigStore(createSsmClient({ region, ...(env.SSM_ENDPOINT ? { endpoint: env.SSM_ENDPOINT } : {}) }));
}
