// The codec endpoint over real HTTP, as the Temporal Web UI (a browser on another origin) and the Temporal CLI
// (--codec-endpoint, --codec-auth) call it.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, TokenAuthenticator } from '../../api/auth';
import { type CodecEndpointOptions, createCodecEndpoint } from '../../api/codec-endpoint';
import { FailedAuthLimiter } from '../../api/rate-limit';
import { AesGcmPayloadCodec } from '../../providers/codec/encryption-codec';

const UI = 'http://127.0.0.1:8233';
const authenticator = new TokenAuthenticator({
  tokens: [
    { sha256: hashToken('viewer-token'), principal: 'vera', roles: ['viewer'] },
    { sha256: hashToken('pipeline-token'), principal: 'ci', roles: ['pipeline'] },
    { sha256: hashToken('admin-token'), principal: 'root', roles: ['admin'] },
  ],
});
const codec = new AesGcmPayloadCodec({ currentKeyId: 'k1', keys: new Map([['k1', randomBytes(32)]]) });

type JsonPayload = { metadata: Record<string, string>; data: string };
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const valueOf = (p: JsonPayload): unknown =>
  defaultPayloadConverter.fromPayload({
    metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data, 'base64'),
  });

async function serve(options: Omit<CodecEndpointOptions, 'authenticator'>) {
  const app = express();
  app.use('/codec', createCodecEndpoint({ authenticator, ...options }));
  const server: Server = await new Promise((done) => {
    const s = app.listen(0, '127.0.0.1', () => done(s));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/codec`, server };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('the codec endpoint', () => {
  let endpoint: Awaited<ReturnType<typeof serve>>;
  let withoutUrlTokens: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    endpoint = await serve({ codec, allowedOrigins: [UI], urlTokens: true, encodeRoles: ['pipeline'] });
    withoutUrlTokens = await serve({ codec, allowedOrigins: [UI] });
  });
  afterAll(() => {
    for (const { server } of [endpoint, withoutUrlTokens]) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('encodes for the roles configured to, decodes for any token holder; clear payloads come back as they were', async () => {
    const comment = { comment: 'ship-it-7f3a' };
    const encoded = await post(
      `${endpoint.url}/encode`,
      { payloads: [toJson(defaultPayloadConverter.toPayload(comment))] },
      {
        authorization: 'Bearer pipeline-token',
      },
    );
    expect(encoded.status).toBe(200);
    const sealed = ((await encoded.json()) as { payloads: JsonPayload[] }).payloads;
    expect(Buffer.from(sealed[0]?.metadata.encoding ?? '', 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(sealed[0]?.data ?? '', 'base64').includes('ship-it-7f3a')).toBe(false);

    const plain = toJson(defaultPayloadConverter.toPayload('started before encryption'));
    const decoded = await post(
      `${endpoint.url}/decode`,
      { payloads: [...sealed, plain] },
      {
        authorization: 'Bearer viewer-token',
      },
    );
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('cache-control')).toBe('no-store');
    const payloads = ((await decoded.json()) as { payloads: JsonPayload[] }).payloads;
    expect(payloads.map(valueOf)).toEqual([comment, 'started before encryption']);
  });

  it('answers 401 in plain words without a valid bearer token, readable by the UI origin', async () => {
    const body = { payloads: [] };
    const missing = await post(`${endpoint.url}/decode`, body, { origin: UI });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(missing.headers.get('access-control-allow-origin')).toBe(UI);
    expect(await missing.text()).toMatch(/authentication required: send Authorization: Bearer <API token>/);

    const wrong = await post(`${endpoint.url}/decode`, body, { authorization: 'Bearer not-a-token' });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toMatch(/the token is not valid/);

    // Who calls is settled before the body is read.
    expect((await post(`${endpoint.url}/decode`, '{ "payloads": [')).status).toBe(401);
  });

  it('answers the preflight of the allowed UI origin, and refuses other origins', async () => {
    const preflight = (origin: string) =>
      fetch(`${endpoint.url}/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const allowed = await preflight(UI);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(UI);
    expect(allowed.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase().split(/,\s*/).sort()).toEqual([
      'authorization',
      'content-type',
      'x-namespace',
    ]);
    expect(allowed.headers.get('vary')).toMatch(/Origin/);

    const other = await preflight('https://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const otherPost = await post(
      `${endpoint.url}/decode`,
      { payloads: [] },
      {
        origin: 'https://evil.example',
        authorization: 'Bearer viewer-token',
      },
    );
    expect(otherPost.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('takes a token in the URL only when enabled, and only from the UI origin', async () => {
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload({ reason: 'hotfix' })]);
    const body = { payloads: [toJson(sealed as Payload)] };

    const fromUi = await post(`${endpoint.url}/t/viewer-token/decode`, body, { origin: UI });
    expect(fromUi.status).toBe(200);
    expect(((await fromUi.json()) as { payloads: JsonPayload[] }).payloads.map(valueOf)).toEqual([
      { reason: 'hotfix' },
    ]);

    const noOrigin = await post(`${endpoint.url}/t/viewer-token/decode`, body);
    expect(noOrigin.status).toBe(401);
    expect(await noOrigin.text()).toMatch(/only from the Temporal UI/);
    expect((await post(`${endpoint.url}/t/viewer-token/decode`, body, { origin: 'https://evil.example' })).status).toBe(
      401,
    );
    expect((await post(`${endpoint.url}/t/not-a-token/decode`, body, { origin: UI })).status).toBe(401);
    expect((await post(`${withoutUrlTokens.url}/t/viewer-token/decode`, body, { origin: UI })).status).toBe(404);
  });

  it('refuses to encode for every role unless CODEC_ENCODE_ROLES names it (none by default)', async () => {
    const body = { payloads: [toJson(defaultPayloadConverter.toPayload({ forged: true }))] };
    const asViewer = await post(`${endpoint.url}/encode`, body, { authorization: 'Bearer viewer-token' });
    expect(asViewer.status).toBe(403);
    expect(await asViewer.text()).toBe(
      'vera cannot encode payloads: it needs one of the roles pipeline (CODEC_ENCODE_ROLES)\n',
    );
    for (const token of ['viewer-token', 'pipeline-token', 'admin-token']) {
      const byDefault = await post(`${withoutUrlTokens.url}/encode`, body, { authorization: `Bearer ${token}` });
      expect(byDefault.status).toBe(403);
      expect(await byDefault.text()).toMatch(/cannot encode payloads: no role may/);
    }
    // Decoding stays open to every role.
    expect(
      (await post(`${withoutUrlTokens.url}/decode`, { payloads: [] }, { authorization: 'Bearer admin-token' })).status,
    ).toBe(200);
  });

  it('answers 405 with Allow to other methods, and 404 without echoing the path elsewhere', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'PROPFIND']) {
      const res = await fetch(`${endpoint.url}/decode`, { method }).catch((err: unknown) => {
        // fetch refuses to send TRACE itself; the acceptance test sends it over a raw socket.
        if (method === 'TRACE') return undefined;
        throw err;
      });
      if (!res) continue;
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('POST, OPTIONS');
    }
    const other = await fetch(`${endpoint.url}/t/secret-token-123/nothing`, { method: 'POST' });
    expect(other.status).toBe(404);
    expect(await other.text()).not.toMatch(/secret-token-123/);
    const disabled = await post(`${withoutUrlTokens.url}/t/secret-token-123/decode`, { payloads: [] }, { origin: UI });
    expect(disabled.status).toBe(404);
    expect(await disabled.text()).not.toMatch(/secret-token-123/);
  });

  it('counts wrong tokens, in the header or in the URL, against the address: 429 after the limit', async () => {
    const limiter = new FailedAuthLimiter({ maxFailures: 10, windowMs: 60_000 });
    const limited = await serve({ codec, allowedOrigins: [UI], urlTokens: true, limiter });
    try {
      // The viewer's token worked from here before the guessing started, so it keeps working during the block.
      expect(
        (await post(`${limited.url}/decode`, { payloads: [] }, { authorization: 'Bearer viewer-token' })).status,
      ).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const res =
          i % 2 === 0
            ? await post(`${limited.url}/decode`, { payloads: [] }, { authorization: `Bearer guess-${i}` })
            : await post(`${limited.url}/t/guess-${i}/decode`, { payloads: [] }, { origin: UI });
        statuses.push(res.status);
        if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      expect(statuses.slice(0, 10)).toEqual(Array<number>(10).fill(401));
      expect(statuses.slice(10)).toEqual(Array<number>(30).fill(429));
      // A valid token never used from this address waits like a guess (it is not even looked up).
      const blocked = await post(`${limited.url}/decode`, { payloads: [] }, { authorization: 'Bearer pipeline-token' });
      expect(blocked.status).toBe(429);
      expect(await blocked.text()).toMatch(
        /too many failed authentication attempts from your address; try again in \d+ seconds/,
      );
      expect(
        (await post(`${limited.url}/decode`, { payloads: [] }, { authorization: 'Bearer viewer-token' })).status,
      ).toBe(200);
    } finally {
      limited.server.closeAllConnections();
      limited.server.close();
    }
  });

  it('says what is wrong with a request it cannot serve', async () => {
    const auth = { authorization: 'Bearer viewer-token' };
    const notJson = await post(`${endpoint.url}/decode`, '{ "payloads": [', auth);
    expect(notJson.status).toBe(400);
    expect(await notJson.text()).toMatch(/cannot read the request body/);

    const wrongShape = await post(`${endpoint.url}/decode`, { payloads: [{ data: 'not base64!' }] }, auth);
    expect(wrongShape.status).toBe(400);
    expect(await wrongShape.text()).toMatch(/must be base64[\s\S]*payloads\[0\]\.data/);

    const other = new AesGcmPayloadCodec({ currentKeyId: 'k0', keys: new Map([['k0', randomBytes(32)]]) });
    const [foreign] = await other.encode([defaultPayloadConverter.toPayload('x')]);
    const unknownKey = await post(`${endpoint.url}/decode`, { payloads: [toJson(foreign as Payload)] }, auth);
    expect(unknownKey.status).toBe(400);
    expect(await unknownKey.text()).toMatch(/payload 0: payload was encrypted with key id "k0"/);
  });
});
