// The release calendar: freeze windows (one-off, daily, weekly) in named time zones, and which freeze holds at a
// given instant (domain/freeze.ts, which the release workflow evaluates on replay).
import { z } from 'zod';
import { EnvironmentName, ServiceName } from './names';

export const Weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
export type Weekday = z.infer<typeof Weekday>;

export const WindowId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, dots, dashes or underscores');
export type WindowId = z.infer<typeof WindowId>;

export const TimeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour time HH:MM such as 09:30');
export type TimeOfDay = z.infer<typeof TimeOfDay>;

export const TimeZone = z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Berlin');
export type TimeZone = z.infer<typeof TimeZone>;

const common = {
  id: WindowId,
  reason: z.string().trim().min(1).max(500),
  /** Absent means every service; an empty list would silently match nothing, so it is refused. */
  services: z.array(ServiceName).min(1, 'omit services to freeze every service').optional(),
  environments: z.array(EnvironmentName).min(1, 'omit environments to freeze every environment').optional(),
};

export const OneOffWindow = z
  .strictObject({
    ...common,
    kind: z.literal('one-off'),
    start: z.iso.datetime({ offset: true }),
    end: z.iso.datetime({ offset: true }),
  })
  .refine((w) => Date.parse(w.end) > Date.parse(w.start), { message: 'must be after start', path: ['end'] });
export type OneOffWindow = z.infer<typeof OneOffWindow>;

export const DailyWindow = z
  .strictObject({
    ...common,
    kind: z.literal('daily'),
    timeZone: TimeZone,
    startTime: TimeOfDay,
    /** At or before startTime means the window ends the next day (e.g. 22:00 to 06:00). */
    endTime: TimeOfDay,
  })
  // Equal times would be a window that never ends; say so rather than guess 0h or 24h.
  .refine((w) => w.endTime !== w.startTime, { message: 'must differ from startTime', path: ['endTime'] });
export type DailyWindow = z.infer<typeof DailyWindow>;

const WeeklyPoint = z.strictObject({ day: Weekday, time: TimeOfDay });

export const WeeklyWindow = z
  .strictObject({
    ...common,
    kind: z.literal('weekly'),
    timeZone: TimeZone,
    start: WeeklyPoint,
    /** The first matching day and time after start (e.g. fri 16:00 to mon 09:00 spans the weekend). */
    end: WeeklyPoint,
  })
  .refine((w) => w.end.day !== w.start.day || w.end.time !== w.start.time, {
    message: 'must differ from start',
    path: ['end'],
  });
export type WeeklyWindow = z.infer<typeof WeeklyWindow>;

export const FreezeWindow = z.discriminatedUnion('kind', [OneOffWindow, DailyWindow, WeeklyWindow]);
export type FreezeWindow = z.infer<typeof FreezeWindow>;

export const ReleaseCalendar = z.strictObject({ windows: z.array(FreezeWindow) }).superRefine((calendar, ctx) => {
  const seen = new Set<string>();
  calendar.windows.forEach((window, i) => {
    if (seen.has(window.id)) {
      ctx.addIssue({
        code: 'custom',
        message: `freeze window ${window.id} is listed twice`,
        path: ['windows', i, 'id'],
      });
    }
    seen.add(window.id);
  });
});
export type ReleaseCalendar = z.infer<typeof ReleaseCalendar>;

export { activeFreeze, type ActiveFreeze, type FreezeScope } from './freeze';

/** A one-line human description, e.g. "weekly Fri 16:00 to Mon 09:00 (Europe/Berlin): quarter-end". */
export function describeFreezeWindow(window: FreezeWindow): string {
  let when: string;
  switch (window.kind) {
    case 'one-off':
      when = `one-off ${window.start} to ${window.end}`;
      break;
    case 'daily': {
      const nextDay = window.endTime <= window.startTime ? ' next day' : '';
      when = `daily ${window.startTime} to ${window.endTime}${nextDay} (${window.timeZone})`;
      break;
    }
    case 'weekly':
      when =
        `weekly ${dayLabel(window.start.day)} ${window.start.time} to ` +
        `${dayLabel(window.end.day)} ${window.end.time} (${window.timeZone})`;
      break;
  }
  const services = window.services ? ` for ${window.services.join(', ')}` : '';
  const environments = window.environments ? ` in ${window.environments.join(', ')}` : '';
  return `${when}${services}${environments}: ${window.reason}`;
}

function dayLabel(day: Weekday): string {
  return day.charAt(0).toUpperCase() + day.slice(1);
}

function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone });
    return true;
  } catch {
    return false;
  }
}
