// The config store in memory, with the same semantics as the file and SSM stores (versions, history, paths), so the
// real VersionLedger, CalendarStore and config parity run on it unchanged.
import { type ConfigStore, type Parameter, ParameterExistsError } from '../../../providers/config-store/config-store';

export class MemoryConfigStore implements ConfigStore {
  private readonly parameters = new Map<string, Parameter[]>();

  get(name: string): Promise<Parameter | undefined> {
    return Promise.resolve(this.parameters.get(name)?.at(-1));
  }

  put(name: string, value: string, options: { overwrite?: boolean } = {}): Promise<{ version: number }> {
    const versions = this.parameters.get(name) ?? [];
    if (versions.length > 0 && options.overwrite === false) {
      return Promise.reject(new ParameterExistsError(`parameter ${name} already exists`));
    }
    const version = (versions.at(-1)?.version ?? 0) + 1;
    this.parameters.set(name, [...versions, { name, value, version, lastModified: new Date().toISOString() }]);
    return Promise.resolve({ version });
  }

  getByPath(path: string): Promise<Parameter[]> {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const found = [...this.parameters.entries()]
      .filter(([name]) => name.startsWith(prefix))
      .flatMap(([, versions]) => versions.slice(-1));
    return Promise.resolve(found.sort((a, b) => a.name.localeCompare(b.name)));
  }

  history(name: string): Promise<Parameter[]> {
    return Promise.resolve([...(this.parameters.get(name) ?? [])]);
  }

  delete(name: string): Promise<boolean> {
    return Promise.resolve(this.parameters.delete(name));
  }
}
