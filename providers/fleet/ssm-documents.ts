// The five SSM Command documents the `ssm` fleet driver sends, as shipped in deploy/ssm/documents/*.json, and their
// installation (`relctl fleet ssm install`).
//
// The documents are built from the shell scripts in deploy/ssm/scripts (common.sh, then the step's own script), with
// the parameters assigned in single quotes at the top; every parameter has an allowedPattern that admits no quote,
// space or backslash, so SSM itself refuses a value that could break out of its quotes before any host runs it.
// `npm run ssm:documents` writes the JSON; a unit test fails when the committed JSON differs from the scripts.
//
// Installing is idempotent: a document whose default version already has this content is left alone; one with other
// content gets a new version (named after the shipped version and a content hash) made its default.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CreateDocumentCommand,
  DescribeDocumentCommand,
  GetDocumentCommand,
  type SSMClient,
  UpdateDocumentCommand,
  UpdateDocumentDefaultVersionCommand,
} from '@aws-sdk/client-ssm';
import { DEFAULT_DOCUMENTS, type SsmDocumentNames, toFleetError } from './ssm-fleet';

/** The documents' own version: raised whenever a script or a parameter changes meaning. */
export const SSM_DOCUMENTS_VERSION = 1;

export const SSM_DIR = resolve(import.meta.dirname, '..', '..', 'deploy', 'ssm');

interface ParameterSpec {
  type: 'String';
  description: string;
  allowedPattern: string;
  default?: string;
}

const P: Record<string, ParameterSpec> = {
  service: {
    type: 'String',
    description: 'The service (the instance is tagged with it too).',
    allowedPattern: '^[a-z][a-z0-9-]{0,62}$',
  },
  version: {
    type: 'String',
    description: 'The version, as in the artifact manifest.',
    allowedPattern: '^[0-9A-Za-z.+-]{1,128}$',
  },
  digest: { type: 'String', description: 'The artifact digest.', allowedPattern: '^sha256:[0-9a-f]{64}$' },
  artifactUrl: {
    type: 'String',
    description: "A short-lived URL of the artifact (the engine's signed URL, or an S3 presigned URL).",
    allowedPattern: '^https?://[^\\s\'"\\\\`]{1,3000}$',
  },
  percent: {
    type: 'String',
    description: "The canary's share of the traffic, 0 to 100.",
    allowedPattern: '^([0-9]|[1-9][0-9]|100)$',
  },
  requestId: {
    type: 'String',
    description: 'The release that sent the command (for the host log and hooks).',
    allowedPattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
    default: 'none',
  },
};

interface DocumentSource {
  key: keyof SsmDocumentNames;
  step: string;
  script: string;
  parameters: string[];
  description: string;
}

const SOURCES: DocumentSource[] = [
  {
    key: 'deploy',
    step: 'deploy',
    script: 'deploy.sh',
    parameters: ['service', 'version', 'digest', 'artifactUrl', 'requestId'],
    description: 'fetch the artifact by URL, check its digest, unpack it and start the version at 0% of the traffic',
  },
  {
    key: 'setTraffic',
    step: 'setTraffic',
    script: 'set-traffic.sh',
    parameters: ['service', 'version', 'percent', 'requestId'],
    description: 'give the canary version its share of the traffic and the stable version the rest',
  },
  {
    key: 'promote',
    step: 'promote',
    script: 'promote.sh',
    parameters: ['service', 'version', 'requestId'],
    description: 'serve all traffic from the version and stop every other one',
  },
  {
    key: 'revert',
    step: 'revert',
    script: 'revert.sh',
    parameters: ['service', 'version', 'requestId'],
    description: 'go back to a version this host has run, starting it again from its release on disk',
  },
  {
    key: 'status',
    step: 'status',
    script: 'status.sh',
    parameters: ['service', 'requestId'],
    description: 'print what the host runs, as one JSON object',
  },
];

const SHELL_NAMES: Record<string, string> = {
  service: 'SERVICE',
  version: 'VERSION',
  digest: 'DIGEST',
  artifactUrl: 'ARTIFACT_URL',
  percent: 'PERCENT',
  requestId: 'REQUEST_ID',
};

export interface SsmDocument {
  schemaVersion: '2.2';
  description: string;
  parameters: Record<string, ParameterSpec>;
  mainSteps: {
    action: 'aws:runShellScript';
    name: string;
    precondition: { StringEquals: [string, string] };
    inputs: { timeoutSeconds: string; runCommand: string[] };
  }[];
}

