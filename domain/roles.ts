// Roles a principal can hold. The API resolves a token to a principal with roles; the release workflow checks the
// roles of whoever decides on a gate.
import { z } from 'zod';

export const Role = z.enum(['pipeline', 'approver', 'operator', 'sre', 'admin', 'viewer']);
export type Role = z.infer<typeof Role>;

/** Who is acting, as established by the API from a bearer token (never taken from a request body). */
export interface Principal {
  id: string;
  roles: Role[];
}

/** True when `principal` holds one of `roles`; admins hold every role. */
export function hasAnyRole(principal: Pick<Principal, 'roles'>, roles: readonly Role[]): boolean {
  return principal.roles.some((role) => role === 'admin' || roles.includes(role));
}
