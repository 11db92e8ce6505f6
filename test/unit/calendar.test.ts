import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { activeFreeze, describeFreezeWindow, FreezeWindow, ReleaseCalendar } from '../../domain/calendar';

const anywhere = { service: 'hello', environment: 'production' };

function calendar(...windows: unknown[]): ReleaseCalendar {
  return ReleaseCalendar.parse({ windows });
}

/** Freeze end as an ISO string, or undefined when nothing is frozen: what a user reads in the status. */
function frozenUntil(cal: ReleaseCalendar, at: string, scope = anywhere): string | undefined {
  return activeFreeze(cal, new Date(at), scope)?.endsAt.toISOString();
}

function errorOf(schema: z.ZodType, input: unknown): string {
  const result = schema.safeParse(input);
  expect(result.success).toBe(false);
  return z.prettifyError(result.error!);
}

describe('one-off windows', () => {
  const cal = calendar({
    id: 'xmas',
    kind: 'one-off',
    start: '2026-12-24T00:00:00Z',
    end: '2026-12-27T00:00:00+01:00',
    reason: 'holidays',
    services: ['hello', 'checkout'],
    environments: ['production'],
  });

  it('freezes inside the window until its end, with the window named', () => {
    expect(activeFreeze(cal, new Date('2026-12-25T12:00:00Z'), anywhere)).toEqual({
      windows: [{ id: 'xmas', reason: 'holidays' }],
      endsAt: new Date('2026-12-26T23:00:00Z'),
    });
    expect(frozenUntil(cal, '2026-12-24T00:00:00Z')).toBe('2026-12-26T23:00:00.000Z');
  });

  it('does not freeze before the start or at exactly the end', () => {
    expect(frozenUntil(cal, '2026-12-23T23:59:59.999Z')).toBeUndefined();
    expect(frozenUntil(cal, '2026-12-26T23:00:00Z')).toBeUndefined();
  });

  it('applies only to the listed services and environments', () => {
    const at = '2026-12-25T12:00:00Z';
    expect(frozenUntil(cal, at, { service: 'checkout', environment: 'production' })).toBeDefined();
    expect(frozenUntil(cal, at, { service: 'other', environment: 'production' })).toBeUndefined();
    expect(frozenUntil(cal, at, { service: 'hello', environment: 'staging' })).toBeUndefined();
  });
});

describe('daily windows', () => {
  const nightly = calendar({
    id: 'nightly',
    kind: 'daily',
    timeZone: 'Europe/Berlin',
    startTime: '22:00',
    endTime: '06:00',
    reason: 'batch jobs',
  });

  it('freezes 23:30 local until 06:00 local the next day, in winter (+01:00) and summer (+02:00)', () => {
    expect(frozenUntil(nightly, '2026-01-15T23:30:00+01:00')).toBe('2026-01-16T05:00:00.000Z');
    expect(frozenUntil(nightly, '2026-07-15T23:30:00+02:00')).toBe('2026-07-16T04:00:00.000Z');
  });

  it('freezes the early-morning tail until 06:00 the same day', () => {
    expect(frozenUntil(nightly, '2026-01-16T05:59:00+01:00')).toBe('2026-01-16T05:00:00.000Z');
    expect(frozenUntil(nightly, '2026-01-16T06:00:00+01:00')).toBeUndefined();
  });

  it('does not freeze at noon', () => {
    expect(frozenUntil(nightly, '2026-01-15T12:00:00+01:00')).toBeUndefined();
    expect(frozenUntil(nightly, '2026-07-15T12:00:00+02:00')).toBeUndefined();
  });

  it('gives different instants for the same wall-clock rule in Tokyo and London', () => {
    const office = (timeZone: string) =>
      calendar({ id: 'office', kind: 'daily', timeZone, startTime: '09:00', endTime: '17:00', reason: 'office' });
    const tokyo = office('Asia/Tokyo');
    const london = office('Europe/London');
    expect(frozenUntil(tokyo, '2026-01-15T03:00:00Z')).toBe('2026-01-15T08:00:00.000Z');
    expect(frozenUntil(london, '2026-01-15T03:00:00Z')).toBeUndefined();
    expect(frozenUntil(london, '2026-01-15T12:00:00Z')).toBe('2026-01-15T17:00:00.000Z');
    expect(frozenUntil(tokyo, '2026-01-15T12:00:00Z')).toBeUndefined();
  });
});

