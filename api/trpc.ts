// The one tRPC instance of the API: procedures, the auth middleware, and the error shape clients see.
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { hasAnyRole, type Role } from '../domain/roles';
import type { Context } from './context';

const t = initTRPC.context<Context>().create({
  // Never send stack traces to clients, whatever NODE_ENV says.
  isDev: false,
  errorFormatter({ shape, error }) {
    const zodError = error.cause instanceof z.ZodError ? error.cause : undefined;
    return {
      ...shape,
      message: zodError ? `Invalid input:\n${z.prettifyError(zodError)}` : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        ...(zodError
          ? {
              issues: zodError.issues.map((issue) => ({
                field: issue.path.join('.') || '(input)',
                message: issue.message,
              })),
            }
          : {}),
      },
    };
  },
});

export const router = t.router;
export const publicProcedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;

/** Requires a valid bearer token: 401 when it is missing or unknown. */
const authenticated = t.middleware(({ ctx, next }) => {
  if (ctx.invalidToken) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'the bearer token is not valid' });
  if (!ctx.principal) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'send a bearer token: Authorization: Bearer <token>' });
  }
  return next({ ctx: { principal: ctx.principal } });
});

/**
 * After a change made for a person through the API (a start, a decision, a control message), tells the console's
 * listeners which release changed (api/changes.ts), so their pages reload at once.
 */
export const announcesChange = t.middleware(async ({ ctx, getRawInput, next }) => {
  const result = await next();
  if (result.ok) {
    const input = (await getRawInput()) as { service?: unknown; releaseId?: unknown } | undefined;
    const releaseId = (result.data as { releaseId?: unknown } | undefined)?.releaseId ?? input?.releaseId;
    if (typeof input?.service === 'string' && typeof releaseId === 'string') {
      ctx.changes?.announce(input.service, releaseId);
    }
  }
  return result;
});

/** A procedure callable by principals holding any of `roles` (admins may call everything): 403 otherwise. */
export function requireRole(...roles: Role[]) {
  return t.procedure.use(authenticated).use(({ ctx, next }) => {
    if (!hasAnyRole(ctx.principal, roles)) {
      throw new TRPCError({
        code: 'FORBIDDEN',
        message: `${ctx.principal.id} may not do this: it needs the ${roles.join(' or ')} role`,
      });
    }
    return next();
  });
}
