// A thousand malformed or hostile inputs (wrong types, huge strings, unknown fields, injection strings, broken JSON)
// against the API over real HTTP, with an admin token so only validation stands in the way. Every one must get a 4xx
// with a message (no stack trace), the API must stay up, and no workflow may start. Cases are generated from a fixed
// seed, so a failure names a case that can be replayed.
import { send as sendRaw } from '../support/raw-http';
import { describe, expect, it } from 'vitest';
import { useEngines } from '../support/engine';

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INJECTIONS = [
  "'; DROP TABLE audit_records; --",
  '" OR ReleaseService != "',
  '../../../etc/passwd',
  '$(rm -rf /)',
  '`id`',
  '{{7*7}}',
  '<script>alert(1)</script>',
  'hello\u0000world',
  'hello\nworld',
  'HELLO',
  ' hello',
  'hello@1.0.0; reboot',
  '%00',
  '\u202e\u0644',
  '1.0.0 || true',
  'release/hello/x',
];

const WRONG_TYPES: unknown[] = [null, 0, -1, 1e308, true, [], ['a'], {}, { $gt: '' }, 'NaN'];

describe('hostile input', () => {
  const engines = useEngines();

  it('a thousand malformed or hostile inputs all get a 4xx with a message; nothing starts; the API stays up', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const { service } = engine;
    const random = prng(20261130);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

    // Valid inputs; each case breaks one thing in one of them. None can start anything: constrained fields refuse
    // the injection strings, and the only free-form id (a freeze window's) just finds no such window (404).
    const bases: { path: string; method: 'GET' | 'POST'; input: Record<string, unknown>; text: string[] }[] = [
      {
        path: 'release.start',
        method: 'POST',
        input: { service, version: '1.1.0', releaseId: 'r1' },
        text: ['reason'],
      },
      { path: 'release.plan', method: 'GET', input: { service, version: '1.1.0' }, text: [] },
      { path: 'release.get', method: 'GET', input: { service, releaseId: 'r1' }, text: [] },
      { path: 'release.list', method: 'GET', input: { service, limit: 5 }, text: [] },
      {
        path: 'release.approve',
        method: 'POST',
        input: { service, releaseId: 'r1', gate: 'production-approval' },
        text: ['comment'],
      },
      { path: 'release.abort', method: 'POST', input: { service, releaseId: 'r1', reason: 'why' }, text: ['reason'] },
      { path: 'rollback.emergency', method: 'POST', input: { service, reason: 'alarm' }, text: ['reason'] },
      { path: 'audit.list', method: 'GET', input: { service, limit: 5 }, text: [] },
      { path: 'metrics.dora', method: 'GET', input: { service, days: 7 }, text: [] },
      { path: 'calendar.delete', method: 'POST', input: { id: 'w1' }, text: [] },
    ];

    type Case = { label: string; path: string; method: 'GET' | 'POST'; body: string };
    const cases: Case[] = [];
    while (cases.length < 1000) {
      const base = pick(bases);
      const input: Record<string, unknown> = { ...base.input };
      const keys = Object.keys(input);
      const key = pick(keys);
      const kind = pick(['wrong-type', 'huge', 'unknown-field', 'injection', 'missing', 'not-an-object', 'bad-json']);
      let label = `${base.path} ${kind}`;
      let body: string;
      switch (kind) {
        case 'wrong-type': {
          const value = pick(WRONG_TYPES);
          // 'NaN' is a string, which is the right type for string fields; only use it where a number is expected.
          input[key] = typeof input[key] === 'string' && typeof value === 'string' ? 42 : value;
          label += ` ${key}=${JSON.stringify(input[key])}`;
          body = JSON.stringify(input);
          break;
        }
        case 'huge': {
          const field = base.text.length > 0 && random() < 0.5 ? pick(base.text) : key;
          // GET inputs travel in the URL: keep them under the HTTP header limit so the API itself answers.
          const size = base.method === 'GET' ? 3000 + Math.floor(random() * 4000) : pick([2001, 70_000, 300_000]);
          input[field] = 'x'.repeat(size);
          label += ` ${field} of ${size} chars`;
          body = JSON.stringify(input);
          break;
        }
        case 'unknown-field':
          input[pick(['__proto__', 'constructor', 'admin', 'principal', 'requestedBy', 'roles'])] = {
            roles: ['admin'],
          };
          body = JSON.stringify(input).replace('"__proto__"', '"__proto__"');
          // JSON.stringify drops a __proto__ own key set this way; write it into the text explicitly.
          if (!body.includes('__proto__') && !/"(constructor|admin|principal|requestedBy|roles)"/.test(body)) {
            body = body.replace(/^\{/, '{"__proto__":{"roles":["admin"]},');
          }
          break;
        case 'injection': {
          const constrained = keys.filter((k) => !base.text.includes(k) && typeof input[k] === 'string');
          const field = constrained.length > 0 ? pick(constrained) : key;
          input[field] = pick(INJECTIONS);
          label += ` ${field}=${JSON.stringify(input[field])}`;
          body = JSON.stringify(input);
          break;
        }
        case 'missing':
          delete input[key];
          if (Object.keys(input).length === Object.keys(base.input).length) throw new Error('nothing removed');
          // Optional fields cannot be "missing" in a harmful way; drop everything instead.
          body = JSON.stringify(key === 'limit' || key === 'days' || key === 'releaseId' ? {} : input);
          if (base.path === 'release.list' || base.path === 'audit.list')
            body = JSON.stringify({ ...input, limit: -1 });
          break;
        case 'not-an-object':
          body = JSON.stringify(pick([[base.input], 'hello', 12, true]));
          break;
        default:
          body = JSON.stringify(input).slice(0, -1 - Math.floor(random() * 5)) + pick(['', ',', '}}', '"']);
      }
      cases.push({ label, path: base.path, method: base.method, body });
    }

    const before = await engine.client.workflow.count(`TaskQueue = "${engine.releaseTaskQueue}"`);
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    for (const c of cases) {
      const url =
        c.method === 'GET'
          ? `${engine.apiUrl}/trpc/${c.path}?input=${encodeURIComponent(c.body)}`
          : `${engine.apiUrl}/trpc/${c.path}`;
      const res = await fetch(url, {
        method: c.method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${engine.tokens.admin}` },
        ...(c.method === 'POST' ? { body: c.body } : {}),
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      let message = '';
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '';
      } catch {
        message = '';
      }
      if (res.status < 400 || res.status >= 500 || message.trim() === '' || /\n\s+at |\.ts:\d+/.test(message)) {
        bad.push(`${c.label}: ${res.status} ${text.slice(0, 200)}`);
      }
    }
    expect(bad).toEqual([]);
    console.log(`hostile input: ${cases.length} cases, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);

    // Nothing started: no release, coordinator, rollback or audit read on the engine's task queue.
    const after = await engine.client.workflow.count(`TaskQueue = "${engine.releaseTaskQueue}"`);
    expect(after.count).toBe(before.count);
    // The API is up and still answers a valid call.
    expect((await fetch(`${engine.apiUrl}/healthz`)).status).toBe(200);
    const plan = await engine.trpc('ci').release.plan.query({ service, version: '1.1.0' });
    expect(plan.plan.service).toBe(service);
  }, 180_000);

  it('methods the API does not serve get 405 with Allow on every route, or 404 off them; never a 5xx', async () => {
    const engine = await engines.start({ waves: [['a']], worker: 'none' });
    const send = (method: string, path: string, body?: string) =>
      sendRaw(
        engine.apiUrl,
        method,
        path,
        { authorization: `Bearer ${engine.tokens.admin}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body,
      );
    const paths = [
      '/trpc/release.get',
      '/trpc/release.start',
      '/trpc/release.get,release.plan',
      '/trpc/nope',
      '/api/v1/release/get',
      '/api/v1/release/start',
      '/codec/decode',
      '/codec/encode',
      '/healthz',
      '/readyz',
      '/metrics',
    ];
    const methods = [
      'TRACE',
      'PUT',
      'DELETE',
      'PATCH',
      'OPTIONS',
      'PROPFIND',
      'PURGE',
      'LOCK',
      'MKCOL',
      'SEARCH',
      'REPORT',
    ];
    const bad: string[] = [];
    let calls = 0;
    for (const method of methods) {
      for (const path of paths) {
        for (const body of [undefined, '{"service":"x"}']) {
          const res = await send(method, path, body);
          calls += 1;
          // OPTIONS is the CORS preflight on /codec (204); everywhere else it is one more method not served.
          const ok =
            method === 'OPTIONS' && path.startsWith('/codec') ? res.status === 204 : res.status === 405 && !!res.allow;
          if (!ok || res.status >= 500 || /<html|\n\s+at /i.test(res.text))
            bad.push(`${method} ${path}${body ? ' with a body' : ''}: ${res.status} ${res.text.slice(0, 120)}`);
        }
      }
      const nowhere = await send(method, '/no/such/path');
      calls += 1;
      if (nowhere.status !== 404 || /<html/i.test(nowhere.text)) bad.push(`${method} /no/such/path: ${nowhere.status}`);
    }
    expect(bad).toEqual([]);
    expect(calls).toBeGreaterThan(200);
    expect((await fetch(`${engine.apiUrl}/healthz`)).status).toBe(200);
  });

  it('a zod refusal names the field and says what is wrong with it', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const res = await engine.rawCall(
      'release.start',
      { service: engine.service, version: 'latest', changeClass: 'yolo', extra: 1 },
      engine.tokens.ci,
    );
    expect(res.status).toBe(400);
    const issues = (res.body.error?.data as { issues?: { field: string; message: string }[] }).issues ?? [];
    expect(issues.map((i) => i.field).sort()).toEqual(['(input)', 'changeClass', 'version']);
    expect(res.body.error?.message).toMatch(/must be a semantic version such as 1.2.3\n {2}→ at version/);
    expect(res.body.error?.message).toMatch(/extra/);
  });
});
