// The API app's edges over real HTTP, without Temporal (nothing here reaches it): methods it does not serve get 405
// with Allow, never a 5xx; a codec token in the URL never reaches a log line; wrong codec tokens hit the same
// failed-authentication limit as /trpc.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { send } from '../support/raw-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionSigner } from '../../providers/keys/decision-keys';
import { createApp } from '../../api/app';
import { hashToken, TokenAuthenticator } from '../../api/auth';
import { createApiLogger, redactPath } from '../../api/observability';
import { ServiceCatalog } from '../../domain/catalog';

const UI = 'http://127.0.0.1:8233';
const VIEWER_TOKEN = 'viewer-7c1d9e55aa';
const lines: string[] = [];

describe('the API app at its edges', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    // Nothing listens on port 1: any call that did reach Temporal would fail at once (and show up as a 503).
    const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: '1s' }) });
    const catalog = ServiceCatalog.parse({
      services: [{ name: 'hello', environments: [{ name: 'production', waves: [['eu-1']] }] }],
    });
    const authenticator = new TokenAuthenticator({
      tokens: [{ sha256: hashToken(VIEWER_TOKEN), principal: 'temporal-ui', roles: ['viewer'] }],
    });
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').trimEnd().split('\n'));
        done();
      },
    });
    const app = createApp(
      { temporal, catalog, releaseTaskQueue: 'q', authenticator, signer: DecisionSigner.generate('default') },
      {
        logger: createApiLogger({ level: 'debug', destination }),
        rateLimit: { maxFailures: 40, windowMs: 60_000 },
        codec: { allowedOrigins: [UI], urlTokens: true },
      },
    );
    server = await new Promise((done) => {
      const s = app.listen(0, '127.0.0.1', () => done(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('answers TRACE and other methods it does not serve with 405 and Allow, on every route', async () => {
    const auth = { authorization: `Bearer ${VIEWER_TOKEN}` };
    const routes: [string, string][] = [
      ['/trpc/release.get', 'GET, POST'],
      ['/trpc/calendar.list', 'GET, POST'],
      ['/trpc/release.get,release.plan', 'GET, POST'],
      ['/trpc/no.such', 'GET, POST'],
      ['/codec/decode', 'POST, OPTIONS'],
      ['/codec/encode', 'POST, OPTIONS'],
      [`/codec/t/${VIEWER_TOKEN}/decode`, 'POST, OPTIONS'],
      ['/healthz', 'GET'],
      ['/readyz', 'GET'],
      ['/metrics', 'GET'],
    ];
    const seen: string[] = [];
    for (const method of ['TRACE', 'PUT', 'DELETE', 'PATCH', 'PROPFIND', 'PURGE', 'LOCK', 'MKCOL', 'SEARCH']) {
      for (const [path, allow] of routes) {
        const res = await send(base, method, path, auth);
        seen.push(`${method} ${path}: ${res.status} ${res.allow ?? '-'}`);
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(405);
        expect(res.allow).toBe(allow);
        expect(res.text).toMatch(new RegExp(`the method ${method} is not allowed here`));
      }
      // REST answers 405 itself, naming the methods the procedure takes.
      const rest = await send(base, method, '/api/v1/release/get', auth);
      expect(rest.status, `${method} /api/v1/release/get`).toBe(405);
      expect(rest.allow).toBe('GET, POST');
    }
    // A body on TRACE, and a path that is no route at all: still no 5xx, and no HTML page.
    expect((await send(base, 'TRACE', '/trpc/release.get', auth, '{"x":1}')).status).toBe(405);
    const nowhere = await send(base, 'TRACE', '/no/such/thing');
    expect(nowhere.status).toBe(404);
    expect(nowhere.text).not.toMatch(/<html|no\/such/i);
    expect(lines.filter((line) => /"status":5\d\d/.test(line))).toEqual([]);
  });

  it('never writes a codec URL token into a log line, whatever the path looks like', async () => {
    lines.length = 0;
    const paths = [
      `/codec/t/${VIEWER_TOKEN}/decode`,
      `/CODEC/T/${VIEWER_TOKEN}/decode`,
      `/codec//t/${VIEWER_TOKEN}/decode?x=1`,
      `/codec/t/${VIEWER_TOKEN}/nothing-here`,
      `/codec/t/${VIEWER_TOKEN}%ZZ/decode`,
    ];
    for (const path of paths)
      await send(base, 'POST', path, { origin: UI, 'content-type': 'application/json' }, '{"payloads":[]}');
    await send(base, 'GET', `/codec/t/${VIEWER_TOKEN}/decode`, { authorization: `Bearer ${VIEWER_TOKEN}` });
    const decoded = lines.filter((line) => line.includes('"path":"/codec/t/<redacted>/decode"'));
    expect(decoded.length).toBeGreaterThanOrEqual(2);
    expect(decoded[0]).toMatch(/"status":200/);
    expect(decoded[0]).toMatch(/"principal":"temporal-ui"/);
    expect(lines.join('\n')).not.toContain(VIEWER_TOKEN);
    expect(redactPath('/codec/t/abc/encode')).toBe('/codec/t/<redacted>/encode');
    expect(redactPath('/trpc/release.get')).toBe('/trpc/release.get');
  });

  it('gives 429 after 40 wrong codec tokens from one address, in the header or in the URL', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) {
      const res =
        i % 2 === 0
          ? await send(base, 'POST', '/codec/decode', { authorization: `Bearer guess-${i}` }, '{"payloads":[]}')
          : await send(base, 'POST', `/codec/t/guess-${i}/decode`, { origin: UI }, '{"payloads":[]}');
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 40).every((status) => status === 401)).toBe(true);
    expect(statuses.slice(40)).toEqual([429, 429, 429, 429, 429]);
    // The limit is the API's: /trpc refuses this address too now.
    expect((await send(base, 'GET', '/trpc/calendar.list', { authorization: 'Bearer guess-x' })).status).toBe(429);
    expect(lines.join('\n')).not.toMatch(/guess-\d/);
  });
});
