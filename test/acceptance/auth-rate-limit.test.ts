// Rate limiting of failed authentication over real HTTP: a client address that sends too many unknown tokens gets
// 429 with Retry-After (its tokens are not even looked up), other addresses are not affected, a token that
// already worked from the address keeps working, and the block lifts when the window has passed.
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { useEngines } from '../support/engine';

/** A GET from a chosen local address (the whole 127.0.0.0/8 is loopback), as a second client machine would. */
function getFrom(localAddress: string, url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('rate limiting of failed authentication', () => {
  const engines = useEngines();

  it('answers 429 with Retry-After after too many bad tokens from one address, and lifts after the window', async () => {
    const windowMs = 3000;
    const engine = await engines.start({
      worker: 'none',
      waves: [['a']],
      api: { rateLimit: { maxFailures: 3, windowMs } },
    });
    const rest = (path: string, token: string | undefined) =>
      fetch(`${engine.apiUrl}/api/v1/${path}`, { headers: { authorization: `Bearer ${token ?? ''}` } });

    // The pipeline's token works from this address before anything goes wrong.
    expect((await rest('calendar/list', engine.tokens.ci)).status).toBe(200);

    const started = Date.now();
    expect((await rest('calendar/list', 'guess-1')).status).toBe(401);
    expect((await engine.rawCall('calendar.list', undefined, 'guess-2', 'GET')).status).toBe(401);
    expect((await rest('calendar/list', 'guess-3')).status).toBe(401);

    const blocked = await rest('calendar/list', 'guess-4');
    expect(blocked.status).toBe(429);
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(windowMs / 1000);
    expect(await blocked.json()).toEqual({
      error: {
        code: 'TOO_MANY_REQUESTS',
        message: `too many failed authentication attempts from your address; try again in ${retryAfter} seconds`,
      },
    });
    const viaTrpc = await engine.rawCall('calendar.list', undefined, 'guess-5', 'GET');
    expect(viaTrpc.status).toBe(429);
    expect(viaTrpc.body.error?.message).toMatch(/too many failed authentication attempts/);

    // The token that already worked from here still does; a valid token never seen from here waits like a guess
    // (it is not looked up while the address is blocked, so the block is no oracle).
    expect((await rest('calendar/list', engine.tokens.ci)).status).toBe(200);
    expect((await rest('calendar/list', engine.tokens.viewer)).status).toBe(429);
    // Other addresses are not affected, and neither are the unauthenticated health endpoints.
    expect(await getFrom('127.0.0.2', `${engine.apiUrl}/api/v1/calendar/list`, 'guess-6')).toBe(401);
    expect((await fetch(`${engine.apiUrl}/healthz`)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(windowMs); // all of the above happened within the window

    await sleep(Math.max(0, started + windowMs + 500 - Date.now()));
    expect((await rest('calendar/list', engine.tokens.viewer)).status).toBe(200);
    expect((await rest('calendar/list', 'guess-7')).status).toBe(401);
  });
});
