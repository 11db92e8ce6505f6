// The generic REST adapter on a router of its own, over real HTTP: procedures it has never seen are exposed
// without annotations, query strings are read with each input schema, server errors are logged with the error
// and answered without it.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ApiMetrics, createApiLogger, requestObserver } from '../../api/observability';
import { createRestApi, inputFromQuery } from '../../api/rest';
import { listProcedures } from '../../api/procedures';

const t = initTRPC.context<{ user?: string }>().create({ isDev: false });
const testRouter = t.router({
  things: t.router({
    find: t.procedure
      .meta({ description: 'Find things by name, size and flags.' })
      .input(
        z.strictObject({
          name: z.string(),
          size: z.number().int().optional(),
          exact: z.boolean().default(false),
          tags: z.array(z.string()).optional(),
          sizes: z.array(z.number()).optional(),
          label: z.union([z.string(), z.number()]).optional(),
          range: z.object({ from: z.number(), to: z.number() }).optional(),
        }),
      )
      .query(({ input }) => ({ got: input })),
    make: t.procedure
      .input(
        z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('a'), a: z.string() }),
          z.object({ kind: z.literal('b') }),
        ]),
      )
      .mutation(({ input, ctx }) => ({ made: input.kind, by: ctx.user ?? null })),
    count: t.procedure.query(() => 3),
    nothing: t.procedure.mutation(() => undefined),
    broken: t.procedure.query((): number => {
      throw new Error('the disk is on fire');
    }),
    teapot: t.procedure.query(() => {
      throw new TRPCError({ code: 'CONFLICT', message: 'already brewing' });
    }),
    ticks: t.procedure.subscription(async function* () {
      yield await Promise.resolve(1);
    }),
  }),
});

