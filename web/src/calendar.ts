// Calendar: the freeze windows, on a week view (this week, the windows that freeze each day) and as a list; operators
// and SREs create one-off windows and delete any window. The API explains a bad window naming the field.
import { api, type Me, type Outputs, plainMessage } from './api';
import { at, h, show } from './dom';

type Window = Outputs['calendar']['list'][number];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export function calendarPage(content: HTMLElement, me: Me): () => void {
  document.title = 'Calendar · Release engine';
  let stopped = false;
  const mayEdit = me.roles.some((r) => r === 'operator' || r === 'sre' || r === 'admin');
  const load = async () => {
    try {
      const windows = await api.calendar.list.query();
      if (!stopped) render(windows);
    } catch (err) {
      if (!stopped) show(content, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
    }
  };
  const render = (windows: Window[]) =>
    show(
      content,
      h('h1', {}, 'Freeze windows'),
      week(windows),
      windows.length === 0
        ? h('p', { class: 'muted empty' }, 'No freeze window: releases may start any time.')
        : h(
            'ul',
            { class: 'windows' },
            windows.map((w) =>
              h(
                'li',
                { 'data-window': w.id },
                h('strong', {}, w.id),
                ` ${w.description}`,
                w.services ? ` (services: ${w.services.join(', ')})` : '',
                w.environments ? ` (environments: ${w.environments.join(', ')})` : '',
                mayEdit
                  ? h(
                      'button',
                      {
                        class: 'link',
                        onclick: () => {
                          if (
                            !confirm(`Delete freeze window ${w.id}? Releases waiting for it are let through at once.`)
                          )
                            return;
                          api.calendar.delete.mutate({ id: w.id }).then(
                            () => void load(),
                            (err: unknown) => alert(plainMessage(err)),
                          );
                        },
                      },
                      ' delete',
                    )
                  : null,
              ),
            ),
          ),
      mayEdit ? createForm(load) : null,
    );
  void load();
  return () => {
    stopped = true;
  };
}

/** This week, Monday first: each day lists the windows that freeze some of it (one-off windows by their dates). */
function week(windows: Window[]): HTMLElement {
  const monday = new Date();
  monday.setHours(0, 0, 0, 0);
  monday.setDate(monday.getDate() - ((monday.getDay() + 6) % 7));
  return h(
    'div',
    { class: 'week' },
    DAYS.map((day, i) => {
      const start = new Date(monday.getTime() + i * 86400_000);
      const end = new Date(start.getTime() + 86400_000);
      const frozen = windows.filter((w) => touches(w, day, start, end));
      return h(
        'div',
        { class: `day${frozen.length > 0 ? ' frozen' : ''}`, 'data-day': day },
        h(
          'div',
          { class: 'day-name' },
          start.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' }),
        ),
        frozen.map((w) => h('div', { class: 'freeze', title: w.description }, w.id)),
      );
    }),
  );
}

function touches(w: Window, day: (typeof DAYS)[number], start: Date, end: Date): boolean {
  switch (w.kind) {
    case 'one-off':
      return Date.parse(w.start) < end.getTime() && Date.parse(w.end) > start.getTime();
    case 'daily':
      return true;
    case 'weekly': {
      const from = DAYS.indexOf(w.start.day);
      const to = DAYS.indexOf(w.end.day);
      const d = DAYS.indexOf(day);
      return from <= to ? d >= from && d <= to : d >= from || d <= to;
    }
  }
}

function createForm(reload: () => Promise<void>): HTMLElement {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const id = h('input', { name: 'id', placeholder: 'id, e.g. black-friday', 'aria-label': 'window id' });
  const reason = h('input', { name: 'reason', placeholder: 'reason', 'aria-label': 'reason', size: 30 });
  const kind = h(
    'select',
    { name: 'kind', 'aria-label': 'repeats' },
    h('option', { value: 'one-off' }, 'once'),
    h('option', { value: 'daily' }, 'every day'),
    h('option', { value: 'weekly' }, 'every week'),
  );
  // Once: two moments in the browser's time. Daily: two times of day. Weekly: a day and time to a day and time.
  const start = h('input', { name: 'start', type: 'datetime-local', 'aria-label': 'start' });
  const end = h('input', { name: 'end', type: 'datetime-local', 'aria-label': 'end' });
  const dayPicker = (label: string, value: string) => {
    const select = h(
      'select',
      { 'aria-label': label },
      DAYS.map((d) => h('option', { value: d }, d)),
    );
    select.value = value;
    return select;
  };
  const startDay = dayPicker('start day', 'fri');
  const endDay = dayPicker('end day', 'mon');
  const startTime = h('input', { type: 'time', 'aria-label': 'start time', value: '16:00' });
  const endTime = h('input', { type: 'time', 'aria-label': 'end time', value: '09:00' });
  const timeZone = h('input', { name: 'timeZone', 'aria-label': 'time zone', value: zone, size: 18 });
  const once = h('span', { class: 'fields' }, start, end);
  const repeating = h('span', { class: 'fields' }, startDay, startTime, ' to ', endDay, endTime, timeZone);
  const showKind = () => {
    once.hidden = kind.value !== 'one-off';
    repeating.hidden = kind.value === 'one-off';
    startDay.hidden = endDay.hidden = kind.value !== 'weekly';
  };
  kind.addEventListener('change', showKind);
  showKind();
  const result = h('p', { class: 'result', role: 'status' });
  const iso = (local: string) => (local ? new Date(local).toISOString() : '');
  const windowOf = () => {
    const common = { id: id.value.trim(), reason: reason.value };
    if (kind.value === 'daily') {
      return {
        ...common,
        kind: 'daily' as const,
        timeZone: timeZone.value.trim(),
        startTime: startTime.value,
        endTime: endTime.value,
      };
    }
    if (kind.value === 'weekly') {
      return {
        ...common,
        kind: 'weekly' as const,
        timeZone: timeZone.value.trim(),
        start: { day: startDay.value as (typeof DAYS)[number], time: startTime.value },
        end: { day: endDay.value as (typeof DAYS)[number], time: endTime.value },
      };
    }
    return { ...common, kind: 'one-off' as const, start: iso(start.value), end: iso(end.value) };
  };
  return h(
    'form',
    {
      class: 'card',
      onsubmit: (event: Event) => {
        event.preventDefault();
        result.className = 'result';
        api.calendar.create.mutate(windowOf()).then(
          (created) => {
            result.textContent = `Created: ${created.window.description}.`;
            result.classList.add('ok');
            void reload();
          },
          (err: unknown) => {
            result.textContent = plainMessage(err);
            result.classList.add('error');
          },
        );
      },
    },
    h('h2', {}, 'New freeze window'),
    h('div', { class: 'filters' }, id, reason, kind, once, repeating, h('button', { type: 'submit' }, 'Create')),
    h(
      'p',
      { class: 'muted' },
      `Once: times are your browser's (${zone}); now is ${at(new Date().toISOString())}. Every day or every week: times in the time zone given (an end at or before the start ends the next day, or the next week).`,
    ),
    result,
  );
}
