// The embedded config store: one JSON file holding every parameter and its history. Writes are serialized in
// this process and land by atomic rename, so readers in other processes always see a whole file.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ConfigStore, type Parameter, ParameterExistsError } from './config-store';

const HISTORY_LIMIT = 100;

type FileShape = Record<string, Parameter[]>;

export class FileConfigStore implements ConfigStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private async load(): Promise<FileShape> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as FileShape;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
  }

  async get(name: string): Promise<Parameter | undefined> {
    return (await this.load())[name]?.at(-1);
  }

  /** Serializes read-modify-write cycles of this process and writes the result atomically. */
  private mutate<T>(change: (data: FileShape) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const data = await this.load();
      const result = change(data);
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
      await rename(tmp, this.path);
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  put(name: string, value: string, options: { overwrite?: boolean } = {}): Promise<{ version: number }> {
    return this.mutate((data) => {
      const versions = data[name] ?? [];
      if (versions.length > 0 && options.overwrite === false) {
        throw new ParameterExistsError(`parameter ${name} already exists`);
      }
      const version = (versions.at(-1)?.version ?? 0) + 1;
      data[name] = [...versions, { name, value, version, lastModified: this.clock().toISOString() }].slice(
        -HISTORY_LIMIT,
      );
      return { version };
    });
  }

  delete(name: string): Promise<boolean> {
    return this.mutate((data) => {
      const existed = name in data;
      delete data[name];
      return existed;
    });
  }

  async getByPath(path: string): Promise<Parameter[]> {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    return Object.entries(await this.load())
      .filter(([name]) => name.startsWith(prefix))
      .flatMap(([, versions]) => versions.slice(-1));
  }

  async history(name: string): Promise<Parameter[]> {
    return (await this.load())[name] ?? [];
  }
}
