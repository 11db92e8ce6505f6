// train.*: several services released together, in dependency order (issue 15). So far: train.plan, the dry run that
// orders the members and checks what each requires, of the other members and of what runs where it goes.
import { TRPCError } from '@trpc/server';
import { planTrain, TrainRefusal, TrainRequest } from '../../domain/train';
import { findService } from '../../domain/catalog';
import { runningLookup } from '../requirements';
import { requireRole, router } from '../trpc';
import { newId } from './release';

export const trainRouter = router({
  /** Dry run: the train's stages in order, or a 412 naming every member whose requirements are not met. */
  plan: requireRole('pipeline', 'approver', 'operator', 'sre', 'viewer')
    .input(TrainRequest)
    .query(async ({ ctx, input }) => {
      const requires = new Map<string, Record<string, string>>();
      for (const [i, member] of input.members.entries()) {
        if (!findService(ctx.catalog, member.service)) {
          const known = ctx.catalog.services.map((s) => s.name).join(', ') || 'none';
          throw new TRPCError({
            code: 'BAD_REQUEST',
            message: `members[${i}].service: there is no service "${member.service}" in the catalog (known services: ${known})`,
          });
        }
        if (ctx.artifacts && !(await ctx.artifacts.resolve(member.service, member.version))) {
          throw new TRPCError({
            code: 'BAD_REQUEST',
            message: `members[${i}].version: there is no artifact ${member.service}@${member.version} in the artifact store; publish it first`,
          });
        }
        const manifest = await ctx.artifacts?.manifest?.(member.service, member.version).catch((err: unknown) => {
          throw new TRPCError({
            code: 'PRECONDITION_FAILED',
            message: `members[${i}]: ${member.service}@${member.version} cannot be read: ${(err as Error).message}`,
          });
        });
        if (manifest?.requires) requires.set(member.service, manifest.requires);
      }
      const dependencies = [...new Set([...requires.values()].flatMap((r) => Object.keys(r)))];
      const environments = [
        ...new Set(
          input.members.flatMap((m) => findService(ctx.catalog, m.service)?.environments.map((e) => e.name) ?? []),
        ),
      ];
      const running = await runningLookup(ctx, dependencies, environments);
      try {
        return planTrain(
          { ...input, trainId: input.trainId ?? newId('t') },
          { catalog: ctx.catalog, requires: (service) => requires.get(service), running },
        );
      } catch (err) {
        if (err instanceof TrainRefusal) {
          throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `${err.message}; nothing was started` });
        }
        throw err;
      }
    }),
});