describe('weekly windows', () => {
  const weekend = calendar({
    id: 'weekend',
    kind: 'weekly',
    timeZone: 'America/New_York',
    start: { day: 'fri', time: '16:00' },
    end: { day: 'mon', time: '09:00' },
    reason: 'weekend',
  });

  it('freezes Saturday noon until Monday 09:00 local', () => {
    expect(frozenUntil(weekend, '2026-01-17T12:00:00-05:00')).toBe('2026-01-19T14:00:00.000Z');
  });

  it('starts at Friday 16:00 and is over at Monday 09:00', () => {
    expect(frozenUntil(weekend, '2026-01-16T15:59:00-05:00')).toBeUndefined();
    expect(frozenUntil(weekend, '2026-01-16T16:00:00-05:00')).toBe('2026-01-19T14:00:00.000Z');
    expect(frozenUntil(weekend, '2026-01-19T08:59:00-05:00')).toBe('2026-01-19T14:00:00.000Z');
    expect(frozenUntil(weekend, '2026-01-19T09:00:00-05:00')).toBeUndefined();
  });

  it('does not freeze on Thursday', () => {
    expect(frozenUntil(weekend, '2026-01-15T12:00:00-05:00')).toBeUndefined();
  });

  it('follows local time across a DST change (EDT in summer)', () => {
    expect(frozenUntil(weekend, '2026-07-18T12:00:00-04:00')).toBe('2026-07-20T13:00:00.000Z');
  });
});

describe('daylight saving time (Europe/Berlin)', () => {
  const daily = (startTime: string, endTime: string) =>
    calendar({ id: 'w', kind: 'daily', timeZone: 'Europe/Berlin', startTime, endTime, reason: 'dst' });

  it('spring forward (2026-03-29): 01:00-03:00 covers only one real hour, 00:00Z to 01:00Z', () => {
    const w = daily('01:00', '03:00');
    expect(frozenUntil(w, '2026-03-28T23:59:00Z')).toBeUndefined();
    expect(frozenUntil(w, '2026-03-29T00:00:00Z')).toBe('2026-03-29T01:00:00.000Z');
    expect(frozenUntil(w, '2026-03-29T00:59:59Z')).toBe('2026-03-29T01:00:00.000Z');
    expect(frozenUntil(w, '2026-03-29T01:00:00Z')).toBeUndefined();
  });

  it('spring forward: a start inside the gap (02:30) begins at the first instant after it (03:00 CEST)', () => {
    const w = daily('02:30', '04:00');
    expect(frozenUntil(w, '2026-03-29T00:59:59Z')).toBeUndefined();
    expect(frozenUntil(w, '2026-03-29T01:00:00Z')).toBe('2026-03-29T02:00:00.000Z');
  });

  it('fall back (2026-10-25): 01:00-03:00 covers three real hours, 23:00Z to 02:00Z', () => {
    const w = daily('01:00', '03:00');
    expect(frozenUntil(w, '2026-10-24T22:59:00Z')).toBeUndefined();
    expect(frozenUntil(w, '2026-10-24T23:00:00Z')).toBe('2026-10-25T02:00:00.000Z');
    // 02:30 local happens twice; both are inside the window.
    expect(frozenUntil(w, '2026-10-25T00:30:00Z')).toBe('2026-10-25T02:00:00.000Z');
    expect(frozenUntil(w, '2026-10-25T01:30:00Z')).toBe('2026-10-25T02:00:00.000Z');
    expect(frozenUntil(w, '2026-10-25T02:00:00Z')).toBeUndefined();
  });

  it('fall back: an ambiguous start or end (02:30) is the earlier instant (CEST)', () => {
    const startsAmbiguous = daily('02:30', '05:00');
    expect(frozenUntil(startsAmbiguous, '2026-10-25T00:29:00Z')).toBeUndefined();
    expect(frozenUntil(startsAmbiguous, '2026-10-25T00:30:00Z')).toBe('2026-10-25T04:00:00.000Z');
    const endsAmbiguous = daily('00:00', '02:30');
    expect(frozenUntil(endsAmbiguous, '2026-10-25T00:00:00Z')).toBe('2026-10-25T00:30:00.000Z');
    expect(frozenUntil(endsAmbiguous, '2026-10-25T01:30:00Z')).toBeUndefined();
  });
});

