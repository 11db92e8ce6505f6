// Releases: the list, newest first, with the API's filters (service, stage, outcome, requester, started after).
import { api, type Outputs, plainMessage } from './api';
import { ago, at, h, show } from './dom';

type Summary = Outputs['release']['list'][number];

const OUTCOMES = ['', 'running', 'succeeded', 'rolled-back', 'failed', 'aborted'] as const;

export function releasesPage(content: HTMLElement): () => void {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const field = (name: string, placeholder: string) =>
    h('input', { name, placeholder, value: params.get(name) ?? '', 'aria-label': placeholder });
  const service = field('service', 'service');
  const requestedBy = field('requestedBy', 'requested by');
  const startedAfter = h('input', {
    name: 'startedAfter',
    type: 'date',
    'aria-label': 'started after',
    value: params.get('startedAfter') ?? '',
  });
  const outcome = h(
    'select',
    { name: 'outcome', 'aria-label': 'outcome' },
    OUTCOMES.map((o) => h('option', { value: o }, o || 'any outcome')),
  );
  outcome.value = params.get('outcome') ?? '';
  const list = h('div', {});
  let stopped = false;

  const load = async () => {
    const filter = {
      ...(service.value.trim() ? { service: service.value.trim() } : {}),
      ...(requestedBy.value.trim() ? { requestedBy: requestedBy.value.trim() } : {}),
      ...(outcome.value ? { outcome: outcome.value as Exclude<(typeof OUTCOMES)[number], ''> } : {}),
      ...(startedAfter.value ? { startedAfter: new Date(startedAfter.value).toISOString() } : {}),
      limit: 100,
    };
    try {
      const releases = await api.release.list.query(filter);
      if (!stopped) show(list, table(releases));
    } catch (err) {
      if (!stopped) show(list, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
    }
  };
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void load();
      },
    },
    service,
    outcome,
    requestedBy,
    startedAfter,
    h('button', { type: 'submit' }, 'Filter'),
  );
  document.title = 'Releases · Release engine';
  show(content, h('h1', {}, 'Releases'), form, list);
  void load();
  return () => {
    stopped = true;
  };
}

function table(releases: Summary[]): HTMLElement {
  if (releases.length === 0) return h('p', { class: 'muted empty' }, 'No release matches.');
  return h(
    'table',
    { class: 'releases' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Release', 'Version', 'Stage', 'Change', 'Requested by', 'Regions', 'Started'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      releases.map((r) =>
        h(
          'tr',
          { 'data-release': r.releaseId },
          h(
            'td',
            {},
            h(
              'a',
              { href: `#/release/${encodeURIComponent(r.service)}/${encodeURIComponent(r.releaseId)}` },
              `${r.service} / ${r.releaseId}`,
            ),
          ),
          h('td', {}, r.version),
          h('td', {}, h('span', { class: `stage ${r.stage}` }, r.stage)),
          h('td', {}, r.changeClass),
          h('td', {}, r.requestedBy),
          h('td', {}, r.regions.length),
          h('td', { title: at(r.startedAt) }, ago(r.startedAt)),
        ),
      ),
    ),
  );
}
