// Inbox: every gate waiting for a decision my roles allow, oldest first. Approve or reject with a comment in one
// click; a refusal (my own release, already decided, wrong role) is shown in the API's words.
import { api, type Me, type Outputs, plainMessage } from './api';
import { ago, at, h, show } from './dom';

type Item = Outputs['release']['inbox'][number];

export function inboxPage(content: HTMLElement, me: Me): () => void {
  let stopped = false;
  const load = async () => {
    let items: Item[];
    try {
      items = await api.release.inbox.query();
    } catch (err) {
      show(content, h('p', { class: 'error' }, plainMessage(err)));
      return;
    }
    if (stopped) return;
    document.title = items.length > 0 ? `(${items.length}) Inbox · Release engine` : 'Inbox · Release engine';
    show(
      content,
      h('h1', {}, 'Waiting for you'),
      items.length === 0
        ? h('p', { class: 'muted empty' }, `Nothing waits for a decision from ${me.roles.join(' or ')} right now.`)
        : h(
            'div',
            { class: 'cards' },
            items.map((item) => card(item, load)),
          ),
    );
  };
  void load();
  return () => {
    stopped = true;
  };
}

function card(item: Item, reload: () => Promise<void>): HTMLElement {
  const { gate } = item;
  const approvals = gate.decisions.filter((d) => d.decision === 'approve');
  const comment = h('textarea', { name: 'comment', rows: 2, placeholder: 'Comment (required to reject)' });
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
      setTimeout(() => void reload(), 1500);
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