describe('chained windows', () => {
  const weekend = {
    id: 'weekend',
    kind: 'weekly',
    timeZone: 'America/New_York',
    start: { day: 'fri', time: '16:00' },
    end: { day: 'mon', time: '09:00' },
    reason: 'weekend',
  };

  it('extends a one-off that ends inside a weekly window to the end of the weekly window', () => {
    const cal = calendar(
      {
        id: 'incident',
        kind: 'one-off',
        start: '2026-01-16T12:00:00-05:00',
        end: '2026-01-16T18:00:00-05:00',
        reason: 'incident review',
      },
      weekend,
    );
    expect(activeFreeze(cal, new Date('2026-01-16T13:00:00-05:00'), anywhere)).toEqual({
      windows: [
        { id: 'incident', reason: 'incident review' },
        { id: 'weekend', reason: 'weekend' },
      ],
      endsAt: new Date('2026-01-19T14:00:00Z'),
    });
  });

  it('extends a weekly window through a daily window that starts when it ends', () => {
    const cal = calendar(weekend, {
      id: 'standup',
      kind: 'daily',
      timeZone: 'America/New_York',
      startTime: '09:00',
      endTime: '10:00',
      reason: 'standup',
    });
    const freeze = activeFreeze(cal, new Date('2026-01-17T12:00:00-05:00'), anywhere);
    expect(freeze?.windows.map((w) => w.id)).toEqual(['weekend', 'standup']);
    expect(freeze?.endsAt.toISOString()).toBe('2026-01-19T15:00:00.000Z');
  });

  it('does not chain across a gap, nor through windows of another scope', () => {
    const cal = calendar(
      { id: 'a', kind: 'one-off', start: '2026-01-01T00:00:00Z', end: '2026-01-01T01:00:00Z', reason: 'a' },
      { id: 'b', kind: 'one-off', start: '2026-01-01T01:00:01Z', end: '2026-01-01T02:00:00Z', reason: 'b' },
      {
        id: 'c',
        kind: 'one-off',
        start: '2026-01-01T01:00:00Z',
        end: '2026-01-01T03:00:00Z',
        reason: 'c',
        services: ['other'],
      },
    );
    expect(frozenUntil(cal, '2026-01-01T00:30:00Z')).toBe('2026-01-01T01:00:00.000Z');
  });

  it('returns (without hanging) when two daily windows freeze the whole day', () => {
    const cal = calendar(
      { id: 'am', kind: 'daily', timeZone: 'UTC', startTime: '00:00', endTime: '12:00', reason: 'am' },
      { id: 'pm', kind: 'daily', timeZone: 'UTC', startTime: '12:00', endTime: '00:00', reason: 'pm' },
    );
    const at = new Date('2026-01-01T06:00:00Z');
    const freeze = activeFreeze(cal, at, anywhere);
    expect(freeze?.windows.map((w) => w.id)).toEqual(['am', 'pm']);
    expect(freeze!.endsAt.getTime()).toBeGreaterThan(at.getTime() + 365 * 24 * 3600_000);
  });
});