describe('generic REST adapter', () => {
  let server: Server;
  let url: string;
  const lines: Record<string, unknown>[] = [];
  const serverErrors: string[] = [];

  beforeAll(async () => {
    const app = express();
    const logger = createApiLogger({
      level: 'info',
      destination: { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
    });
    app.use(requestObserver({ logger, metrics: new ApiMetrics() }));
    app.use(
      '/api/v1',
      createRestApi({
        router: testRouter,
        basePath: '/api/v1',
        title: 'test',
        version: '1',
        maxBodySize: 1024,
        createContext: (req) => ({ user: req.get('x-user') }),
        onServerError: (path) => serverErrors.push(path),
      }),
    );
    server = await new Promise((done) => {
      const s = app.listen(0, '127.0.0.1', () => done(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });
  afterAll(async () => {
    await new Promise((done) => server?.close(done));
  });

  interface ErrorBody {
    error: { code: string; message: string };
  }
  interface Operation {
    summary: string;
    parameters?: { name: string; content?: unknown }[];
    requestBody?: unknown;
  }
  interface Doc {
    paths: Record<string, Record<string, Operation>>;
  }
  const json = async <T = ErrorBody>(res: Response) => ({ status: res.status, body: (await res.json()) as T });

  it('reads query strings with the input schema', async () => {
    const res = await json<unknown>(
      await fetch(
        `${url}/things/find?name=0042&size=7&exact=true&tags=a&tags=1.10&sizes=1&sizes=2.5&label=9&range=${encodeURIComponent('{"from":1,"to":2}')}`,
      ),
    );
    expect(res).toEqual({
      status: 200,
      body: {
        got: {
          name: '0042',
          size: 7,
          exact: true,
          tags: ['a', '1.10'],
          sizes: [1, 2.5],
          label: '9',
          range: { from: 1, to: 2 },
        },
      },
    });
    // A single value for a list is a list of one.
    const single = await json<{ got: { tags: string[] } }>(await fetch(`${url}/things/find?name=x&tags=only`));
    expect(single.body.got.tags).toEqual(['only']);
  });

  it('names the bad field when a query value cannot be what the schema wants, and an unknown parameter', async () => {
    const res = await json(await fetch(`${url}/things/find?name=x&size=big&colour=red`));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BAD_REQUEST');
    expect(res.body.error.message).toMatch(/size/);
    expect(res.body.error.message).toMatch(/colour/);
  });

  it('exposes mutations with union inputs, queries without input, and mutations without output', async () => {
    const made = await fetch(`${url}/things/make`, {
      method: 'POST',
      headers: { 'x-user': 'ana' },
      body: JSON.stringify({ kind: 'a', a: 'x' }),
    });
    expect(await json<unknown>(made)).toEqual({ status: 200, body: { made: 'a', by: 'ana' } });
    expect(await json<unknown>(await fetch(`${url}/things/count`))).toEqual({ status: 200, body: 3 });
    expect(await json<unknown>(await fetch(`${url}/things/nothing`, { method: 'POST' }))).toEqual({
      status: 200,
      body: null,
    });
    expect((await fetch(`${url}/things/ticks`)).status).toBe(404);
  });

  it('answers errors with the tRPC status, code and message (no stack trace), and logs a 500 with its error', async () => {
    expect(await json(await fetch(`${url}/things/teapot`))).toEqual({
      status: 409,
      body: { error: { code: 'CONFLICT', message: 'already brewing' } },
    });
    const broken = await fetch(`${url}/things/broken`, { headers: { 'x-request-id': 'req-broken-1' } });
    const text = await broken.text();
    expect(broken.status).toBe(500);
    // As on /trpc: the code and message (routers translate errors into plain words first), never a stack trace.
    expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL_SERVER_ERROR', message: 'the disk is on fire' } });
    expect(text).not.toMatch(/\.ts:\d+/);
    expect(serverErrors).toContain('things.broken');
    const line = lines.find((l) => l.reqId === 'req-broken-1');
    expect(line).toMatchObject({ level: 50, status: 500, procedure: 'things.broken', msg: 'request failed' });
    expect((line?.err as { message?: string; stack?: string }).message).toBe('the disk is on fire');
    expect((line?.err as { stack?: string }).stack).toMatch(/rest-adapter\.test\.ts/);
  });

  it('documents every query and mutation, with descriptions from meta, and leaves subscriptions out', async () => {
    const doc = (await json<Doc>(await fetch(`${url}/openapi.json`))).body;
    const find = doc.paths['/things/find']?.get;
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/things/broken',
      '/things/count',
      '/things/find',
      '/things/make',
      '/things/nothing',
      '/things/teapot',
    ]);
    expect(find?.summary).toBe('Find things by name, size and flags.');
    expect(doc.paths['/things/teapot']?.get?.summary).toBe('things.teapot');
    expect(find?.parameters?.find((p) => p.name === 'range')).toMatchObject({
      content: { 'application/json': { schema: { type: 'object' } } },
    });
    const make = doc.paths['/things/make']?.post?.requestBody as { required: boolean; content: unknown };
    expect(make.required).toBe(true);
    expect(make.content).toMatchObject({ 'application/json': { schema: { oneOf: [{}, {}] } } });
    expect(doc.paths['/things/count']?.get?.parameters).toEqual([]);
    expect(doc.paths['/things/nothing']?.post?.requestBody).toBeUndefined();
  });
});

describe('inputFromQuery', () => {
  const [find] = listProcedures(testRouter).filter((p) => p.path === 'things.find');

  it('keeps numeric-looking text as text where the schema takes a string', () => {
    expect(inputFromQuery({ name: '1.10', label: '2' }, find?.inputSchema)).toEqual({ name: '1.10', label: '2' });
  });

  it('leaves what it cannot read as text for validation to name', () => {
    expect(inputFromQuery({ name: 'x', exact: 'maybe', size: '1e400x' }, find?.inputSchema)).toEqual({
      name: 'x',
      exact: 'maybe',
      size: '1e400x',
    });
  });

  it('reads a JSON list given in one parameter, and `name[]` as `name`', () => {
    expect(inputFromQuery({ name: 'x', sizes: '[1,2]', 'tags[]': ['a', 'b'] }, find?.inputSchema)).toEqual({
      name: 'x',
      sizes: [1, 2],
      tags: ['a', 'b'],
    });
  });
});
