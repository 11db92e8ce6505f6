// A release's page, live: waves and regions as a picture (traffic share, verdicts with their numbers, a small chart
// of canary against baseline per step), gates and who decided, migrations, compensations and the timeline; pause,
// resume and abort for the roles allowed, each confirmed. Updates arrive over the API's release.watch stream (server-
// sent events); nothing here polls.
import { api, type Me, type Outputs, plainMessage } from './api';
import { ago, at, h, show } from './dom';

type Status = Outputs['release']['get'];
type Region = Status['regions'][number];
type Verdict = Region['verdicts'][number];

export function releasePage(content: HTMLElement, me: Me, service: string, releaseId: string): () => void {
  document.title = `${service} / ${releaseId} · Release engine`;
  show(content, h('p', { class: 'muted' }, 'Loading…'));
  const live = h('span', { class: 'live muted' }, 'connecting…');
  // The status at once from a plain read, while the stream connects (its first event is the same status).
  let streamed = false;
  void api.release.get.query({ service, releaseId }).then(
    (status) => {
      if (!streamed) render(content, me, status, live);
    },
    () => undefined, // the stream says what went wrong
  );
  const subscription = api.release.watch.subscribe(
    { service, releaseId },
    {
      onData: (status) => {
        streamed = true;
        live.textContent = status.outcome ? 'finished' : 'live';
        render(content, me, status, live);
      },
      onError: (err) => {
        live.textContent = 'disconnected';
        show(content, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
      },
    },
  );
  return () => subscription.unsubscribe();
}

function render(content: HTMLElement, me: Me, status: Status, live: HTMLElement): void {
  const waves = new Map<string, Region[]>();
  for (const region of status.regions) {
    const key = `${region.environment} · wave ${region.wave + 1}`;
    waves.set(key, [...(waves.get(key) ?? []), region]);
  }
  show(
    content,
    h(
      'div',
      { class: 'release-head' },
      h('h1', {}, `${status.service}@${status.version}`),
      h(
        'span',
        { class: `stage ${status.stage}`, 'data-testid': 'stage' },
        status.paused && status.stage !== 'paused' ? `${status.stage} (paused)` : status.stage,
      ),
      live,
    ),
    h(
      'p',
      { class: 'muted' },
      `release ${status.releaseId}, ${status.changeClass} change, requested by ${status.requestedBy} ${ago(status.startedAt)}`,
      status.reason ? `: ${status.reason}` : '',
    ),
    status.outcome?.reason ? h('p', { class: `outcome ${status.outcome.result}` }, status.outcome.reason) : null,
    controls(me, status),
    h('h2', {}, 'Waves'),
    h(
      'div',
      { class: 'waves' },
      [...waves].map(([name, regions]) => h('div', { class: 'wave' }, h('h3', {}, name), regions.map(regionCard))),
    ),
    status.gates.length > 0 ? h('h2', {}, 'Gates') : null,
    status.gates.map((gate) =>
      h(
        'div',
        { class: `gate-line ${gate.status}` },
        h('strong', {}, gate.id),
        ` ${gate.status}: ${gate.description}`,
        h(
          'ul',
          {},
          gate.decisions.map((d) =>
            h(
              'li',
              {},
              `${d.by} ${d.decision === 'approve' ? 'approved' : 'rejected'} ${ago(d.at)}`,
              d.comment ? `: “${d.comment}”` : '',
            ),
          ),
        ),
      ),
    ),
    status.checks && status.checks.length > 0 ? h('h2', {}, 'External checks') : null,
    status.checks?.map((c) =>
      h(
        'div',
        { class: `gate-line ${c.status}` },
        h('strong', {}, c.name),
        ` before ${c.environment}: ${c.status}`,
        c.reportedBy ? ` by ${c.reportedBy} ${ago(c.reportedAt ?? c.requestedAt)}` : ` (waits until ${c.deadline})`,
        c.summary ? `: ${c.summary}` : '',
        c.detailsUrl && /^https?:\/\//i.test(c.detailsUrl)
          ? h('a', { href: c.detailsUrl, rel: 'noopener noreferrer' }, ' details')
          : null,
      ),
    ),
    status.migrations && status.migrations.length > 0 ? h('h2', {}, 'Migrations') : null,
    status.migrations?.map((m) => h('p', {}, `${m.environment} ${m.phase}: ${m.ids.join(', ')} (${m.state})`)),
    status.compensations.length > 0 ? h('h2', {}, 'Compensations') : null,
    status.compensations.map((c) =>
      h('p', { class: `compensation ${c.status}` }, `${c.name}: ${c.status}`, c.error ? ` (${c.error})` : ''),
    ),
    h('h2', {}, 'Timeline'),
    h(
      'ol',
      { class: 'timeline' },
      [...status.timeline]
        .reverse()
        .map((e) =>
          h(
            'li',
            {},
            h('time', { datetime: e.at, title: at(e.at) }, new Date(e.at).toLocaleTimeString()),
            ' ',
            e.message,
          ),
        ),
    ),
  );
}

function regionCard(region: Region): HTMLElement {
  return h(
    'div',
    { class: `region ${region.status}`, 'data-region': region.region },
    h('div', { class: 'region-name' }, region.region),
    h('div', { class: 'muted' }, `${region.previousVersion ?? '—'} → ${region.version} · ${region.status}`),
    h(
      'div',
      { class: 'traffic', title: `${region.trafficPercent}% of traffic on ${region.version}` },
      h('div', { class: 'share', style: `width: ${Math.max(0, Math.min(100, region.trafficPercent))}%` }),
    ),
    h('div', { class: 'muted' }, `${region.trafficPercent}% on the new version`),
    region.stalledSince ? h('div', { class: 'warning' }, `no progress since ${at(region.stalledSince)}`) : null,
    region.verdicts.length > 0 ? chart(region.verdicts) : null,
    region.verdicts.length > 0
      ? h(
          'div',
          { class: 'legend muted' },
          h('span', { class: 'key canary' }),
          'canary ',
          h('span', { class: 'key baseline' }),
          'baseline: error rate per step',
        )
      : null,
    region.verdicts.map((v) =>
      h(
        'div',
        { class: `verdict ${v.verdict}` },
        `step ${v.step + 1} at ${v.percent}%: ${v.verdict}`,
        h(
          'ul',
          {},
          v.reasons.map((r) => h('li', {}, r)),
        ),
      ),
    ),
  );
}

/** Error rate per canary step, canary against baseline: two bars per step, drawn as SVG. */
function chart(verdicts: Verdict[]): SVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const width = 24 * verdicts.length + 8;
  const height = 40;
  const max = Math.max(0.01, ...verdicts.flatMap((v) => [v.canary.errorRate, v.baseline.errorRate]));
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute(
    'aria-label',
    verdicts
      .map(
        (v) =>
          `step ${v.step + 1}: canary ${(v.canary.errorRate * 100).toFixed(1)}% errors, baseline ${(v.baseline.errorRate * 100).toFixed(1)}%`,
      )
      .join('; '),
  );
  verdicts.forEach((v, i) => {
    for (const [j, rate, cls] of [
      [0, v.canary.errorRate, 'canary'],
      [1, v.baseline.errorRate, 'baseline'],
    ] as const) {
      const bar = document.createElementNS(ns, 'rect');
      const barHeight = Math.max(1, (rate / max) * (height - 4));
      bar.setAttribute('x', String(4 + i * 24 + j * 10));
      bar.setAttribute('y', String(height - barHeight));
      bar.setAttribute('width', '9');
      bar.setAttribute('height', String(barHeight));
      bar.setAttribute('class', cls);
      svg.append(bar);
    }
  });
  return svg;
}