describe('validation', () => {
  const daily = {
    id: 'd',
    kind: 'daily',
    timeZone: 'Europe/Berlin',
    startTime: '22:00',
    endTime: '06:00',
    reason: 'x',
  };

  it('rejects an unknown time zone, naming timeZone', () => {
    const message = errorOf(FreezeWindow, { ...daily, timeZone: 'Mars/Olympus_Mons' });
    expect(message).toContain('timeZone');
    expect(message).toContain('must be an IANA time zone such as Europe/Berlin');
  });

  it('rejects a time that is not HH:MM, naming the field', () => {
    expect(errorOf(FreezeWindow, { ...daily, endTime: '24:00' })).toMatch(/endTime[\s\S]*HH:MM|HH:MM[\s\S]*endTime/);
    expect(errorOf(FreezeWindow, { ...daily, startTime: '9:00' })).toContain('startTime');
  });

  it('rejects a daily window whose end equals its start', () => {
    expect(errorOf(FreezeWindow, { ...daily, endTime: '22:00' })).toContain('endTime');
  });

  it('rejects a one-off that ends before it starts, or an instant without an offset', () => {
    const oneOff = {
      id: 'o',
      kind: 'one-off',
      start: '2026-01-02T00:00:00Z',
      end: '2026-01-01T00:00:00Z',
      reason: 'x',
    };
    expect(errorOf(FreezeWindow, oneOff)).toMatch(/must be after start[\s\S]*end/);
    expect(errorOf(FreezeWindow, { ...oneOff, start: '2025-12-31T00:00:00' })).toContain('start');
  });

  it('rejects a weekly window that ends where it starts', () => {
    const weekly = {
      id: 'w',
      kind: 'weekly',
      timeZone: 'UTC',
      start: { day: 'fri', time: '16:00' },
      end: { day: 'fri', time: '16:00' },
      reason: 'x',
    };
    expect(errorOf(FreezeWindow, weekly)).toMatch(/→ at end/);
  });

  it('rejects duplicate window ids, naming the second one', () => {
    const message = errorOf(ReleaseCalendar, { windows: [daily, daily] });
    expect(message).toContain('windows[1].id');
    expect(message).toContain('freeze window d is listed twice');
  });

  it('rejects a blank reason and a malformed id', () => {
    expect(errorOf(FreezeWindow, { ...daily, reason: '   ' })).toContain('reason');
    expect(errorOf(FreezeWindow, { ...daily, id: '-bad' })).toContain('id');
  });
});

describe('describeFreezeWindow', () => {
  it('describes the three kinds in one readable line', () => {
    expect(
      describeFreezeWindow(
        FreezeWindow.parse({
          id: 'q',
          kind: 'weekly',
          timeZone: 'Europe/Berlin',
          start: { day: 'fri', time: '16:00' },
          end: { day: 'mon', time: '09:00' },
          reason: 'quarter-end',
        }),
      ),
    ).toBe('weekly Fri 16:00 to Mon 09:00 (Europe/Berlin): quarter-end');
    expect(
      describeFreezeWindow(
        FreezeWindow.parse({
          id: 'n',
          kind: 'daily',
          timeZone: 'Europe/Berlin',
          startTime: '22:00',
          endTime: '06:00',
          reason: 'batch jobs',
          environments: ['production'],
        }),
      ),
    ).toBe('daily 22:00 to 06:00 next day (Europe/Berlin) in production: batch jobs');
    expect(
      describeFreezeWindow(
        FreezeWindow.parse({
          id: 'x',
          kind: 'one-off',
          start: '2026-12-24T00:00:00Z',
          end: '2026-12-27T00:00:00Z',
          reason: 'holidays',
          services: ['hello', 'checkout'],
        }),
      ),
    ).toBe('one-off 2026-12-24T00:00:00Z to 2026-12-27T00:00:00Z for hello, checkout: holidays');
  });
});
