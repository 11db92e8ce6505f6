// Metrics and Audit. Metrics: a service's DORA figures week by week over the last eight weeks, as small bar charts
// (successful releases, change failure rate, median lead time), with the API's own summary of the whole period.
// Audit: the append-only trail, filtered by service and release, and a verification of its hash chain.
import { api, type Outputs, plainMessage } from './api';
import { at, h, show, table } from './dom';

type Dora = Outputs['metrics']['dora'];
const WEEKS = 8;

export function metricsPage(content: HTMLElement): () => void {
  document.title = 'Metrics · Release engine';
  let stopped = false;
  const select = h('select', { name: 'service', 'aria-label': 'service' });
  const charts = h('div', {});
  const load = async () => {
    const service = select.value;
    if (!service) return;
    show(charts, h('p', { class: 'muted' }, 'Loading…'));
    try {
      // One call: the API reads the eight weeks once and splits them.
      const { weeks, whole } = await api.metrics.doraWeekly.query({ service, weeks: WEEKS });
      if (stopped) return;
      show(
        charts,
        h(
          'ul',
          { class: 'summary' },
          whole.summary.map((line) => h('li', {}, line)),
        ),
        records(service, whole),
        h(
          'div',
          { class: 'charts' },
          chart('Successful releases per week', weeks, (d) => d.deploymentFrequency.succeeded, String),
          chart(
            'Change failure rate',
            weeks,
            (d) => d.changeFailureRate.rate,
            (v) => `${Math.round(v * 100)}%`,
          ),
          chart('Median lead time', weeks, (d) => d.leadTimeSeconds.median, hours),
          chart('Median time to restore', weeks, (d) => d.timeToRestoreSeconds.median, hours),
        ),
      );
    } catch (err) {
      if (!stopped) show(charts, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
    }
  };
  select.addEventListener('change', () => void load());
  show(content, h('h1', {}, 'DORA metrics'), h('div', { class: 'filters' }, select), charts);
  void api.service.list.query().then(
    (services) => {
      if (stopped) return;
      show(select, ...services.map((s) => h('option', { value: s.name }, s.name)));
      void load();
    },
    (err: unknown) => show(charts, h('p', { class: 'error', role: 'alert' }, plainMessage(err))),
  );
  return () => {
    stopped = true;
  };
}

/** The post-incident records behind the change failures and restores counted, each a link to its page. */
function records(service: string, figures: Dora): HTMLElement | null {
  const ids = [
    ...new Set([...figures.changeFailures.map((f) => f.incident), ...figures.restores.map((r) => r.incident)]),
  ];
  if (ids.length === 0) return null;
  return h(
    'p',
    { class: 'muted records' },
    'Post-incident records behind these figures: ',
    ids.flatMap((id, i) => [
      i > 0 ? ', ' : '',
      h('a', { href: `#/incident/${encodeURIComponent(service)}/${encodeURIComponent(id)}` }, id),
    ]),
  );
}

function hours(seconds: number): string {
  return seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

/** One bar per week; a week without data shows no bar and says so on hover. */
function chart(
  title: string,
  weeks: Dora[],
  value: (d: Dora) => number | null,
  label: (v: number) => string,
): HTMLElement {
  const values = weeks.map(value);
  const max = Math.max(1e-9, ...values.map((v) => v ?? 0));
  return h(
    'figure',
    { class: 'card metric', 'data-metric': title },
    h('figcaption', {}, title),
    h(
      'div',
      { class: 'bars' },
      weeks.map((week, i) => {
        const v = values[i] ?? null;
        const weekOf = new Date(week.period.from).toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
        return h(
          'div',
          { class: 'bar-slot', title: `week of ${weekOf}: ${v === null ? 'no data' : label(v)}` },
          h('div', { class: 'bar', style: `height: ${v === null ? 0 : Math.max(2, (v / max) * 100)}%` }),
          h('div', { class: 'bar-label' }, v === null ? '–' : label(v)),
        );
      }),
    ),
  );
}

export function auditPage(content: HTMLElement): () => void {
  document.title = 'Audit · Release engine';
  let stopped = false;
  const service = h('input', { name: 'service', placeholder: 'service', 'aria-label': 'service' });
  const releaseId = h('input', { name: 'releaseId', placeholder: 'release id', 'aria-label': 'release id' });
  // Who and what narrow the records read (the trail is read by service, release and time; the rest is on the page).
  const actor = h('input', { name: 'actor', placeholder: 'who', 'aria-label': 'who' });
  const action = h('input', { name: 'action', placeholder: 'what, e.g. gate.approved', 'aria-label': 'what' });
  const since = h('input', { name: 'since', type: 'date', 'aria-label': 'since', title: 'since' });
  const verdict = h('p', { class: 'result', role: 'status' });
  const list = h('div', {});
  const load = async () => {
    try {
      let records = await api.audit.list.query({
        ...(service.value.trim() ? { service: service.value.trim() } : {}),
        ...(releaseId.value.trim() ? { releaseId: releaseId.value.trim() } : {}),
        ...(since.value ? { since: new Date(`${since.value}T00:00`).toISOString() } : {}),
        limit: 500,
      });
      if (stopped) return;
      const who = actor.value.trim().toLowerCase();
      const what = action.value.trim().toLowerCase();
      records = records.filter(
        (r) => (!who || r.actor.toLowerCase().includes(who)) && (!what || r.action.toLowerCase().includes(what)),
      );
      show(
        list,
        records.length === 0
          ? h('p', { class: 'muted empty' }, 'No record matches.')
          : table(
              { class: 'releases audit' },
              ['#', 'When', 'Who', 'What', 'Service', 'Release', 'Details'],
              records.map((r) =>
                h(
                  'tr',
                  { 'data-seq': r.seq },
                  h('td', {}, r.seq),
                  h('td', {}, at(r.at)),
                  h('td', {}, r.actor),
                  h('td', {}, r.action),
                  h('td', {}, r.service),
                  h('td', {}, r.releaseId ?? ''),
                  h(
                    'td',
                    { class: 'muted' },
                    [
                      r.gate && `gate ${r.gate}`,
                      r.region,
                      r.beforeVersion && `${r.beforeVersion} →`,
                      r.afterVersion,
                      r.reason && `“${r.reason}”`,
                    ]
                      .filter(Boolean)
                      .join(' '),
                  ),
                ),
              ),
            ),
      );
    } catch (err) {
      if (!stopped) show(list, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
    }
  };
  const verify = async () => {
    verdict.className = 'result';
    verdict.textContent = 'Verifying the hash chain…';
    try {
      const result = await api.audit.verify.mutate();
      if (result.ok) {
        verdict.textContent = `The trail verifies: ${result.records} records, head ${result.head ?? '(empty)'}.`;
        verdict.classList.add('ok');
      } else {
        verdict.textContent = `The trail does not verify (${result.records} records): ${result.problems.map((p) => p.message).join('; ')}`;
        verdict.classList.add('error');
      }
    } catch (err) {
      verdict.textContent = plainMessage(err);
      verdict.classList.add('error');
    }
  };
  show(
    content,
    h('h1', {}, 'Audit trail'),
    h(
      'form',
      {
        class: 'filters',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void load();
        },
      },
      service,
      releaseId,
      actor,
      action,
      since,
      h('button', { type: 'submit' }, 'Search'),
      h('button', { type: 'button', onclick: () => void verify() }, 'Verify the chain'),
    ),
    verdict,
    list,
  );
  void load();
  return () => {
    stopped = true;
  };
}
