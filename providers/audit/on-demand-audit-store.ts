// An audit store whose database is opened on first use (so a worker starts without waiting for PGlite).
import type { SqlDatabase } from '../sql/database';
import type { AuditEntry, AuditFilter, AuditStore } from './audit-store';
import { SqlAuditStore, type SqlAuditStoreOptions } from './sql-audit-store';

export class OnDemandAuditStore implements AuditStore {
  private store: Promise<SqlAuditStore> | undefined;

  constructor(
    private readonly open: () => Promise<SqlDatabase>,
    private readonly options: SqlAuditStoreOptions = {},
  ) {}

  private get(): Promise<SqlAuditStore> {
    if (!this.store) {
      const store = this.open().then((db) => new SqlAuditStore(db, this.options));
      store.catch(() => {
        this.store = undefined;
      });
      this.store = store;
    }
    return this.store;
  }

  async append(entries: AuditEntry[]) {
    return (await this.get()).append(entries);
  }

  async list(filter?: AuditFilter) {
    return (await this.get()).list(filter);
  }

  async verify() {
    return (await this.get()).verify();
  }
}
