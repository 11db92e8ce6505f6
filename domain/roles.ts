// Roles a principal can hold. The API resolves a token to a principal with roles; the release workflow checks the
// roles of whoever decides on a gate.
import { z } from 'zod';

// alerter: monitoring's token (the Alertmanager webhook). It only posts alerts and reads nothing, because the token
// sits in a monitoring config file that more people can read than should see releases.
// checker: the token of a system that runs external checks (contract tests, ITSM); it only reports their results.
export const Role = z.enum(['pipeline', 'approver', 'operator', 'sre', 'admin', 'viewer', 'alerter', 'checker']);
export type Role = z.infer<typeof Role>;

/** A principal's id: a plain name, as it appears in the tokens file and in audit records. */
export const PrincipalId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9@._-]{0,127}$/, 'must be a plain principal name');

/** Roles that may read releases, services and the calendar (every person; not the alerter, a machine). */
export const READ_ROLES = ['pipeline', 'approver', 'operator', 'sre', 'viewer'] as const satisfies readonly Role[];

export { hasAnyRole, type Principal } from './principal';
