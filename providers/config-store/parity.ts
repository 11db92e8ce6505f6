// Config parity: whether two environments of a service define the same config keys, e.g. before promoting a
// release from staging to production. Keys live at /release-engine/config/<service>/<env>/<key>; values are not
// compared, because they differ between environments by design (endpoints, pool sizes, secrets).
import { EnvironmentName, ServiceName } from '../../domain/names';
import type { ConfigStore } from './config-store';

export const CONFIG_ROOT = '/release-engine/config';

export interface ParityReport {
  base: string;
  other: string;
  /** Keys (relative to the environment's prefix) that `base` has and `other` lacks, sorted. */
  onlyInBase: string[];
  /** Keys that `other` has and `base` lacks, sorted. */
  onlyInOther: string[];
  ok: boolean;
}

/** The parameter path of a service's config in one environment. */
export function configPrefix(service: string, env: string): string {
  // Both names become path segments: refuse anything that could reach outside the service's own tree.
  const s = ServiceName.safeParse(service);
  if (!s.success) throw new Error(`service name ${JSON.stringify(service)} ${s.error.issues[0]?.message}`);
  const e = EnvironmentName.safeParse(env);
  if (!e.success) throw new Error(`environment name ${JSON.stringify(env)} ${e.error.issues[0]?.message}`);
  return `${CONFIG_ROOT}/${s.data}/${e.data}`;
}

async function keysOf(store: ConfigStore, service: string, env: string): Promise<Set<string>> {
  const prefix = `${configPrefix(service, env)}/`;
  const parameters = await store.getByPath(prefix);
  return new Set(parameters.filter((p) => p.name.startsWith(prefix)).map((p) => p.name.slice(prefix.length)));
}

/** Compares the config keys of two environments of a service: /release-engine/config/<service>/<env>/... */
export async function configParity(
  store: ConfigStore,
  service: string,
  base: string,
  other: string,
): Promise<ParityReport> {
  const [baseKeys, otherKeys] = await Promise.all([keysOf(store, service, base), keysOf(store, service, other)]);
  const onlyInBase = [...baseKeys].filter((k) => !otherKeys.has(k)).sort();
  const onlyInOther = [...otherKeys].filter((k) => !baseKeys.has(k)).sort();
  return { base, other, onlyInBase, onlyInOther, ok: onlyInBase.length === 0 && onlyInOther.length === 0 };
}

/** The report in plain words, e.g. "production lacks 2 keys staging has: db/pool-size, feature/x". */
export function describeParity(report: ParityReport): string {
  if (report.ok) return `${report.base} and ${report.other} have the same config keys`;
  const lacks = (env: string, has: string, keys: string[]) =>
    `${env} lacks ${keys.length} ${keys.length === 1 ? 'key' : 'keys'} ${has} has: ${keys.join(', ')}`;
  const parts: string[] = [];
  if (report.onlyInBase.length > 0) parts.push(lacks(report.other, report.base, report.onlyInBase));
  if (report.onlyInOther.length > 0) parts.push(lacks(report.base, report.other, report.onlyInOther));
  return parts.join('; ');
}
