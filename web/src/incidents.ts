// Post-incident records: the list (open ones first, filtered by service and status, kept in the URL) and one record's
// page: what led there (canary verdicts, decisions), the timeline from the audit trail, and its action items, which
// operators, SREs and approvers add, close with a resolution, and the record they close once every item is closed.
import { api, type Me, type Outputs, plainMessage } from './api';
import { ago, at, h, show, table } from './dom';

type Summary = Outputs['incident']['list'][number];
type Incident = Outputs['incident']['get'];

const KIND_WORDS: Record<Incident['kind'], string> = {
  'release-rolled-back': 'release rolled back',
  'release-failed': 'release failed',
  'emergency-rollback': 'emergency rollback',
};

const incidentHref = (service: string, id: string) =>
  `#/incident/${encodeURIComponent(service)}/${encodeURIComponent(id)}`;

export function incidentsPage(content: HTMLElement): () => void {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const service = h('input', {
    name: 'service',
    placeholder: 'service',
    'aria-label': 'service',
    value: params.get('service') ?? '',
  });
  const status = h(
    'select',
    { name: 'status', 'aria-label': 'status' },
    h('option', { value: '' }, 'open and closed'),
    h('option', { value: 'open' }, 'open'),
    h('option', { value: 'closed' }, 'closed'),
  );
  status.value = params.get('status') ?? '';
  const list = h('div', {});
  let stopped = false;
  const load = async () => {
    const shown = new URLSearchParams(
      Object.entries({ service: service.value.trim(), status: status.value }).filter(([, v]) => v),
    ).toString();
    history.replaceState(null, '', `#/incidents${shown ? `?${shown}` : ''}`);
    try {
      const incidents = await api.incident.list.query({
        ...(service.value.trim() ? { service: service.value.trim() } : {}),
        ...(status.value ? { status: status.value as 'open' | 'closed' } : {}),
      });
      if (!stopped) show(list, incidentTable(incidents));
    } catch (err) {
      if (!stopped) show(list, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
    }
  };
  document.title = 'Incidents · Release engine';
  show(
    content,
    h('h1', {}, 'Post-incident records'),
    h(
      'p',
      { class: 'muted' },
      'A release that rolls back or fails, and every emergency rollback, opens one. It stays open until each action item is closed.',
    ),
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
      status,
      h('button', { type: 'submit' }, 'Filter'),
    ),
    list,
  );
  void load();
  return () => {
    stopped = true;
  };
}

function incidentTable(incidents: Summary[]): HTMLElement {
  if (incidents.length === 0) return h('p', { class: 'muted empty' }, 'No incident matches.');
  return table(
    { class: 'releases incidents' },
    ['Incident', 'What', 'Status', 'Owner', 'Action items', 'Opened'],
    incidents.map((i) =>
      h(
        'tr',
        { 'data-incident': i.id },
        h('td', {}, h('a', { href: incidentHref(i.service, i.id) }, `${i.service} / ${i.id}`)),
        h('td', {}, `${KIND_WORDS[i.kind]}${i.version ? ` (${i.version})` : ''}`),
        h('td', {}, h('span', { class: `stage ${i.status === 'open' ? 'failed' : 'succeeded'}` }, i.status)),
        h('td', {}, i.owner),
        h('td', {}, `${i.openActions} open of ${i.actionItems.length}`),
        h('td', { title: at(i.openedAt) }, ago(i.openedAt)),
      ),
    ),
  );
}

