// relctl: the engine's CLI for pipelines, approvers and SREs. A typed tRPC client of the API.
// The API URL and token come from --url/--token or RELCTL_URL/RELCTL_TOKEN; --json prints machine-readable output.
// Exit codes: 0 ok (a followed release succeeded), 1 release failed or rolled back, 2 bad usage or refused input,
// 3 API unreachable or refused the token.
import { parseArgs } from 'node:util';
import { TRPCClientError } from '@trpc/client';
import { parseArtifactRef } from '../domain/names';
import { apiClient, type Outputs, releaseStream, StreamRefusal, UsageError } from './api-client';
import { ArtifactCommandError, artifactCommand } from './artifact-commands';
import { FleetCommandError, fleetCommand } from './fleet-commands';
import { checkCommand } from './check-commands';
import { incidentCommand } from './incident-commands';
import { readCommand } from './read-commands';
import { trainCommand } from './train-commands';

type ReleaseView = Outputs['release']['get'];
type RollbackView = Outputs['rollback']['get'];

const USAGE = `usage: relctl <command> [options]

releases
  release plan   <service>@<version> [--change-class C] [--bake S] [--watch S] [--judge J]
                                                                      show the plan without starting
  release start  <service>@<version> [--release-id ID] [--change-class standard|normal|emergency]
                 [--bake SECONDS] [--watch SECONDS] [--judge sequential|fixed-window]
                 [--reason TEXT] [--ticket CHG-1234] [--queue] [--wait]
                 [--author P ...]  who wrote the change (commit authors, merger): none of them may approve it
                 --watch: seconds to watch the promoted release after the last wave (0: none); an alert from
                 monitoring in that window rolls it back. --judge: the canary judge (default: the catalog's)
  release list   [--service S] [--stage STAGE] [--outcome running|succeeded|rolled-back|failed|aborted]
                 [--requested-by P] [--since ISO-TIME] [--limit N]
  release status <service> <release-id>
  release watch  <service> <release-id>                               follow until it ends
  release approve <service> <release-id> <gate> [--comment TEXT]
  release reject  <service> <release-id> <gate> --comment TEXT
  release pause   <service> <release-id> [--reason TEXT]
  release resume  <service> <release-id>
  release abort   <service> <release-id> --reason TEXT
trains (several services together, in dependency order, each through its own coordinator)
  train plan  <service>@<version> <service>@<version> ... [--lockstep] [--on-failure rollback|leave]
              [--change-class C]                                      the stages, or what is not met
  train start <service>@<version> ... [--train-id ID] [--lockstep] [--on-failure rollback|leave]
              [--change-class C] [--reason TEXT] [--queue] [--author P ...] [--wait]
  train status <train-id>
  train list  [--limit N]
  train approve <train-id> [--comment TEXT]                           one approval for the whole train
  train reject  <train-id> --comment TEXT
  train abort   <train-id> --reason TEXT                              (sre) members released so far go back
rollbacks
  rollback <service> --reason TEXT [--region R ...] [--wait]          emergency rollback to last known-good
external checks (a system that ran one reports its result; the checker role)
  check report <service> <release-id> <check-id> pass|fail [--summary TEXT] [--details-url URL]
post-incident records (a release that rolled back or failed, every emergency rollback)
  incident list [--service S] [--open]                                open ones first
  incident show <service> <incident-id>                               what led there, timeline, action items
  incident action add <service> <incident-id> "TEXT" [--owner P]      (operator, sre, approver)
  incident action close <service> <incident-id> <action-id> --resolution TEXT
  incident assign <service> <incident-id> <owner>
  incident close <service> <incident-id> --summary TEXT               once every action item is closed
services
  service list
  service get <service>                                               versions per region, drift, what is in flight
  service ack-drift <service> <region> --reason TEXT                  (sre) accept what a drifted region runs now
audit trail
  audit list   [--service S] [--release-id R] [--since ISO-TIME] [--limit N]
  audit verify                                                        exit 1 if a record was edited or deleted
  audit checkpoint                                                    latest signed checkpoint (--json: to keep)
  audit public-key                                                    the key checkpoints are signed with (PEM)
metrics
  metrics dora <service> [--days N]                                   DORA figures (default: last 30 days)
calendar
  calendar list
artifacts (local files; no API token needed)
  artifact keygen  --out <prefix>                                  ed25519 key pair: <prefix>.key, <prefix>.pub
  artifact pack    <dir> --service S --version V [--entrypoint F] [--out file.tgz]
                   [--requires SERVICE@RANGE ...]   e.g. --requires 'payments@>=1.4.0'
  artifact sign    <file.tgz> --key <prefix>.key [--out file.tgz.sig]
  artifact verify  <file.tgz> --public-key <prefix>.pub [--signature file.tgz.sig]
  artifact publish <file.tgz> --store <dir> [--signature file.tgz.sig]  into a local artifact store
  artifact attest  <file.tgz> --type vuln-scan|test-results|perf|license --predicate <tool output> --key <prefix>.key
                   [--out file] [--store <dir>]   a signed in-toto statement about the artifact's digest (Trivy or
                   Grype JSON, SARIF, JUnit XML, CycloneDX JSON, {"p95Ms","baselineP95Ms"}), kept with it in the store
fleet (talks to AWS, not the API: AWS_REGION, SSM_ENDPOINT and the SDK's usual credentials)
  fleet ssm install                                                create or update the five SSM documents
                                                                   (idempotent; deploy/ssm/documents)

options: --url URL (or RELCTL_URL, default http://127.0.0.1:7300)
         --token TOKEN (or RELCTL_TOKEN)   --json   --help`;

