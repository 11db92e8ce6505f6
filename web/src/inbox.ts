// Inbox: every gate waiting for a decision my roles allow, oldest first. Approve or reject with a comment in one
// click; a refusal (my own release, already decided, wrong role) is shown in the API's words. The page stays current
// over the API's release.changes stream (server-sent events): a new gate appears, a decided one goes, without a reload.
import { api, type Me, type Outputs, plainMessage } from './api';
import { ago, at, h, show } from './dom';

type Item = Outputs['release']['inbox'][number];

export function inboxPage(content: HTMLElement, me: Me): () => void {
  let stopped = false;
  /** The cards on the page, by gate; a card the person is writing in, or has decided in, outlives a reload. */
  let cards = new Map<string, HTMLElement>();
  const decided = new Set<string>();
  const live = h('span', { class: 'live muted' }, 'connecting…');
  const load = async () => {
    let items: Item[];
    try {
      items = await api.release.inbox.query();
    } catch (err) {
      if (!stopped) show(content, h('p', { class: 'error', role: 'alert' }, plainMessage(err)));
      return;
    }
    if (stopped) return;
    document.title = items.length > 0 ? `(${items.length}) Inbox · Release engine` : 'Inbox · Release engine';
    const next = new Map<string, HTMLElement>();
    for (const item of items) {
      const key = keyOf(item);
      const old = cards.get(key);
      next.set(key, old && (decided.has(key) || busy(old)) ? old : card(item, () => decided.add(key)));
    }
    for (const key of decided) {
      const old = cards.get(key);
      if (old && !next.has(key)) next.set(key, old);
    }
    cards = next;
    show(
      content,
      h('div', { class: 'release-head' }, h('h1', {}, 'Waiting for you'), live),
      cards.size === 0
        ? h('p', { class: 'muted empty' }, `Nothing waits for a decision from ${me.roles.join(' or ')} right now.`)
        : h('div', { class: 'cards' }, [...cards.values()]),
    );
  };
  void load();
  // A gate opens, a release moves on or someone else decides: the inbox reloads by itself.
  const subscription = api.release.changes.subscribe(undefined, {
    onStarted: () => (live.textContent = 'live'),
    onData: () => void load(),
    onError: () => (live.textContent = 'not live: reload the page'),
  });
  return () => {
    stopped = true;
    subscription.unsubscribe();
  };
}

function keyOf(item: Item): string {
  return `${item.service}/${item.releaseId}/${item.gate.id}`;
}

/** The person is writing a comment in this card, or has the focus in it. */
function busy(card: HTMLElement): boolean {
  const comment = card.querySelector('textarea');
  return (comment?.value.trim() ?? '') !== '' || card.contains(document.activeElement);
}

function card(item: Item, onDecided: () => void): HTMLElement {
  const { gate } = item;
  const approvals = gate.decisions.filter((d) => d.decision === 'approve');
  const comment = h('textarea', {
    name: 'comment',
    rows: 2,
    placeholder: 'Comment (required to reject)',
    'aria-label': `comment on ${gate.id}`,
  });
  const result = h('p', { class: 'result', role: 'status' });
  const decide = (decision: 'approve' | 'reject') => async () => {
    result.className = 'result';
    result.textContent = decision === 'approve' ? 'Approving…' : 'Rejecting…';
    const ref = { service: item.service, releaseId: item.releaseId, gate: gate.id };
    try {
      if (decision === 'approve') {
        await api.release.approve.mutate({
          ...ref,
          ...(comment.value.trim() ? { comment: comment.value.trim() } : {}),
        });
      } else {
        await api.release.reject.mutate({ ...ref, comment: comment.value.trim() });
      }
      result.textContent = decision === 'approve' ? 'Approved.' : 'Rejected: the release rolls back.';
      result.classList.add('ok');
      onDecided();
    } catch (err) {
      result.textContent = plainMessage(err);
      result.classList.add('error');
    }
  };
  return h(
    'article',
    { class: 'card gate', 'data-release': item.releaseId, 'data-gate': gate.id },
    h(
      'h2',
      {},
      h(
        'a',
        { href: `#/release/${encodeURIComponent(item.service)}/${encodeURIComponent(item.releaseId)}` },
        `${item.service}@${item.version}`,
      ),
      ' · ',
      gate.id,
    ),
    h('p', {}, gate.description),
    h(
      'p',
      { class: 'muted' },
      `release ${item.releaseId}, ${item.changeClass} change, requested by ${item.requestedBy}`,
      item.reason ? `: ${item.reason}` : '',
    ),
    h(
      'p',
      { class: 'muted' },
      `waiting since ${at(gate.openedAt)} (${ago(gate.openedAt)})`,
      gate.timeoutSeconds ? `, times out after ${Math.round(gate.timeoutSeconds / 60)} min` : '',
    ),
    h(
      'p',
      { class: 'decisions' },
      `${approvals.length} of ${gate.quorum} approval${gate.quorum === 1 ? '' : 's'}`,
      approvals.length > 0 ? `: ${approvals.map((d) => d.by).join(', ')}` : '',
    ),
    item.own ? h('p', { class: 'warning' }, 'You requested this release: someone else must decide.') : null,
    comment,
    h(
      'div',
      { class: 'actions' },
      h('button', { class: 'approve', onclick: () => void decide('approve')() }, 'Approve'),
      h('button', { class: 'reject', onclick: () => void decide('reject')() }, 'Reject'),
    ),
    result,
  );
}
