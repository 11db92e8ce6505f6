// relctl: the engine's CLI for pipelines and people. A typed tRPC client of the API.
//
//   relctl release start <service>@<version> [--release-id ID] [--change-class C] [--bake S] [--reason T] [--wait]
//   relctl release status <service> <release-id>
//   relctl release watch <service> <release-id>
//
// The API URL and token come from --url/--token or RELCTL_URL/RELCTL_TOKEN. --json prints machine-readable output.
// Exit codes: 0 ok (release succeeded), 1 release failed or rolled back, 2 bad usage or input, 3 API unreachable or
// refused the token.
import { parseArgs } from 'node:util';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../api/routers';
import { parseArtifactRef } from '../domain/names';
import type { ReleaseStatus } from '../domain/release-status';

const USAGE = `usage:
  relctl release start <service>@<version> [--release-id ID] [--change-class standard|normal|emergency]
                                           [--bake SECONDS] [--reason TEXT] [--wait]
  relctl release status <service> <release-id>
  relctl release watch <service> <release-id>

options: --url URL (or RELCTL_URL, default http://127.0.0.1:7300)
         --token TOKEN (or RELCTL_TOKEN)   --json   --help`;

class UsageError extends Error {}

const EXIT = { ok: 0, releaseFailed: 1, usage: 2, api: 3 } as const;

function client(url: string, token: string | undefined) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url.replace(/\/$/, '')}/trpc`,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}

type Api = ReturnType<typeof client>;

function time(iso: string): string {
  return new Date(iso).toTimeString().slice(0, 8);
}

function printPlan(plan: { waves: { index: number; regions: { region: string }[] }[]; bakeSeconds: number }) {
  const waves = plan.waves.map((w) => `wave ${w.index + 1}: ${w.regions.map((r) => r.region).join(', ')}`);
  console.log(`  plan: ${waves.join(' | ')}  (bake ${plan.bakeSeconds}s per region)`);
}

function printStatus(status: ReleaseStatus) {
  console.log(`release ${status.releaseId} of ${status.service}@${status.version} (${status.changeClass})`);
  console.log(`  requested by ${status.requestedBy} at ${status.startedAt}`);
  console.log(`  stage: ${status.stage}${status.outcome?.reason ? ` (${status.outcome.reason})` : ''}`);
  for (const r of status.regions) {
    console.log(
      `  ${r.region.padEnd(12)} wave ${r.wave + 1}  ${r.status.padEnd(10)} ${String(r.trafficPercent).padStart(3)}% on ${r.version}${r.previousVersion ? ` (was ${r.previousVersion})` : ''}`,
    );
  }
}

/** Follows a release until it ends, printing each new timeline event. Returns the final status. */
async function follow(api: Api, service: string, releaseId: string, json: boolean): Promise<ReleaseStatus> {
  let printed = 0;
  let failures = 0;
  for (;;) {
    let status: ReleaseStatus;
    try {
      status = await api.release.get.query({ service, releaseId });
      failures = 0;
    } catch (err) {
      // The API or the engine may restart while a release runs; keep following for a while.
      if (++failures > 30) throw err;
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (!json) {
      for (const event of status.timeline.slice(printed)) console.log(`${time(event.at)} ${event.message}`);
    }
    printed = status.timeline.length;
    if (status.outcome) return status;
    await new Promise((r) => setTimeout(r, 1000));
  }
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
      help: { type: 'boolean', short: 'h', default: false },
      'release-id': { type: 'string' },
      'change-class': { type: 'string' },
      bake: { type: 'string' },
      reason: { type: 'string' },
    },
  });
  if (values.help || positionals.length === 0) {
    console.log(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const url = values.url ?? process.env.RELCTL_URL ?? 'http://127.0.0.1:7300';
  const token = values.token ?? process.env.RELCTL_TOKEN;
  if (!token) throw new UsageError('no API token: pass --token or set RELCTL_TOKEN');
  const api = client(url, token);
  const [noun, verb, ...rest] = positionals;

  if (noun === 'release' && verb === 'start') {
    const ref = rest[0] ? parseArtifactRef(rest[0]) : undefined;
    if (!ref) throw new UsageError('release start needs <service>@<version>, e.g. hello@1.1.0');
    let bakeSeconds: number | undefined;
    if (values.bake !== undefined) {
      bakeSeconds = Number(values.bake);
      if (!Number.isInteger(bakeSeconds))
        throw new UsageError(`--bake must be a whole number of seconds, not "${values.bake}"`);
    }
    const started = await api.release.start.mutate({
      ...ref,
      ...(values['release-id'] ? { releaseId: values['release-id'] } : {}),
      ...(values['change-class'] ? { changeClass: values['change-class'] as 'standard' } : {}),
      ...(bakeSeconds !== undefined ? { bakeSeconds } : {}),
      ...(values.reason ? { reason: values.reason } : {}),
    });
    if (!values.json) {
      console.log(
        `${started.alreadyStarted ? 'release already exists' : 'started release'} ${started.releaseId} of ${ref.service}@${ref.version} (workflow ${started.workflowId})`,
      );
      printPlan(started.plan);
    }
    if (!values.wait) {
      if (values.json) console.log(JSON.stringify(started, null, 2));
      return EXIT.ok;
    }
    const status = await follow(api, ref.service, started.releaseId, values.json);
    return report(status, values.json);
  }

  if (noun === 'release' && (verb === 'status' || verb === 'watch')) {
    const [service, releaseId] = rest;
    if (!service || !releaseId) throw new UsageError(`release ${verb} needs <service> <release-id>`);
    if (verb === 'watch') return report(await follow(api, service, releaseId, values.json), values.json);
    const status = await api.release.get.query({ service, releaseId });
    if (values.json) console.log(JSON.stringify(status, null, 2));
    else printStatus(status);
    return EXIT.ok;
  }

  throw new UsageError(`unknown command: ${positionals.join(' ')}`);
}

function report(status: ReleaseStatus, json: boolean): number {
  if (json) console.log(JSON.stringify(status, null, 2));
  else {
    const took = status.outcome ? (Date.parse(status.outcome.finishedAt) - Date.parse(status.startedAt)) / 1000 : 0;
    console.log(`release ${status.releaseId}: ${status.outcome?.result ?? status.stage} after ${took.toFixed(0)}s`);
  }
  return status.outcome?.result === 'succeeded' ? EXIT.ok : EXIT.releaseFailed;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
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
      process.exit(status === 400 || status === 404 || status === 409 ? EXIT.usage : EXIT.api);
    }
    console.error(`relctl: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(EXIT.api);
  },
);
