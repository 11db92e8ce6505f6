// relctl fleet ssm install: creates or updates the release engine's SSM Command documents in an AWS account and region
// (AWS_REGION, SSM_ENDPOINT, credentials from the SDK's default chain). No API token: it talks to SSM only. Safe to run
// again: documents whose default version has the shipped content are left alone.
import { createSsmClient } from '../providers/aws/ssm-client';
import { installSsmDocuments, SSM_DOCUMENTS_VERSION } from '../providers/fleet/ssm-documents';

export class FleetCommandError extends Error {}

export async function fleetCommand(
  args: string[],
  values: { json?: boolean | undefined },
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<number> {
  const [driver, verb] = args;
  if (driver !== 'ssm' || verb !== 'install') {
    throw new FleetCommandError(`unknown command: fleet ${args.join(' ')} (try: relctl fleet ssm install)`);
  }
  const region = env.AWS_REGION;
  if (!region) throw new FleetCommandError('fleet ssm install needs AWS_REGION (the region the instances run in)');
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN } = env;
  const client = createSsmClient({
    region,
    ...(env.SSM_ENDPOINT ? { endpoint: env.SSM_ENDPOINT } : {}),
    // Keys in the environment given (relctl's own) win; otherwise the SDK's usual chain (profile, instance role).
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  });
  try {
    const outcomes = await installSsmDocuments(client);
    if (values.json) {
      print(JSON.stringify({ documentsVersion: SSM_DOCUMENTS_VERSION, region, documents: outcomes }, null, 2));
    } else {
      for (const o of outcomes)
        print(`${o.name.padEnd(26)} ${o.action.padEnd(10)} default version ${o.documentVersion}`);
      print(`release engine documents v${SSM_DOCUMENTS_VERSION} installed in ${region}`);
    }
    return 0;
  } finally {
    client.destroy();
  }
}