const EXIT = { ok: 0, releaseFailed: 1, usage: 2, api: 3 } as const;

function time(iso: string): string {
  return new Date(iso).toTimeString().slice(0, 8);
}

function printPlan(plan: Outputs['release']['plan']['plan']) {
  const waves = plan.waves.map(
    (w) => `wave ${w.index + 1} (${w.environment}): ${w.regions.map((r) => r.region).join(', ')}`,
  );
  console.log(`  plan: ${waves.join(' | ')}`);
  console.log(`  canary: ${plan.canary.steps.map((s) => `${s.percent}% for ${s.bakeSeconds}s`).join(' > ')} > 100%`);
  const judge = plan.canary.sequential
    ? `sequential (looks every ${plan.canary.sequential.lookSeconds}s after ${plan.canary.sequential.warmupSeconds}s warm-up; a bake may stretch to ${plan.canary.sequential.maxBakeFactor}x)`
    : 'fixed-window (judges once at the end of each bake)';
  console.log(`  judge: ${judge}`);
  // Plans made before the watch window have no `watch`.
  const watch = plan.watch?.seconds;
  if (watch !== undefined) {
    console.log(
      `  watch: ${watch > 0 ? `${watch}s after the last wave (alerts from monitoring roll back)` : 'none after the last wave'}`,
    );
  }
  for (const gate of plan.gates)
    console.log(`  gate ${gate.id} before wave ${gate.beforeWave + 1}: ${gate.description}`);
}

function printStatus(status: ReleaseView) {
  console.log(`release ${status.releaseId} of ${status.service}@${status.version} (${status.changeClass})`);
  console.log(`  requested by ${status.requestedBy} at ${status.startedAt}`);
  console.log(
    `  stage: ${status.stage}${status.paused ? ' (paused)' : ''}${status.outcome?.reason ? ` (${status.outcome.reason})` : ''}`,
  );
  for (const r of status.regions) {
    const smoke = r.smokeTest ? ` smoke ${r.smokeTest.passed ? 'ok' : 'FAILED'}` : '';
    console.log(
      `  ${r.region.padEnd(12)} wave ${r.wave + 1}  ${r.status.padEnd(14)} ${String(r.trafficPercent).padStart(3)}% on ${r.version}${r.previousVersion ? ` (was ${r.previousVersion})` : ''}${smoke}`,
    );
  }
  for (const g of status.gates) {
    const decisions = g.decisions.map((d) => `${d.decision} by ${d.by}`).join(', ');
    console.log(`  gate ${g.id.padEnd(24)} ${g.status.padEnd(10)} ${decisions}`);
  }
  for (const c of status.checks ?? []) {
    const said = c.reportedBy ? ` by ${c.reportedBy}${c.summary ? `: ${c.summary}` : ''}` : ` (until ${c.deadline})`;
    console.log(`  check ${c.id.padEnd(23)} ${c.status.padEnd(10)}${said}`);
  }
  for (const c of status.compensations) console.log(`  compensation: ${c.status.padEnd(11)} ${c.name}`);
}

