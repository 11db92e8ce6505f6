// relctl check report ...: the callback of an external check (issue 16) for systems that run a shell step rather
// than an HTTP call (a CI job that ran the contract tests): POST /api/v1/check/report with a checker's token.
import type { Api } from './api-client';
import { UsageError } from './api-client';

export interface CheckFlags {
  json: boolean;
  summary?: string | undefined;
  'details-url'?: string | undefined;
}

export async function checkCommand(api: Api, verb: string | undefined, args: string[], flags: CheckFlags) {
  if (verb !== 'report') throw new UsageError(`unknown command: check ${verb ?? ''}`);
  const [service, releaseId, check, result] = args;
  if (!service || !releaseId || !check || (result !== 'pass' && result !== 'fail')) {
    throw new UsageError('check report takes <service> <release-id> <check-id> pass|fail');
  }
  const answer = await api.check.report.mutate({
    service,
    releaseId,
    check,
    status: result,
    ...(flags.summary ? { summary: flags.summary } : {}),
    ...(flags['details-url'] ? { detailsUrl: flags['details-url'] } : {}),
  });
  if (flags.json) console.log(JSON.stringify(answer, null, 2));
  else console.log(`check ${answer.check} of release ${answer.releaseId}: ${answer.status}`);
  return 0;
}
