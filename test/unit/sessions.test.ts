// Web console sessions: what signs a person out, and what a change must carry.
import { describe, expect, it } from 'vitest';
import { cookieValue, csrfMatches, SessionStore } from '../../api/sessions';

const alice = { id: 'alice', roles: ['approver' as const] };

describe('console sessions', () => {
  it('signs out after 8 hours without a request, and after 24 hours whatever happens', () => {
    let now = 0;
    const store = new SessionStore(() => now);
    const idle = store.create(alice);
    const busy = store.create(alice);
    for (now = 3600_000; now <= 20 * 3600_000; now += 3600_000) expect(store.get(busy.id)).toBeDefined();
    expect(store.get(idle.id)).toBeUndefined();
    now = 24 * 3600_000 + 1;
    expect(store.get(busy.id)).toBeUndefined();
  });

  it('knows nothing of an unknown or deleted id; ids and CSRF tokens are long and unguessable', () => {
    const store = new SessionStore();
    const session = store.create(alice);
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.csrf).not.toBe(session.id);
    expect(store.get(undefined)).toBeUndefined();
    expect(store.get('made-up')).toBeUndefined();
    store.delete(session.id);
    expect(store.get(session.id)).toBeUndefined();
  });

  it('accepts a change only with the session own CSRF token', () => {
    const store = new SessionStore();
    const a = store.create(alice);
    const b = store.create(alice);
    expect(csrfMatches(a, a.csrf)).toBe(true);
    expect(csrfMatches(a, b.csrf)).toBe(false);
    expect(csrfMatches(a, undefined)).toBe(false);
    expect(csrfMatches(a, '')).toBe(false);
  });

  it('reads its cookie among others', () => {
    expect(cookieValue('a=1; relengine_session=abc; b=2', 'relengine_session')).toBe('abc');
    expect(cookieValue('relengine_session_x=1', 'relengine_session')).toBeUndefined();
    expect(cookieValue(undefined, 'relengine_session')).toBeUndefined();
  });
});
