// External checks (issue 16): where the catalog puts them in a release's plan, what a check system's answers mean,
// and the catalog's refusals, each naming the field.
import { describe, expect, it } from 'vitest';
import { ServiceCatalog } from '../../domain/catalog';
import { readCheckAnswer } from '../../domain/checks';
import { planRelease } from '../../domain/plan';

const environments = [
  { name: 'staging', waves: [['s-1']] },
  { name: 'production', production: true, waves: [['p-1'], ['p-2']] },
];

function service(extra: Record<string, unknown>) {
  return ServiceCatalog.parse({ services: [{ name: 'hello', environments, ...extra }] }).services[0]!;
}

const request = { service: 'hello', version: '1.5.0', releaseId: 'r', changeClass: 'normal' as const };

describe('external checks in the plan', () => {
  it('a check naming no environment runs before the first; one naming environments before each, ahead of the approval', () => {
    const hello = service({
      checks: [
        { name: 'contract', url: 'https://ci.example/contract' },
        { name: 'pen-test', url: 'https://sec.example/run', environments: ['production'], onTimeout: 'ask' },
      ],
    });
    const plan = planRelease(request, hello);
    expect(plan.gates.map((g) => [g.id, g.kind, g.beforeWave])).toEqual([
      ['check-contract-staging', 'check', 0],
      ['promote-to-production', 'promotion', 1],
      ['check-pen-test-production', 'check', 1],
      ['production-approval', 'approval', 1],
    ]);
    const penTest = plan.gates.find((g) => g.id === 'check-pen-test-production');
    expect(penTest?.description).toBe(
      'external check pen-test: pen-test passes (reported by callback; after 3600s approver or sre decide)',
    );
    expect(penTest?.check).toMatchObject({ environment: 'production', mode: 'callback', timeoutSeconds: 3600 });
  });

  it('a ticket with a validation policy adds the ITSM check before anything changes, and says where the outcome goes', () => {
    const hello = service({
      changeTickets: {
        check: { url: 'https://itsm.example/validate', mode: 'poll', pollSeconds: 5, tokenEnv: 'CHECK_TOKEN_ITSM' },
        reportTo: { url: 'https://itsm.example/report', tokenEnv: 'CHECK_TOKEN_ITSM' },
      },
    });
    const plan = planRelease({ ...request, ticket: 'CHG-9' }, hello);
    const ticketGate = plan.gates.find((g) => g.kind === 'check');
    expect(ticketGate).toMatchObject({ id: 'check-change-ticket-staging', beforeWave: 0 });
    expect(ticketGate?.check).toMatchObject({ ticket: 'CHG-9', mode: 'poll', tokenEnv: 'CHECK_TOKEN_ITSM' });
    expect(ticketGate?.description).toBe(
      'external check change-ticket: change CHG-9 is approved and its window open (polled every 5s; fails after 3600s)',
    );
    expect(plan.ticketReport).toEqual({
      ticket: 'CHG-9',
      url: 'https://itsm.example/report',
      tokenEnv: 'CHECK_TOKEN_ITSM',
    });
    // Without a ticket there is nothing to validate or report.
    const untracked = planRelease(request, hello);
    expect(untracked.gates.some((g) => g.kind === 'check')).toBe(false);
    expect(untracked.ticketReport).toBeUndefined();
  });

  it('the catalog refuses a token from any variable but CHECK_TOKEN_*, plain http off this machine, the reserved name, and two checks with one gate id', () => {
    const parsed = ServiceCatalog.safeParse({
      services: [
        {
          name: 'hello',
          environments: [
            { name: 'c', waves: [['c-1']] },
            { name: 'b-c', waves: [['bc-1']] },
          ],
          checks: [
            { name: 'a-b', url: 'http://ci.example/run', tokenEnv: 'AUDIT_DATABASE_URL', environments: ['c'] },
            { name: 'a', url: 'http://127.0.0.1:9000/run', environments: ['b-c'], askRoles: ['operator'] },
            { name: 'change-ticket', url: 'https://itsm.example/run' },
          ],
        },
      ],
    });
    const issues = parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues).toEqual(
      expect.arrayContaining([
        'services.0.checks.0.url: must be https (plain http only on localhost): the token and the result must not cross a network in clear',
        'services.0.checks.0.tokenEnv: must be the name of a worker variable starting with CHECK_TOKEN_, e.g. CHECK_TOKEN_ITSM',
        'services.0.checks.2.name: "change-ticket" is the name of the change ticket\'s validation (changeTickets.check); choose another',
      ]),
    );
    expect(issues.some((i) => i.startsWith('services.0.checks.1.askRoles.0'))).toBe(true);
    // Plain http on this machine is fine.
    expect(issues.some((i) => i.startsWith('services.0.checks.1.url'))).toBe(false);
    // Checks a-b before c and a before b-c would both be gate check-a-b-c: the second would never run.
    const colliding = ServiceCatalog.safeParse({
      services: [
        {
          name: 'hello',
          environments: [
            { name: 'c', waves: [['c-1']] },
            { name: 'b-c', waves: [['bc-1']] },
          ],
          checks: [
            { name: 'a-b', url: 'https://ci.example/run', environments: ['c'] },
            { name: 'a', url: 'https://ci.example/run', environments: ['b-c'] },
          ],
        },
      ],
    });
    expect(colliding.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'services.0.checks.1.name: check a before b-c and check a-b have the same gate id check-a-b-c; rename one',
    ]);
  });

  it('the catalog refuses a check before an unknown environment, a URL with credentials, and a name twice', () => {
    const parsed = ServiceCatalog.safeParse({
      services: [
        {
          name: 'hello',
          environments,
          checks: [
            { name: 'contract', url: 'https://user:secret@ci.example/run', environments: ['qa'] },
            { name: 'contract', url: 'ftp://ci.example/run' },
          ],
        },
      ],
    });
    expect(parsed.success).toBe(false);
    const issues = parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues).toEqual(
      expect.arrayContaining([
        'services.0.checks.0.url: must not carry credentials; name an environment variable holding a token in tokenEnv instead',
        'services.0.checks.1.url: must be an http or https URL',
        'services.0.checks.1.name: check contract is listed twice',
        'services.0.checks.0.environments.0: check contract runs before qa, which is not an environment of hello',
      ]),
    );
  });
});

describe("what a check system's answer means", () => {
  it('reads the usual words for a result, and anything else as still pending', () => {
    expect(readCheckAnswer({ status: 'SUCCESS', summary: ' 12 passed ' })).toEqual({
      status: 'pass',
      summary: '12 passed',
    });
    expect(readCheckAnswer({ status: 'approved' }).status).toBe('pass');
    expect(readCheckAnswer({ status: 'rejected', detailsUrl: 'https://itsm.example/CHG-9' })).toEqual({
      status: 'fail',
      detailsUrl: 'https://itsm.example/CHG-9',
    });
    expect(readCheckAnswer({ status: 'queued', statusUrl: 'https://ci.example/runs/7' })).toEqual({
      status: 'pending',
      statusUrl: 'https://ci.example/runs/7',
    });
    expect(readCheckAnswer({ status: 'fail', detailsUrl: 'javascript:alert(1)' })).toEqual({ status: 'fail' });
    expect(readCheckAnswer(undefined)).toEqual({ status: 'pending' });
    expect(readCheckAnswer([1, 2])).toEqual({ status: 'pending' });
  });
});
