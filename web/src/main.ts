// The web console: sign-in, then the inbox (gates waiting for me), releases and a release's page. Routes live in the
// URL's hash (#/inbox, #/releases, #/release/<service>/<releaseId>), so every page has a link to share and notifications
// can point at a release.
import { currentSession, type Me, plainMessage, signIn, signOut } from './api';
import { h, show } from './dom';
import { inboxPage } from './inbox';
import { incidentPage, incidentsPage } from './incidents';
import { releasePage } from './release';
import { releasesPage } from './releases';
import { servicePage, servicesPage } from './services';
import { calendarPage } from './calendar';
import { auditPage, metricsPage } from './insights';

const root = document.getElementById('app') as HTMLElement;
let stopPage: (() => void) | undefined;

async function boot(): Promise<void> {
  let me: Me | undefined;
  try {
    me = await currentSession();
  } catch (err) {
    show(root, h('p', { class: 'error' }, `The API did not answer: ${plainMessage(err)}`));
    return;
  }
  if (me) shell(me);
  else signInPage();
}

function signInPage(): void {
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, id: 'token' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'card signin',
      onsubmit: (event: Event) => {
        event.preventDefault();
        error.textContent = '';
        signIn(token.value).then(
          (me) => {
            token.value = '';
            shell(me);
          },
          (err: unknown) => (error.textContent = plainMessage(err)),
        );
      },
    },
    h('h1', {}, 'Release engine'),
    h('label', { for: 'token' }, 'API token'),
    token,
    h('p', { class: 'muted' }, 'The token relctl uses. The console keeps a session cookie, never the token.'),
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  show(root, form);
  token.focus();
}

function shell(me: Me): void {
  const content = h('section', { id: 'content' });
  const nav = h(
    'nav',
    {},
    h('a', { href: '#/inbox' }, 'Inbox'),
    h('a', { href: '#/releases' }, 'Releases'),
    h('a', { href: '#/services' }, 'Services'),
    h('a', { href: '#/calendar' }, 'Calendar'),
    h('a', { href: '#/metrics' }, 'Metrics'),
    h('a', { href: '#/incidents' }, 'Incidents'),
    ...(me.roles.some((r) => r !== 'pipeline' && r !== 'alerter') ? [h('a', { href: '#/audit' }, 'Audit')] : []),
    h('span', { class: 'who' }, `${me.principal} (${me.roles.join(', ')})`),
    h(
      'button',
      {
        class: 'link',
        onclick: () => {
          void signOut().then(() => {
            stopPage?.();
            location.hash = '';
            signInPage();
          });
        },
      },
      'Sign out',
    ),
  );
  show(root, h('header', {}, nav), content);
  const route = () => {
    stopPage?.();
    stopPage = undefined;
    const [, page = 'inbox', ...rest] = (location.hash.replace(/^#/, '').split('?')[0] ?? '').split('/');
    for (const link of nav.querySelectorAll('a')) {
      const section =
        page === 'release' ? 'releases' : page === 'service' ? 'services' : page === 'incident' ? 'incidents' : page;
      link.classList.toggle('current', link.getAttribute('href') === `#/${section}`);
    }
    if (page === 'release' && rest.length >= 2) {
      stopPage = releasePage(content, me, decodeURIComponent(rest[0] ?? ''), decodeURIComponent(rest[1] ?? ''));
    } else if (page === 'releases') stopPage = releasesPage(content);
    else if (page === 'services') stopPage = servicesPage(content);
    else if (page === 'service' && rest[0]) stopPage = servicePage(content, me, decodeURIComponent(rest[0]));
    else if (page === 'calendar') stopPage = calendarPage(content, me);
    else if (page === 'metrics') stopPage = metricsPage(content);
    else if (page === 'audit') stopPage = auditPage(content);
    else if (page === 'incidents') stopPage = incidentsPage(content);
    else if (page === 'incident' && rest.length >= 2)
      stopPage = incidentPage(content, me, decodeURIComponent(rest[0] ?? ''), decodeURIComponent(rest[1] ?? ''));
    else stopPage = inboxPage(content, me);
  };
  window.onhashchange = route;
  route();
}

void boot();
