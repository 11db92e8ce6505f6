// relctl commands that read: release list, service list|get, audit list|verify|checkpoint|public-key, metrics dora.
import type { Api } from './api-client';
import { UsageError } from './api-client';

export interface ReadFlags {
  json: boolean;
  service?: string | undefined;
  stage?: string | undefined;
  outcome?: string | undefined;
  'requested-by'?: string | undefined;
  'release-id'?: string | undefined;
  since?: string | undefined;
  limit?: string | undefined;
  days?: string | undefined;
}

function positive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number above 0, not "${value}"`);
  return n;
}

function when(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').slice(0, 19) : '-';
}

function print(flags: ReadFlags, value: unknown, human: () => void) {
  if (flags.json) console.log(JSON.stringify(value, null, 2));
  else human();
}

/** Runs a read command; returns the exit code. */
export async function readCommand(api: Api, noun: string, verb: string | undefined, args: string[], flags: ReadFlags) {
  const limit = positive('--limit', flags.limit);
  if (noun === 'release' && verb === 'list') {
    const releases = await api.release.list.query({
      ...(flags.service ? { service: flags.service } : {}),
      ...(flags.stage ? { stage: flags.stage as 'deploying' } : {}),
      ...(flags.outcome ? { outcome: flags.outcome as 'running' } : {}),
      ...(flags['requested-by'] ? { requestedBy: flags['requested-by'] } : {}),
      ...(flags.since ? { startedAfter: flags.since } : {}),
      ...(limit ? { limit } : {}),
    });
    print(flags, releases, () => {
      if (releases.length === 0) console.log('no releases match');
      for (const r of releases) {
        console.log(
          `${when(r.startedAt)}  ${`${r.service}@${r.version}`.padEnd(22)} ${r.releaseId.padEnd(26)} ${r.stage.padEnd(18)} by ${r.requestedBy}`,
        );
      }
    });
    return 0;
  }
  if (noun === 'service' && verb === 'list') {
    const services = await api.service.list.query();
    print(flags, services, () => {
      for (const s of services) {
        const envs = s.environments.map((e) => `${e.name}: ${e.waves.map((w) => w.join('+')).join(' > ')}`);
        console.log(`${s.name.padEnd(16)} ${envs.join(' | ')}`);
      }
    });
    return 0;
  }
  if (noun === 'service' && (verb === 'get' || verb === 'status')) {
    const [service] = args;
    if (!service) throw new UsageError(`service ${verb} needs <service>`);
    const view = await api.service.get.query({ service });
    print(flags, view, () => {
      console.log(`service ${view.service.name}`);
      for (const r of view.regions) {
        const back = r.rolledBackFrom ? ` (rolled back from ${r.rolledBackFrom})` : '';
        console.log(
          `  ${r.region.padEnd(14)} ${r.environment.padEnd(12)} ${(r.version ?? 'unknown').padEnd(10)} ${r.releaseId ?? ''}${back}`,
        );
        const d = r.drift;
        if (d.status === 'drifted') {
          console.log(
            `  ${''.padEnd(14)} DRIFT: the ledger says ${d.ledgerVersion}, the region runs ${d.runs}${d.since ? ` since ${when(d.since)}` : ''}`,
          );
          console.log(
            d.acknowledged
              ? `  ${''.padEnd(14)} acknowledged by ${d.acknowledged.by} at ${when(d.acknowledged.at)}: ${d.acknowledged.reason}`
              : `  ${''.padEnd(14)} releases will not start here until an SRE runs: relctl service ack-drift ${view.service.name} ${r.region} --reason "..."`,
          );
        } else if (d.status === 'unknown') {
          console.log(`  ${''.padEnd(14)} drift not checked: ${d.reason}`);
        }
      }
      console.log(
        `  in flight: ${view.active ? `${view.active.kind} ${view.active.id} by ${view.active.requestedBy}` : 'nothing'}`,
      );
      for (const q of view.queued) console.log(`  queued: ${q.kind} ${q.id} by ${q.requestedBy}`);
    });
    return 0;
  }
  if (noun === 'audit' && verb === 'list') {
    const records = await api.audit.list.query({
      ...(flags.service ? { service: flags.service } : {}),
      ...(flags['release-id'] ? { releaseId: flags['release-id'] } : {}),
      ...(flags.since ? { since: flags.since } : {}),
      ...(limit ? { limit } : {}),
    });
    print(flags, records, () => {
      if (records.length === 0) console.log('no audit records match');
      for (const r of records) {
        const where = [r.releaseId, r.gate, r.region].filter(Boolean).join(' ');
        const versions = r.beforeVersion || r.afterVersion ? ` ${r.beforeVersion ?? ''}->${r.afterVersion ?? ''}` : '';
        console.log(
          `${String(r.seq).padStart(6)} ${when(r.at)} ${r.actor.padEnd(12)} ${r.action.padEnd(26)} ${r.service} ${where}${versions}${r.reason ? `: ${r.reason}` : ''}`,
        );
      }
    });
    return 0;
  }
  if (noun === 'audit' && verb === 'verify') {
    const result = await api.audit.verify.mutate();
    print(flags, result, () => {
      if (result.ok) console.log(`audit trail intact: ${result.records} records, head ${result.head ?? '(empty)'}`);
      else {
        console.log(`audit trail BROKEN: ${result.problems.length} problems in ${result.records} records`);
        for (const p of result.problems) console.log(`  record ${p.seq}: ${p.kind}: ${p.message}`);
      }
      if (result.anchoring) console.log(`  anchoring: ${result.anchoring.summary}`);
    });
    return result.ok ? 0 : 1;
  }
  if (noun === 'audit' && (verb === 'checkpoint' || verb === 'public-key')) {
    const exported = await api.audit.checkpoint.query();
    if (verb === 'public-key') {
      print(flags, { keyId: exported.keyId, publicKey: exported.publicKey, publicKeyPem: exported.publicKeyPem }, () =>
        process.stdout.write(exported.publicKeyPem),
      );
      return 0;
    }
    print(flags, exported, () => {
      console.log(`audit signing key ${exported.keyId} (trusted: ${exported.trustedKeyIds.join(', ')})`);
      const cp = exported.checkpoint;
      if (cp) {
        console.log(
          `latest checkpoint ${cp.number}: records ${cp.fromSeq} to ${cp.toSeq}, head ${cp.head}, signed ${when(cp.at)}`,
        );
        console.log(`  signature ${cp.signature}`);
      } else console.log('no checkpoint yet');
      console.log(`trail ${exported.verified ? 'verifies' : 'does NOT verify'}: ${exported.summary}`);
      console.log('keep `relctl audit checkpoint --json` and `relctl audit public-key` outside the engine');
    });
    return 0;
  }
  if (noun === 'metrics' && verb === 'dora') {
    const [service] = args;
    if (!service) throw new UsageError('metrics dora needs <service>');
    const days = positive('--days', flags.days);
    const figures = await api.metrics.dora.query({ service, ...(days ? { days } : {}) });
    print(flags, figures, () => {
      console.log(`DORA figures of ${service}, ${when(figures.period.from)} to ${when(figures.period.to)}`);
      for (const line of figures.summary) console.log(`  ${line}`);
      // Each failure and restore counted links to its post-incident record.
      const records = [
        ...new Set([...figures.changeFailures.map((f) => f.incident), ...figures.restores.map((r) => r.incident)]),
      ];
      if (records.length > 0) {
        console.log(`  post-incident records: ${records.join(', ')} (relctl incident show ${service} <id>)`);
      }
    });
    return 0;
  }
  return undefined;
}
