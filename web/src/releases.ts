// Releases: the list, newest first, with the API's filters (service, stage, outcome, requester, started between), kept
// in the URL so a filtered list can be shared; it reloads by itself when a release starts, moves or ends (the
// release.changes stream), never by polling from the page.
import type { ReleaseStage } from '../../domain/release-status';
import { api, type Outputs, plainMessage } from './api';
import { ago, at, h, show, table } from './dom';

type Summary = Outputs['release']['list'][number];

const OUTCOMES = ['', 'running', 'succeeded', 'rolled-back', 'failed', 'aborted'] as const;

/** Every stage, in the order a release goes through them (a record, so a new stage cannot be forgotten here). */
const STAGES = Object.keys({
  queued: 1,
  validating: 1,
  'waiting-for-freeze': 1,
  'awaiting-check': 1,
  'awaiting-approval': 1,
  deploying: 1,
  watching: 1,
  paused: 1,
  'needs-decision': 1,
  'rolling-back': 1,
  'needs-attention': 1,
  succeeded: 1,
  'rolled-back': 1,
  failed: 1,
  aborted: 1,
} satisfies Record<ReleaseStage, 1>) as ReleaseStage[];

export function releasesPage(content: HTMLElement): () => void {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const field = (name: string, placeholder: string) =>
    h('input', { name, placeholder, value: params.get(name) ?? '', 'aria-label': placeholder });
  const service = field('service', 'service');
  const requestedBy = field('requestedBy', 'requested by');
  const day = (name: string, label: string) =>
    h('input', { name, type: 'date', 'aria-label': label, title: label, value: params.get(name) ?? '' });
  const startedAfter = day('startedAfter', 'started on or after');
  const startedBefore = day('startedBefore', 'started before');
  const stage = h(
    'select',
    { name: 'stage', 'aria-label': 'stage' },
    h('option', { value: '' }, 'any stage'),
    STAGES.map((s) => h('option', { value: s }, s)),
  );
  stage.value = params.get('stage') ?? '';
  const outcome = h(
    'select',
    { name: 'outcome', 'aria-label': 'outcome' },
    OUTCOMES.map((o) => h('option', { value: o }, o || 'any outcome')),
  );
  outcome.value = params.get('outcome') ?? '';
  const list = h('div', {});
  let stopped = false;

  type Filter = Parameters<typeof api.release.list.query>[0];
  let applied: Filter = { limit: 100 };
  const load = async () => {
    try {
      const releases = await api.release.list.query(applied);
      if (!stopped) show(list, releaseTable(releases));
    } catch (err) {
      if (!stopped) show(list, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
    }
  };
  /** Takes the form's filter (and puts it in the URL), then loads. */
  const apply = () => {
    applied = {
      ...(service.value.trim() ? { service: service.value.trim() } : {}),
      ...(requestedBy.value.trim() ? { requestedBy: requestedBy.value.trim() } : {}),
      ...(outcome.value ? { outcome: outcome.value as Exclude<(typeof OUTCOMES)[number], ''> } : {}),
      ...(stage.value ? { stage: stage.value as ReleaseStage } : {}),
      // Days as the person's calendar has them: from local midnight.
      ...(startedAfter.value ? { startedAfter: new Date(`${startedAfter.value}T00:00`).toISOString() } : {}),
      ...(startedBefore.value ? { startedBefore: new Date(`${startedBefore.value}T00:00`).toISOString() } : {}),
      limit: 100,
    };
    const shown = new URLSearchParams(
      Object.entries({
        service: service.value.trim(),
        stage: stage.value,
        outcome: outcome.value,
        requestedBy: requestedBy.value.trim(),
        startedAfter: startedAfter.value,
        startedBefore: startedBefore.value,
      }).filter(([, v]) => v),
    ).toString();
    history.replaceState(null, '', `#/releases${shown ? `?${shown}` : ''}`);
    return load();
  };
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event: Event) => {
        event.preventDefault();
        void apply();
      },
    },
    service,
    stage,
    outcome,
    requestedBy,
    startedAfter,
    startedBefore,
    h('button', { type: 'submit' }, 'Filter'),
  );
  document.title = 'Releases · Release engine';
  show(content, h('h1', {}, 'Releases'), form, list);
  void apply();
  // A release starts, moves to another stage or ends: the list reloads by itself (at most once a second).
  let pending: ReturnType<typeof setTimeout> | undefined;
  const subscription = api.release.changes.subscribe(undefined, {
    onData: () => {
      pending ??= setTimeout(() => {
        pending = undefined;
        void load();
      }, 1000);
    },
  });
  return () => {
    stopped = true;
    if (pending) clearTimeout(pending);
    subscription.unsubscribe();
  };
}

function releaseTable(releases: Summary[]): HTMLElement {
  if (releases.length === 0) return h('p', { class: 'muted empty' }, 'No release matches.');
  return table(
    { class: 'releases' },
    ['Release', 'Version', 'Stage', 'Change', 'Requested by', 'Regions', 'Started'],
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
  );
}
