// Which freeze holds at a given instant: pure and deterministic, so the release workflow evaluates it on replay;
// time is passed in. Free of zod (the calendar's schemas are in calendar.ts), because workflows import it and every
// module a workflow imports is loaded again for each workflow a worker holds (workers/bundle.ts).
import type { DailyWindow, FreezeWindow, OneOffWindow, ReleaseCalendar, WeeklyWindow } from './calendar';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** Guards against calendars that freeze forever (e.g. two daily windows covering the whole day). */
const MAX_CHAIN_STEPS = 1000;

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export interface FreezeScope {
  service: string;
  environment: string;
}

export interface ActiveFreeze {
  /** Windows that make up the freeze (a chain of overlapping or touching windows), in the order found. */
  windows: { id: string; reason: string }[];
  /** When the whole chain ends: the first instant at which no matching window is active. */
  endsAt: Date;
}

/** The freeze in force at `at` for `scope`, or undefined. */
export function activeFreeze(calendar: ReleaseCalendar, at: Date, scope: FreezeScope): ActiveFreeze | undefined {
  const t0 = at.getTime();
  if (Number.isNaN(t0)) throw new RangeError('activeFreeze needs a valid date');
  const matching = calendar.windows.filter((w) => inScope(w, scope));
  const found: { id: string; reason: string }[] = [];
  const foundIds = new Set<string>();
  // Walk forward from `at`: each step jumps to the furthest end among windows covering the cursor, so every
  // instant passed over is frozen and the loop stops at the first instant nothing covers.
  let cursor = t0;
  for (let step = 0; step < MAX_CHAIN_STEPS; step++) {
    let next = cursor;
    for (const window of matching) {
      const end = coveringEnd(window, cursor);
      if (end === undefined) continue;
      if (!foundIds.has(window.id)) {
        foundIds.add(window.id);
        found.push({ id: window.id, reason: window.reason });
      }
      next = Math.max(next, end);
    }
    if (next === cursor) break;
    cursor = next;
  }
  return found.length === 0 ? undefined : { windows: found, endsAt: new Date(cursor) };
}

function inScope(window: FreezeWindow, scope: FreezeScope): boolean {
  return (
    (window.services === undefined || window.services.includes(scope.service)) &&
    (window.environments === undefined || window.environments.includes(scope.environment))
  );
}

/** End (epoch ms) of the occurrence of `window` that covers `t`, or undefined when none does. */
function coveringEnd(window: FreezeWindow, t: number): number | undefined {
  const occurrence = window.kind === 'one-off' ? oneOffOccurrence(window) : recurringOccurrence(window, t);
  if (occurrence === undefined) return undefined;
  return occurrence.start <= t && t < occurrence.end ? occurrence.end : undefined;
}

interface Occurrence {
  start: number;
  end: number;
}

function oneOffOccurrence(window: OneOffWindow): Occurrence {
  return { start: Date.parse(window.start), end: Date.parse(window.end) };
}

/** The latest occurrence starting at or before `t` (it may already have ended). */
function recurringOccurrence(window: DailyWindow | WeeklyWindow, t: number): Occurrence | undefined {
  const zone = window.timeZone;
  const today = Math.floor(wallClock(zone, t) / DAY_MS) * DAY_MS;
  // Daily occurrences start every day, weekly ones every 7: looking back 2 or 8 local days always reaches the
  // latest start even when today's start is still ahead of `t`.
  const lookBack = window.kind === 'daily' ? 2 : 8;
  for (let back = 0; back <= lookBack; back++) {
    const date = today - back * DAY_MS;
    if (window.kind === 'weekly' && WEEKDAYS[weekdayIndex(date)] !== window.start.day) continue;
    const startMinutes = minutesOf(window.kind === 'daily' ? window.startTime : window.start.time);
    const start = toInstant(zone, date + startMinutes * MINUTE_MS);
    if (start > t) continue;
    return { start, end: toInstant(zone, date + endOffsetMinutes(window) * MINUTE_MS) };
  }
  return undefined;
}

/** Local minutes from the start day's midnight to the end of the occurrence (the first end after the start). */
function endOffsetMinutes(window: DailyWindow | WeeklyWindow): number {
  if (window.kind === 'daily') {
    const start = minutesOf(window.startTime);
    const end = minutesOf(window.endTime);
    return end > start ? end : end + 24 * 60;
  }
  const start = minutesOf(window.start.time);
  const end = minutesOf(window.end.time);
  let days = (WEEKDAYS.indexOf(window.end.day) - WEEKDAYS.indexOf(window.start.day) + 7) % 7;
  if (days === 0 && end <= start) days = 7;
  return days * 24 * 60 + end;
}

function minutesOf(time: string): number {
  const [hours = 0, minutes = 0] = time.split(':').map(Number);
  return hours * 60 + minutes;
}

function weekdayIndex(localDate: number): number {
  // 1970-01-01 was a Thursday.
  return (((Math.floor(localDate / DAY_MS) + 4) % 7) + 7) % 7;
}

// Local wall-clock times are represented as "epoch ms as if the local time were UTC", so calendar arithmetic on
// them is plain addition and Date-free.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The local wall-clock time in `timeZone` at instant `t`, to the second. */
function wallClock(timeZone: string, t: number): number {
  const fields: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {};
  for (const part of formatterFor(timeZone).formatToParts(t)) fields[part.type] = Number(part.value);
  const { year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = fields;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

function offsetAt(timeZone: string, t: number): number {
  const seconds = Math.floor(t / 1000) * 1000;
  return wallClock(timeZone, seconds) - seconds;
}

/**
 * The instant at which the local wall-clock time `wall` occurs in `timeZone`. An ambiguous time (clocks going back)
 * resolves to the earlier instant; a time in a gap (clocks going forward) to the first instant after the gap.
 */
function toInstant(timeZone: string, wall: number): number {
  // Offsets are within a day of any instant, so a day either side brackets the true instant and yields the offsets
  // in force before and after any transition near it.
  const before = offsetAt(timeZone, wall - DAY_MS);
  const after = offsetAt(timeZone, wall + DAY_MS);
  const candidates = [wall - before, wall - after].filter((t) => wallClock(timeZone, t) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  if (before >= after) return wall - after;
  // In a gap: local time jumps past `wall` at the transition, which lies between the two candidates. Find the
  // first whole second whose local time is past `wall`.
  let lo = wall - after;
  let hi = wall - before;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (wallClock(timeZone, mid) > wall) hi = mid;
    else lo = mid;
  }
  return hi;
}
