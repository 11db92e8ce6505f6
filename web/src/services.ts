// Services: what each region runs per environment (from the version ledger) and whether it really does (drift), the
// release in flight and those queued, recent releases, and an emergency rollback for SREs (reason required, confirmed).
import { api, type Me, type Outputs, plainMessage } from './api';
import { ago, at, h, show, table } from './dom';

type Service = Outputs['service']['get'];

export function servicesPage(content: HTMLElement): () => void {
  document.title = 'Services · Release engine';
  let stopped = false;
  void api.service.list.query().then(
    (services) => {
      if (stopped) return;
      show(
        content,
        h('h1', {}, 'Services'),
        table(
          { class: 'releases' },
          ['Service', 'Environments', 'Regions'],
          services.map((s) =>
            h(
              'tr',
              {},
              h('td', {}, h('a', { href: `#/service/${encodeURIComponent(s.name)}` }, s.name)),
              h('td', {}, s.environments.map((e) => `${e.name}${e.production ? ' (production)' : ''}`).join(', ')),
              h('td', {}, s.regions.length),
            ),
          ),
        ),
      );
    },
    (err: unknown) => show(content, h('p', { class: 'error', role: 'alert' }, plainMessage(err))),
  );
  return () => {
    stopped = true;
  };
}

export function servicePage(content: HTMLElement, me: Me, name: string): () => void {
  document.title = `${name} · Release engine`;
  let stopped = false;
  const load = async () => {
    try {
      const [service, recent] = await Promise.all([
        api.service.get.query({ service: name }),
        api.release.list.query({ service: name, limit: 10 }),
      ]);
      if (!stopped) render(content, me, service, recent, load);
    } catch (err) {
      if (!stopped) show(content, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
    }
  };
  void load();
  return () => {
    stopped = true;
  };
}

function render(
  content: HTMLElement,
  me: Me,
  service: Service,
  recent: Outputs['release']['list'],
  reload: () => Promise<void>,
): void {
  const inFlight = service.active
    ? h(
        'p',
        {},
        `In progress: ${service.active.kind} `,
        service.active.kind === 'release'
          ? h(
              'a',
              {
                href: `#/release/${encodeURIComponent(service.service.name)}/${encodeURIComponent(service.active.id)}`,
              },
              service.active.id,
            )
          : service.active.id,
        ` by ${service.active.requestedBy}`,
        service.queued.length > 0 ? `; queued: ${service.queued.map((q) => q.id).join(', ')}` : '',
      )
    : h('p', { class: 'muted' }, 'Nothing in progress.');
  show(
    content,
    h('h1', {}, service.service.name),
    inFlight,
    h('h2', {}, 'What each region runs'),
    table(
      { class: 'releases' },
      ['Region', 'Environment', 'Version', 'Since', 'By release', 'Drift'],
      service.regions.map((r) =>
        h(
          'tr',
          { 'data-region': r.region },
          h('td', {}, r.region),
          h('td', {}, r.environment),
          h('td', {}, r.version ?? '—', r.rolledBackFrom ? ` (rolled back from ${r.rolledBackFrom})` : ''),
          h('td', { title: at(r.recordedAt ?? undefined) }, ago(r.recordedAt ?? undefined)),
          h('td', {}, r.releaseId ?? ''),
          h('td', { class: `drift ${r.drift.status}` }, driftText(r.drift)),
        ),
      ),
    ),
    h('h2', {}, 'Recent releases'),
    recent.length === 0
      ? h('p', { class: 'muted' }, 'None yet.')
      : h(
          'ul',
          {},
          recent.map((r) =>
            h(
              'li',
              {},
              h(
                'a',
                { href: `#/release/${encodeURIComponent(r.service)}/${encodeURIComponent(r.releaseId)}` },
                `${r.version} (${r.releaseId})`,
              ),
              ` ${r.stage}, requested by ${r.requestedBy} ${ago(r.startedAt)}`,
            ),
          ),
        ),
    me.roles.some((r) => r === 'sre' || r === 'admin') ? rollbackForm(service, reload) : null,
  );
}

function driftText(drift: Service['regions'][number]['drift']): string {
  switch (drift.status) {
    case 'in-sync':
      return 'in sync';
    case 'drifted':
      return `drifted: runs ${drift.runs}, the ledger says ${drift.ledgerVersion}${drift.acknowledged ? ' (acknowledged)' : ''}`;
    case 'unknown':
      return `unknown (${drift.reason})`;
  }
}

function rollbackForm(service: Service, reload: () => Promise<void>): HTMLElement {
  const reason = h('input', {
    name: 'reason',
    placeholder: 'Why (required)',
    'aria-label': 'rollback reason',
    size: 50,
  });
  const result = h('p', { class: 'result', role: 'status' });
  return h(
    'form',
    {
      class: 'card danger',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const name = service.service.name;
        if (
          !confirm(
            `Roll every region of ${name} back to its last known-good version? Anything in flight is aborted first.`,
          )
        )
          return;
        result.className = 'result';
        result.textContent = 'Starting the emergency rollback…';
        api.rollback.emergency.mutate({ service: name, reason: reason.value }).then(
          (started) => {
            result.textContent = `Emergency rollback ${started.rollbackId} started${started.aborted.length > 0 ? `; aborted ${started.aborted.join(', ')}` : ''}.`;
            result.classList.add('ok');
            setTimeout(() => void reload(), 2000);
          },
          (err: unknown) => {
            result.textContent = plainMessage(err);
            result.classList.add('error');
          },
        );
      },
    },
    h('h2', {}, 'Emergency rollback'),
    h(
      'p',
      { class: 'muted' },
      'Every region goes back to its last known-good version, in parallel, with no approval; the reason goes on record.',
    ),
    reason,
    ' ',
    h('button', { type: 'submit', class: 'reject' }, 'Roll back'),
    result,
  );
}
