// External checks (issue 16): a check the engine asks another system to run before a release enters an environment
// (a contract-test suite, an ITSM change validation). The engine posts a webhook; the system answers in its response,
// through an authenticated callback (check.report), or, in poll mode, on a status URL the engine polls. A pending
// check waits durably (a Temporal timer, not a polling loop in the workflow); at its timeout it fails the release or
// asks a human, as the policy says. Pure: the schema, the payload the system receives, and how its answers read.
import { z } from 'zod';
import { TICKET_CHECK } from './check-request';
import { PrincipalId } from './roles';

/** A check's name, as it appears in gate ids (`check-<name>-<environment>`) and in the callback. */
export const CheckName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes, starting with a letter');

/** Hosts a check may be called on over plain http: this machine only (a token or an answer must not cross a network in clear). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
  .max(2000)
  .refine((u) => !new URL(u).username && !new URL(u).password, {
    message: 'must not carry credentials; name an environment variable holding a token in tokenEnv instead',
  });

/** A check system's address: https, or http on this machine. */
const CheckUrl = HttpUrl.refine((u) => new URL(u).protocol === 'https:' || LOOPBACK.has(new URL(u).hostname), {
  message: 'must be https (plain http only on localhost): the token and the result must not cross a network in clear',
});

/** The prefix of the worker's variables a check's token may come from (no other secret of the worker can be named). */
export const CHECK_TOKEN_PREFIX = 'CHECK_TOKEN_';

/** Where a check's outgoing calls go, and the variable of the worker's environment that holds their bearer token. */
const Endpoint = {
  url: CheckUrl,
  /**
   * An environment variable of the orchestrator worker holding a bearer token for the calls (the catalog, the plan
   * and the workflow's history never contain the token itself). Only CHECK_TOKEN_* variables: a catalog entry must not
   * be able to send the worker's other secrets (its database URL, cloud keys) to a URL of its choosing.
   */
  tokenEnv: z
    .string()
    .regex(
      /^CHECK_TOKEN_[A-Z0-9_]{1,64}$/,
      `must be the name of a worker variable starting with ${CHECK_TOKEN_PREFIX}, e.g. ${CHECK_TOKEN_PREFIX}ITSM`,
    )
    .optional(),
};

/** What a check asks for besides its name: how it is answered, how long it may take, and what its timeout means. */
const CheckBehaviour = {
  ...Endpoint,
  /** callback: the system reports through check.report (or in its answer to the webhook); poll: the engine asks. */
  mode: z.enum(['callback', 'poll']).default('callback'),
  /** In poll mode, how often the engine asks for the result. */
  pollSeconds: z.number().int().min(1).max(3600).default(30),
  /** How long the check may stay pending once requested (the webhook's retries count against it). */
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(13 * 24 * 3600)
    .default(3600),
  /** At the timeout: fail the release, or ask one of askRoles whether it may go on without the check. */
  onTimeout: z.enum(['fail', 'ask']).default('fail'),
  /** Who may let the release go on without the check (the roles that decide gates). */
  askRoles: z
    .array(z.enum(['approver', 'sre']))
    .min(1)
    .default(['approver', 'sre']),
  /** How long that question waits for an answer before the release fails. */
  askWaitSeconds: z
    .number()
    .int()
    .min(1)
    .max(13 * 24 * 3600)
    .default(24 * 3600),
  /** The principals whose reports count (tokens of the checker role); absent: any checker. */
  reporters: z.array(PrincipalId).max(20).optional(),
};

export const ExternalCheckSpec = z.strictObject({
  name: CheckName.refine((n) => n !== TICKET_CHECK, {
    message: `"${TICKET_CHECK}" is the name of the change ticket's validation (changeTickets.check); choose another`,
  }),
  /** The environments the check runs before (before their first wave); absent: the first one, before anything changes. */
  environments: z.array(z.string()).min(1).optional(),
  ...CheckBehaviour,
});
export type ExternalCheckSpec = z.infer<typeof ExternalCheckSpec>;

/** The ITSM validation of a release's change ticket: approved, and its change window open. */
export const TicketCheckSpec = z.strictObject(CheckBehaviour);
/** Where the release's outcome is reported for its ticket when it ends (ITSM: a work note, closing the change). */
export const TicketReportSpec = z.strictObject(Endpoint);

export const CheckStatus = z.enum(['pass', 'fail']);
export type CheckStatus = z.infer<typeof CheckStatus>;

/** A check's report, as the API takes it from the system that ran it (check.report). */
export const CheckReport = z.strictObject({
  status: CheckStatus,
  /** What the system found, in a sentence (shown on the release's timeline and on the audit trail). */
  summary: z.string().trim().max(2000).optional(),
  /** Where a person reads the details (the test run, the change record). */
  detailsUrl: HttpUrl.optional(),
});
export type CheckReport = z.infer<typeof CheckReport>;

export * from './check-request';
