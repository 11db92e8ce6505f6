// Who is acting and the role check the release workflow makes on every decision. Free of zod, because workflows
// import it (workers/bundle.ts); the Role schema lives in roles.ts.
import type { Role } from './roles';

/** Who is acting, as established by the API from a bearer token (never taken from a request body). */
export interface Principal {
  id: string;
  roles: Role[];
}

/** True when `principal` holds one of `roles`; admins hold every role. */
export function hasAnyRole(principal: Pick<Principal, 'roles'>, roles: readonly Role[]): boolean {
  return principal.roles.some((role) => role === 'admin' || roles.includes(role));
}
