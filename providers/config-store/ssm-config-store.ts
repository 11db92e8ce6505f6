// The config store on AWS Systems Manager Parameter Store: the same semantics as the embedded file store
// (versions from 1, history oldest first, getByPath lists what lies under a path), with SSM doing the versioning.
// Secret parameters are stored as SecureString; their values never appear in an error message or a log line.
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParameterHistoryCommand,
  GetParametersByPathCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { type ConfigStore, type Parameter, ParameterExistsError } from './config-store';

export interface SsmConfigStoreOptions {
  /** Whether `name` holds a secret (stored as SecureString). Default: names under a `/secret/` segment. */
  secure?: (name: string) => boolean;
}

/** The default secrecy rule: a `secret` segment above the last one, e.g. /app/prod/secret/db-password. */
export function underSecretSegment(name: string): boolean {
  return name.split('/').slice(0, -1).includes('secret');
}

interface ApiParameter {
  Name?: string;
  Value?: string;
  Version?: number;
  LastModifiedDate?: Date;
}

function toParameter(p: ApiParameter, fallbackName: string): Parameter {
  return {
    name: p.Name ?? fallbackName,
    value: p.Value ?? '',
    version: p.Version ?? 0,
    lastModified: (p.LastModifiedDate ?? new Date(0)).toISOString(),
  };
}

/** ConfigStore on SSM Parameter Store. */
export class SsmConfigStore implements ConfigStore {
  private readonly secure: (name: string) => boolean;

  constructor(
    private readonly client: SSMClient,
    options: SsmConfigStoreOptions = {},
  ) {
    this.secure = options.secure ?? underSecretSegment;
  }

  async get(name: string): Promise<Parameter | undefined> {
    try {
      const out = await this.client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      return out.Parameter ? toParameter(out.Parameter, name) : undefined;
    } catch (err) {
      if (err instanceof ParameterNotFound) return undefined;
      throw refused('read', name, err);
    }
  }

  async put(name: string, value: string, options: { overwrite?: boolean } = {}): Promise<{ version: number }> {
    try {
      const out = await this.client.send(
        new PutParameterCommand({
          Name: name,
          Value: value,
          Type: this.secure(name) ? 'SecureString' : 'String',
          // Like the file store, a put overwrites unless told not to.
          Overwrite: options.overwrite !== false,
        }),
      );
      return { version: out.Version ?? 0 };
    } catch (err) {
      if (err instanceof ParameterAlreadyExists) throw new ParameterExistsError(`parameter ${name} already exists`);
      throw refused('write', name, err);
    }
  }

  async getByPath(path: string): Promise<Parameter[]> {
    // SSM takes the path without a trailing slash and, like the file store, lists only what lies under it.
    const Path = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const parameters: Parameter[] = [];
    let NextToken: string | undefined;
    try {
      do {
        const out = await this.client.send(
          new GetParametersByPathCommand({ Path, Recursive: true, WithDecryption: true, NextToken }),
        );
        parameters.push(...(out.Parameters ?? []).map((p) => toParameter(p, '')));
        NextToken = out.NextToken;
      } while (NextToken);
    } catch (err) {
      throw refused('list the parameters under', path, err);
    }
    return parameters;
  }

  async history(name: string): Promise<Parameter[]> {
    const versions: Parameter[] = [];
    let NextToken: string | undefined;
    try {
      do {
        const out = await this.client.send(
          new GetParameterHistoryCommand({ Name: name, WithDecryption: true, NextToken }),
        );
        versions.push(...(out.Parameters ?? []).map((p) => toParameter(p, name)));
        NextToken = out.NextToken;
      } while (NextToken);
    } catch (err) {
      if (err instanceof ParameterNotFound) return [];
      throw refused('read the history of', name, err);
    }
    // SSM returns the history oldest first already; sorting keeps that promise whatever the pages do.
    return versions.sort((a, b) => a.version - b.version);
  }

  async delete(name: string): Promise<boolean> {
    try {
      await this.client.send(new DeleteParameterCommand({ Name: name }));
      return true;
    } catch (err) {
      if (err instanceof ParameterNotFound) return false;
      throw refused('delete', name, err);
    }
  }
}

/** An error naming the parameter (never its value) and what SSM said. */
function refused(action: string, name: string, err: unknown): Error {
  const e = err as Error;
  return new Error(`SSM Parameter Store could not ${action} ${name}: ${e.name}: ${e.message}`, { cause: err });
}