function controls(me: Me, status: Status): HTMLElement | null {
  if (status.outcome) return null;
  const can = (...roles: string[]) => me.roles.some((r) => r === 'admin' || roles.includes(r));
  const result = h('span', { class: 'result', role: 'status' });
  const ref = { service: status.service, releaseId: status.releaseId };
  const act = (label: string, run: () => Promise<unknown>) => async () => {
    result.className = 'result';
    result.textContent = `${label}…`;
    try {
      await run();
      result.textContent = `${label}: done`;
      result.classList.add('ok');
    } catch (err) {
      result.textContent = plainMessage(err);
      result.classList.add('error');
    }
  };
  const buttons: HTMLElement[] = [];
  if (can('operator', 'sre') && !status.paused) {
    buttons.push(
      h(
        'button',
        {
          onclick: () => {
            const reason = prompt(
              `Pause ${status.service}@${status.version}? Bakes in progress keep counting. Reason (optional):`,
            );
            if (reason !== null)
              void act('Pause', () =>
                api.release.pause.mutate({ ...ref, ...(reason.trim() ? { reason: reason.trim() } : {}) }),
              )();
          },
        },
        'Pause',
      ),
    );
  }
  if (can('operator', 'sre') && status.paused) {
    buttons.push(
      h(
        'button',
        {
          onclick: () => {
            if (confirm(`Resume ${status.service}@${status.version}?`))
              void act('Resume', () => api.release.resume.mutate(ref))();
          },
        },
        'Resume',
      ),
    );
  }
  if (can('sre')) {
    buttons.push(
      h(
        'button',
        {
          class: 'reject',
          onclick: () => {
            const reason = prompt(
              `Abort ${status.service}@${status.version}? What was done is rolled back. Reason (required):`,
            );
            if (reason !== null) void act('Abort', () => api.release.abort.mutate({ ...ref, reason }))();
          },
        },
        'Abort',
      ),
    );
  }
  return buttons.length > 0 ? h('div', { class: 'actions' }, ...buttons, result) : null;
}
