// Builds the AWS Systems Manager client the SSM providers share, from plain configuration. An explicit endpoint and
// static credentials serve local doubles and LocalStack-like setups; without them the SDK's default credential
// chain (environment, profile, instance role) applies.
import { SSMClient } from '@aws-sdk/client-ssm';

export interface SsmClientConfig {
  region: string;
  /** e.g. http://127.0.0.1:4566; the AWS endpoint of `region` when absent. */
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per call, first one included (default 5); throttling and transient errors are retried with backoff. */
  maxAttempts?: number;
}

/** An SSMClient for `config`, retrying throttled and transient calls up to `maxAttempts` times. */
export function createSsmClient(config: SsmClientConfig): SSMClient {
  return new SSMClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    maxAttempts: config.maxAttempts ?? 5,
  });
}