/** How a release is followed: its status, each time it changes (release.watch). */
type Watch = (service: string, releaseId: string) => AsyncGenerator<ReleaseView>;

/**
 * Follows a release until it ends, printing each new timeline event and what a waiting gate needs. The API pushes
 * each change (release.watch); if the connection drops (the API restarted), it connects again for a while.
 */
async function follow(watch: Watch, service: string, releaseId: string, json: boolean): Promise<ReleaseView> {
  let printed = 0;
  let failures = 0;
  const hinted = new Set<string>();
  for (;;) {
    try {
      for await (const status of watch(service, releaseId)) {
        failures = 0;
        if (!json) {
          for (const event of status.timeline.slice(printed)) console.log(`${time(event.at)} ${event.message}`);
          for (const gate of status.gates.filter((g) => g.status === 'waiting' && !hinted.has(g.id))) {
            hinted.add(gate.id);
            console.log(`         -> to decide: relctl release approve|reject ${service} ${releaseId} ${gate.id}`);
          }
        }
        printed = status.timeline.length;
        if (status.outcome) return status;
      }
    } catch (err) {
      if (err instanceof StreamRefusal || ++failures > 30) throw err;
    }
    // The stream ended or dropped before the outcome: connect again shortly.
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function report(status: ReleaseView, json: boolean): number {
  if (json) console.log(JSON.stringify(status, null, 2));
  else {
    const took = status.outcome ? (Date.parse(status.outcome.finishedAt) - Date.parse(status.startedAt)) / 1000 : 0;
    const result = status.outcome?.result ?? status.stage;
    console.log(
      `release ${status.releaseId}: ${result} after ${took.toFixed(0)}s${status.outcome?.reason ? `: ${status.outcome.reason}` : ''}`,
    );
  }
  return status.outcome?.result === 'succeeded' ? EXIT.ok : EXIT.releaseFailed;
}

function wholeSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a whole number of seconds, not "${value}"`);
  return n;
}

const JUDGES = ['sequential', 'fixed-window'] as const;

function canaryJudge(value: string | undefined): (typeof JUDGES)[number] | undefined {
  if (value === undefined) return undefined;
  const judge = JUDGES.find((j) => j === value);
  if (!judge) throw new UsageError(`--judge must be ${JUDGES.join(' or ')}, not "${value}"`);
  return judge;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      queue: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      'release-id': { type: 'string' },
      'change-class': { type: 'string' },
      bake: { type: 'string' },
      watch: { type: 'string' },
      judge: { type: 'string' },
      reason: { type: 'string' },
      comment: { type: 'string' },
      region: { type: 'string', multiple: true },
      author: { type: 'string', multiple: true },
      out: { type: 'string' },
      service: { type: 'string' },
      version: { type: 'string' },
      entrypoint: { type: 'string' },
      requires: { type: 'string', multiple: true },
      key: { type: 'string' },
      'public-key': { type: 'string' },
      signature: { type: 'string' },
      store: { type: 'string' },
      stage: { type: 'string' },
      outcome: { type: 'string' },
      'requested-by': { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      days: { type: 'string' },
      lockstep: { type: 'boolean', default: false },
      'on-failure': { type: 'string' },
      'train-id': { type: 'string' },
      type: { type: 'string' },
      predicate: { type: 'string' },
      ticket: { type: 'string' },
      open: { type: 'boolean', default: false },
      owner: { type: 'string' },
      resolution: { type: 'string' },
      summary: { type: 'string' },
      'details-url': { type: 'string' },
    },
  });
  if (values.help || positionals.length === 0) {
    console.log(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  if (positionals[0] === 'artifact') {
    return artifactCommand(positionals[1], positionals.slice(2), values, (line) => console.log(line));
  }
  if (positionals[0] === 'fleet') {
    return fleetCommand(positionals.slice(1), values, process.env, (line) => console.log(line));
  }
  const url = values.url ?? process.env.RELCTL_URL ?? 'http://127.0.0.1:7300';
  const token = values.token ?? process.env.RELCTL_TOKEN;
  if (!token) throw new UsageError('no API token: pass --token or set RELCTL_TOKEN');
  const api = apiClient(url, token);
  const watch: Watch = (service, releaseId) => releaseStream(url, token, service, releaseId);
  const out = (value: unknown, human: () => void) =>
    values.json ? console.log(JSON.stringify(value, null, 2)) : human();
  const [noun, verb, ...rest] = positionals;
  const read = noun ? await readCommand(api, noun, verb, rest, values) : undefined;
  if (read !== undefined) return read;

  if (noun === 'release' && (verb === 'start' || verb === 'plan')) {
    const ref = rest[0] ? parseArtifactRef(rest[0]) : undefined;
    if (!ref) throw new UsageError(`release ${verb} needs <service>@<version>, e.g. hello@1.1.0`);
    const bakeSeconds = wholeSeconds('--bake', values.bake);
    const watchSeconds = wholeSeconds('--watch', values.watch);
    const judge = canaryJudge(values.judge);
    const request = {
      ...ref,
      ...(values['release-id'] ? { releaseId: values['release-id'] } : {}),
      ...(values['change-class'] ? { changeClass: values['change-class'] as 'standard' } : {}),
      ...(bakeSeconds !== undefined ? { bakeSeconds } : {}),
      ...(watchSeconds !== undefined ? { watchSeconds } : {}),
      ...(judge ? { judge } : {}),
      ...(values.reason ? { reason: values.reason } : {}),
      ...(values.queue ? { queue: true } : {}),
      ...(values.ticket ? { ticket: values.ticket } : {}),
    };
    const authors =
      values.author
        ?.flatMap((a) => a.split(','))
        .map((a) => a.trim())
        .filter(Boolean) ?? [];
    if (verb === 'plan') {
      const result = await api.release.plan.query(request);
      out(result, () => {
        console.log(`plan of ${ref.service}@${ref.version}:`);
        printPlan(result.plan);
        if (result.freeze) {
          console.log(
            `  frozen now: ${result.freeze.windows.map((w) => w.id).join(', ')} until ${result.freeze.endsAt}`,
          );
        }
      });
      return EXIT.ok;
    }
    const started = await api.release.start.mutate({ ...request, ...(authors.length ? { authors } : {}) });
    if (!values.json) {
      const how = started.alreadyStarted
        ? 'release already exists:'
        : started.queuedBehind.length
          ? `queued behind ${started.queuedBehind.join(', ')}:`
          : 'started release';
      console.log(`${how} ${started.releaseId} of ${ref.service}@${ref.version} (workflow ${started.workflowId})`);
      printPlan(started.plan);
    }
    if (!values.wait) {
      if (values.json) console.log(JSON.stringify(started, null, 2));
      return EXIT.ok;
    }
    return report(await follow(watch, ref.service, started.releaseId, values.json), values.json);
  }

  if (noun === 'release') {
    const [service, releaseId, gate] = rest;
    if (!service || !releaseId) throw new UsageError(`release ${verb ?? ''} needs <service> <release-id>`);
    switch (verb) {
      case 'status': {
        const status = await api.release.get.query({ service, releaseId });
        out(status, () => printStatus(status));
        return EXIT.ok;
      }
      case 'watch':
        return report(await follow(watch, service, releaseId, values.json), values.json);
      case 'approve':
      case 'reject': {
        if (!gate) throw new UsageError(`release ${verb} needs <service> <release-id> <gate>`);
        if (verb === 'reject' && !values.comment) throw new UsageError('release reject needs --comment saying why');
        const decided =
          verb === 'approve'
            ? await api.release.approve.mutate({
                service,
                releaseId,
                gate,
                ...(values.comment ? { comment: values.comment } : {}),
              })
            : await api.release.reject.mutate({ service, releaseId, gate, comment: values.comment ?? '' });
        out(decided, () =>
          console.log(
            `gate ${decided.id}: ${decided.status} (${decided.decisions.filter((d) => d.decision === 'approve').length} of ${decided.quorum} approvals)`,
          ),
        );
        return EXIT.ok;
      }
      case 'pause':
        await api.release.pause.mutate({ service, releaseId, ...(values.reason ? { reason: values.reason } : {}) });
        out({ ok: true }, () => console.log(`pausing ${releaseId}: it holds before its next step`));
        return EXIT.ok;
      case 'resume':
        await api.release.resume.mutate({ service, releaseId });
        out({ ok: true }, () => console.log(`resuming ${releaseId}`));
        return EXIT.ok;
      case 'abort':
        if (!values.reason) throw new UsageError('release abort needs --reason');
        await api.release.abort.mutate({ service, releaseId, reason: values.reason });
        out({ ok: true }, () =>
          console.log(
            `aborting ${releaseId}: it rolls back what it did (it ends aborted if it had changed nothing yet)`,
          ),
        );
        return EXIT.ok;
      case undefined:
      default:
        throw new UsageError(`unknown command: release ${verb ?? ''}`);
    }
  }

  if (noun === 'train') return trainCommand(api, verb, rest, values);
  if (noun === 'incident') return incidentCommand(api, verb, rest, values);
  if (noun === 'check') return checkCommand(api, verb, rest, values);

  if (noun === 'rollback') {
    const service = verb;
    if (!service) throw new UsageError('rollback needs <service>');
    if (!values.reason) throw new UsageError('rollback needs --reason');
    const started = await api.rollback.emergency.mutate({
      service,
      reason: values.reason,
      ...(values.region?.length ? { regions: values.region } : {}),
    });
    if (!values.json) {
      console.log(`emergency rollback ${started.rollbackId} of ${service} (workflow ${started.workflowId})`);
      if (started.aborted.length) console.log(`  aborted: ${started.aborted.join(', ')}`);
    }
    if (!values.wait) {
      if (values.json) console.log(JSON.stringify(started, null, 2));
      return EXIT.ok;
    }
    let status: RollbackView;
    for (;;) {
      status = await api.rollback.get.query({ service, rollbackId: started.rollbackId });
      if (status.stage === 'succeeded' || status.stage === 'failed') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    out(status, () => {
      for (const r of status.regions) {
        console.log(`  ${r.region.padEnd(12)} ${r.status.padEnd(14)} ${r.from ?? '-'} -> ${r.to ?? '-'}`);
        if (r.why) console.log(`  ${''.padEnd(12)} ${r.why}`);
      }
      console.log(`rollback ${status.rollbackId}: ${status.stage}`);
    });
    return status.stage === 'succeeded' ? EXIT.ok : EXIT.releaseFailed;
  }

  if (noun === 'service' && verb === 'ack-drift') {
    const [service, region] = rest;
    if (!service || !region) throw new UsageError('service ack-drift needs <service> <region>');
    if (!values.reason) throw new UsageError('service ack-drift needs --reason (who changed it, and why it may stay)');
    const acked = await api.service.acknowledgeDrift.mutate({ service, region, reason: values.reason });
    out(acked, () => console.log(acked.message));
    return EXIT.ok;
  }

  if (noun === 'calendar' && verb === 'list') {
    const windows = await api.calendar.list.query();
    out(windows, () => {
      if (windows.length === 0) console.log('no freeze windows');
      for (const w of windows) console.log(`${w.id.padEnd(20)} ${w.description}`);
    });
    return EXIT.ok;
  }

  throw new UsageError(`unknown command: ${positionals.join(' ')}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ArtifactCommandError || err instanceof FleetCommandError) {
      console.error(`relctl: ${err.message}\n\n${USAGE}`);
      process.exit(EXIT.usage);
    }
    if (err instanceof TRPCClientError) {
      const status = (err.data as { httpStatus?: number } | undefined)?.httpStatus;
      if (status === undefined) {
        console.error(`relctl: cannot reach the API: ${err.message}`);
        process.exit(EXIT.api);
      }
      console.error(`relctl: ${err.message}`);
      process.exit(status === 401 || status >= 500 ? EXIT.api : EXIT.usage);
    }
    console.error(`relctl: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(EXIT.api);
  },
);
