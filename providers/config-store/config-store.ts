// A parameter store interface shaped like AWS SSM Parameter Store (hierarchical names, versions, history), so the
// SSM implementation and the file-backed embedded default are interchangeable.

export interface Parameter {
  name: string;
  value: string;
  version: number;
  lastModified: string;
}

export interface ConfigStore {
  get(name: string): Promise<Parameter | undefined>;
  /** Writes a new version of `name`; with `overwrite: false` it fails if the name exists. */
  put(name: string, value: string, options?: { overwrite?: boolean }): Promise<{ version: number }>;
  /** Parameters under `path` (recursive). */
  getByPath(path: string): Promise<Parameter[]>;
  /** Every version of `name`, oldest first. */
  history(name: string): Promise<Parameter[]>;
  /** Removes `name` and its history; false when there was nothing to remove. */
  delete(name: string): Promise<boolean>;
}

export class ParameterExistsError extends Error {
  override readonly name = 'ParameterExistsError';
}
