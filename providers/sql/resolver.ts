// Which database a service's environment uses: DATABASE_URL_<SERVICE>_<ENVIRONMENT> (PostgreSQL) when set, else an
// embedded PGlite under <data dir>/databases. Opened on first use and kept open.
import { join } from 'node:path';
import { openDatabase, type SqlDatabase } from './database';

/** The environment variable that holds the database URL of a service's environment: DATABASE_URL_HELLO_PRODUCTION. */
export function databaseUrlVariable(service: string, environment: string): string {
  return `DATABASE_URL_${service}_${environment}`.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export function createDatabaseResolver(options: { env: NodeJS.ProcessEnv; dataDir: string }) {
  const open = new Map<string, Promise<SqlDatabase>>();
  const resolve = (service: string, environment: string): Promise<SqlDatabase> => {
    const key = `${service}/${environment}`;
    let db = open.get(key);
    if (!db) {
      const url = options.env[databaseUrlVariable(service, environment)];
      db = openDatabase(url ? { url } : { pgliteDir: join(options.dataDir, 'databases', `${service}-${environment}`) });
      // A failed open is not cached: the next attempt (an activity retry) tries again.
      db.catch(() => open.delete(key));
      open.set(key, db);
    }
    return db;
  };
  const close = async () => {
    const dbs = await Promise.allSettled(open.values());
    open.clear();
    await Promise.all(dbs.flatMap((d) => (d.status === 'fulfilled' ? [d.value.close()] : [])));
  };
  return Object.assign(resolve, { close });
}