export function incidentPage(content: HTMLElement, me: Me, service: string, id: string): () => void {
  document.title = `Incident ${id} · Release engine`;
  show(content, h('p', { class: 'muted' }, 'Loading…'));
  let stopped = false;
  const render = (incident: Incident) => {
    if (!stopped) renderIncident(content, me, incident, render);
  };
  api.incident.get.query({ service, id }).then(render, (err: unknown) => {
    if (!stopped) show(content, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
  });
  return () => {
    stopped = true;
  };
}

function renderIncident(content: HTMLElement, me: Me, incident: Incident, render: (i: Incident) => void): void {
  const writer = me.roles.some((r) => ['admin', 'operator', 'sre', 'approver'].includes(r));
  const result = h('p', { class: 'result', role: 'status' });
  const ref = { service: incident.service, id: incident.id };
  /** Runs a change, shows the record as it now stands, or the API's refusal in its own words. */
  const act = async (label: string, run: () => Promise<Incident>) => {
    result.className = 'result';
    result.textContent = `${label}…`;
    try {
      render(await run());
    } catch (err) {
      result.textContent = plainMessage(err);
      result.classList.add('error');
    }
  };
  const source =
    incident.kind === 'emergency-rollback'
      ? `emergency rollback ${incident.id}`
      : h(
          'a',
          { href: `#/release/${encodeURIComponent(incident.service)}/${encodeURIComponent(incident.id)}` },
          `release ${incident.id}`,
        );
  show(
    content,
    h(
      'div',
      { class: 'release-head' },
      h('h1', {}, `Incident ${incident.service} / ${incident.id}`),
      h(
        'span',
        { class: `stage ${incident.status === 'open' ? 'failed' : 'succeeded'}`, 'data-testid': 'status' },
        incident.status,
      ),
    ),
    h(
      'p',
      { class: 'muted' },
      `${KIND_WORDS[incident.kind]}${incident.version ? ` (${incident.version})` : ''}, opened ${ago(incident.openedAt)} when `,
      source,
      ` ended; owner ${incident.owner}`,
    ),
    h('p', { class: `outcome ${incident.status === 'open' ? 'failed' : 'succeeded'}` }, incident.summary),
    incident.status === 'closed'
      ? h('p', {}, `Closed by ${incident.closedBy ?? '?'} ${ago(incident.closedAt)}: ${incident.closingSummary ?? ''}`)
      : null,
    h('h2', {}, 'What led there'),
    incident.verdicts.length > 0 ? h('h3', {}, 'Verdicts') : null,
    h(
      'ul',
      { class: 'verdicts' },
      incident.verdicts.map((v) => h('li', {}, v)),
    ),
    h('h3', {}, 'Decisions'),
    incident.decisions.length > 0
      ? h(
          'ul',
          { class: 'decisions' },
          incident.decisions.map((d) => h('li', {}, d)),
        )
      : h('p', { class: 'muted' }, 'No decision by a person on the way.'),
    h('h2', {}, 'Action items'),
    incident.actionItems.length === 0
      ? h('p', { class: 'muted empty' }, 'No action items yet.')
      : table(
          { class: 'releases action-items' },
          ['Item', 'What', 'Owner', 'Status', 'Resolution'],
          incident.actionItems.map((item) =>
            h(
              'tr',
              { 'data-action': item.id },
              h('td', {}, item.id),
              h('td', {}, item.text),
              h('td', {}, item.owner),
              h('td', {}, item.status),
              h(
                'td',
                {},
                item.status === 'closed'
                  ? `${item.resolution ?? ''} (${item.closedBy ?? '?'}, ${ago(item.closedAt)})`
                  : writer
                    ? closeItemForm(item.id, (resolution) =>
                        act('Close', () => api.incident.closeAction.mutate({ ...ref, actionId: item.id, resolution })),
                      )
                    : '',
              ),
            ),
          ),
        ),
    writer ? changeForms(incident, act, ref) : null,
    result,
    h('h2', {}, 'Timeline'),
    h(
      'ol',
      { class: 'timeline' },
      incident.timeline.map((e) =>
        h(
          'li',
          {},
          h('time', { datetime: e.at, title: at(e.at) }, new Date(e.at).toLocaleTimeString()),
          ` ${e.actor}: ${e.action}${e.region ? ` in ${e.region}` : ''}${e.reason ? ` (${e.reason})` : ''}`,
        ),
      ),
    ),
  );
}

function closeItemForm(actionId: string, close: (resolution: string) => Promise<void>): HTMLElement {
  const resolution = h('input', {
    name: 'resolution',
    placeholder: 'what was done',
    'aria-label': `resolution of ${actionId}`,
    required: true,
  });
  return h(
    'form',
    {
      class: 'inline',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void close(resolution.value.trim());
      },
    },
    resolution,
    h('button', { type: 'submit' }, `Close ${actionId}`),
  );
}

function changeForms(
  incident: Incident,
  act: (label: string, run: () => Promise<Incident>) => Promise<void>,
  ref: { service: string; id: string },
): HTMLElement {
  const text = h('input', { name: 'text', placeholder: 'what must change', 'aria-label': 'new action item' });
  const owner = h('input', { name: 'owner', placeholder: `owner (${incident.owner})`, 'aria-label': 'its owner' });
  const summary = h('input', { name: 'summary', placeholder: 'what the review concluded', 'aria-label': 'summary' });
  const add = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act('Add', async () => {
          const added = await api.incident.addAction.mutate({
            ...ref,
            text: text.value.trim(),
            ...(owner.value.trim() ? { owner: owner.value.trim() } : {}),
          });
          return added.incident;
        });
      },
    },
    text,
    owner,
    h('button', { type: 'submit' }, 'Add action item'),
  );
  const close = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void act('Close', () => api.incident.close.mutate({ ...ref, summary: summary.value.trim() }));
      },
    },
    summary,
    h('button', { type: 'submit' }, 'Close the incident'),
  );
  return h('div', { class: 'incident-forms' }, add, incident.status === 'open' ? close : null);
}
