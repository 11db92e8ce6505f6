// calendar.*: freeze windows. A change wakes releases waiting for a freeze, so they check again at once.
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { describeFreezeWindow, FreezeWindow, ReleaseCalendar } from '../../domain/calendar';
import { recheckFreezes } from '../../workflows/lifecycle';
import type { Context } from '../context';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';

function calendarOf(ctx: Context) {
  if (!ctx.calendar) throw new TRPCError({ code: 'NOT_IMPLEMENTED', message: 'this API has no release calendar' });
  return ctx.calendar;
}

export const calendarRouter = router({
  list: requireRole('pipeline', 'approver', 'operator', 'sre', 'viewer').query(async ({ ctx }) => {
    const { windows } = await calendarOf(ctx).load();
    return windows.map((window) => ({ ...window, description: describeFreezeWindow(window) }));
  }),

  create: requireRole('operator', 'sre')
    .input(FreezeWindow)
    .mutation(async ({ ctx, input }) => {
      const calendar = calendarOf(ctx);
      const current = await calendar.load();
      if (current.windows.some((w) => w.id === input.id)) {
        throw new TRPCError({
          code: 'CONFLICT',
          message: `id: a freeze window "${input.id}" already exists; delete it first`,
        });
      }
      ReleaseCalendar.parse({ windows: [...current.windows, input] });
      await calendar.put(input);
      const woken = await translated(() => recheckFreezes(ctx.temporal));
      return { window: { ...input, description: describeFreezeWindow(input) }, releasesRechecked: woken };
    }),

  delete: requireRole('operator', 'sre')
    .input(z.strictObject({ id: z.string().min(1).max(64) }))
    .mutation(async ({ ctx, input }) => {
      if (!(await calendarOf(ctx).delete(input.id))) {
        throw new TRPCError({ code: 'NOT_FOUND', message: `there is no freeze window "${input.id}"` });
      }
      const woken = await translated(() => recheckFreezes(ctx.temporal));
      return { deleted: input.id, releasesRechecked: woken };
    }),
});