/** The documents as the scripts in deploy/ssm/scripts make them, by default name. */
export function buildSsmDocuments(dir = SSM_DIR): Record<string, SsmDocument> {
  const lines = (file: string) =>
    readFileSync(join(dir, 'scripts', file), 'utf8')
      .replace(/\n+$/, '')
      .split('\n')
      .filter((line) => !line.startsWith('#') || line.startsWith('#!'));
  const common = lines('common.sh');
  const out: Record<string, SsmDocument> = {};
  for (const source of SOURCES) {
    const assignments = [`STEP='${source.step}'`, ...source.parameters.map((p) => `${SHELL_NAMES[p]}='{{ ${p} }}'`)];
    out[DEFAULT_DOCUMENTS[source.key]] = {
      schemaVersion: '2.2',
      description: `Release engine documents v${SSM_DOCUMENTS_VERSION}: ${source.description}.`,
      parameters: Object.fromEntries(source.parameters.map((p) => [p, P[p] as ParameterSpec])),
      mainSteps: [
        {
          action: 'aws:runShellScript',
          name: `releaseEngine${source.key[0]?.toUpperCase()}${source.key.slice(1)}`,
          precondition: { StringEquals: ['platformType', 'Linux'] },
          inputs: { timeoutSeconds: '600', runCommand: [...assignments, ...common, ...lines(source.script)] },
        },
      ],
    };
  }
  return out;
}

/** The shipped documents (deploy/ssm/documents/<name>.json), by name. */
export function shippedSsmDocuments(dir = SSM_DIR): Record<string, SsmDocument> {
  const out: Record<string, SsmDocument> = {};
  const names = Object.values<string>(DEFAULT_DOCUMENTS as unknown as Record<string, string>);
  for (const name of names) {
    out[name] = JSON.parse(readFileSync(join(dir, 'documents', `${name}.json`), 'utf8')) as SsmDocument;
  }
  return out;
}

/** The text of a document as shipped (stable key order, two-space indent, final newline). */
export function documentText(document: SsmDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

export interface InstallOutcome {
  name: string;
  action: 'created' | 'updated' | 'unchanged';
  /** The document version SSM now runs by default. */
  documentVersion: string;
}

/**
 * Creates or updates the shipped documents in the account and region of `client`; `prefix` names them (default
 * ReleaseEngine-..., the names the driver sends). Safe to run again: unchanged documents are left alone.
 */
export async function installSsmDocuments(
  client: SSMClient,
  options: { documents?: Record<string, SsmDocument>; names?: Partial<SsmDocumentNames> } = {},
): Promise<InstallOutcome[]> {
  const documents = options.documents ?? shippedSsmDocuments();
  const names = { ...DEFAULT_DOCUMENTS, ...options.names };
  const outcomes: InstallOutcome[] = [];
  for (const [key, defaultName] of Object.entries(DEFAULT_DOCUMENTS) as [keyof SsmDocumentNames, string][]) {
    const document = documents[defaultName];
    if (!document) throw new Error(`no shipped document ${defaultName}`);
    const name = names[key];
    const content = JSON.stringify(document);
    const versionName = `v${SSM_DOCUMENTS_VERSION}-${createHash('sha256').update(content).digest('hex').slice(0, 12)}`;
    const current = await describe(client, name);
    if (!current) {
      const created = await call(`create the document ${name}`, () =>
        client.send(
          new CreateDocumentCommand({
            Name: name,
            Content: content,
            DocumentType: 'Command',
            DocumentFormat: 'JSON',
            VersionName: versionName,
          }),
        ),
      );
      outcomes.push({ name, action: 'created', documentVersion: created.DocumentDescription?.DocumentVersion ?? '1' });
      continue;
    }
    const installed = await call(`read the document ${name}`, () =>
      client.send(new GetDocumentCommand({ Name: name, DocumentVersion: current.defaultVersion })),
    );
    if (sameJson(installed.Content, content)) {
      outcomes.push({ name, action: 'unchanged', documentVersion: current.defaultVersion });
      continue;
    }
    let documentVersion: string;
    try {
      const updated = await call(`update the document ${name}`, () =>
        client.send(
          new UpdateDocumentCommand({
            Name: name,
            Content: content,
            DocumentVersion: '$LATEST',
            DocumentFormat: 'JSON',
            VersionName: versionName,
          }),
        ),
      );
      documentVersion = updated.DocumentDescription?.DocumentVersion ?? current.latestVersion;
    } catch (err) {
      // The latest version already has this content (an install interrupted before it set the default): use it.
      if (!/DuplicateDocumentContent|DuplicateDocumentVersionName/.test(String((err as Error).message))) throw err;
      documentVersion = current.latestVersion;
    }
    await call(`make version ${documentVersion} of ${name} its default`, () =>
      client.send(new UpdateDocumentDefaultVersionCommand({ Name: name, DocumentVersion: documentVersion })),
    );
    outcomes.push({ name, action: 'updated', documentVersion });
  }
  return outcomes;
}

async function describe(
  client: SSMClient,
  name: string,
): Promise<{ defaultVersion: string; latestVersion: string } | undefined> {
  try {
    const out = await client.send(new DescribeDocumentCommand({ Name: name }));
    return {
      defaultVersion: out.Document?.DefaultVersion ?? '$DEFAULT',
      latestVersion: out.Document?.LatestVersion ?? '$LATEST',
    };
  } catch (err) {
    if ((err as Error).name === 'InvalidDocument') return undefined;
    throw toFleetError(`look up the document ${name}`, err);
  }
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = toFleetError(what, err);
    throw Object.assign(new Error(e.message), { name: (err as Error).name });
  }
}

function sameJson(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}
