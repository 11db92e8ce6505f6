// SsmConfigStore through the real @aws-sdk/client-ssm, against two Parameter Stores: the project's SSM double and
// moto_server (a maintained AWS emulator; skipped when it is not on PATH). What the engine relies on from Parameter
// Store: versions, history, paging, secrets, errors mapped to our semantics. Faults only the double can be told to
// produce (throttling, refusals, unsigned requests) are tested against the double alone.
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSsmClient } from '../../providers/aws/ssm-client';
import { ParameterExistsError } from '../../providers/config-store/config-store';
import { SsmConfigStore } from '../../providers/config-store/ssm-config-store';
import { ledgerParameterName, VersionLedger } from '../../providers/config-store/version-ledger';
import { FakeSsm } from '../support/fake-ssm';
import { describeAgainstMoto, MotoServer } from '../support/moto';

/** One request the client sent (after serialisation of its input, before any retry). */
interface SentCall {
  operation: string;
  input: Record<string, unknown>;
}

/** An SSM client for `endpoint` that records every call it sends, whatever server answers. */
function recordingClient(endpoint: string) {
  const client = createSsmClient({
    region: 'eu-west-1',
    endpoint,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  });
  const sent: SentCall[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push({
        operation: (context.commandName ?? '').replace(/Command$/, ''),
        input: args.input as Record<string, unknown>,
      });
      return next(args);
    },
    { step: 'initialize', name: 'recordSentCalls' },
  );
  return { client, callsTo: (operation: string) => sent.filter((c) => c.operation === operation) };
}

interface Backend {
  endpoint: string;
  close: () => Promise<void>;
}

/** The Parameter Store behaviour the engine relies on, against the server `start` gives. */
function parameterStoreBehaviour(start: () => Promise<Backend>, options: { ciphertextIsOpaque: boolean }) {
  let backend: Backend;
  let client: SSMClient;
  let callsTo: (operation: string) => SentCall[];
  let store: SsmConfigStore;
  let n = 0;
  /** A fresh path per test, so tests never see each other's parameters. */
  const root = () => `/t${++n}`;

  beforeAll(async () => {
    backend = await start();
    ({ client, callsTo } = recordingClient(backend.endpoint));
    store = new SsmConfigStore(client);
  });

  afterAll(async () => {
    await backend?.close();
  });

  it('versions every write from 1 and keeps the history oldest first', async () => {
    const name = `${root()}/app/db-url`;
    expect(await store.put(name, 'postgres://one')).toEqual({ version: 1 });
    expect(await store.put(name, 'postgres://two')).toEqual({ version: 2 });
    const current = await store.get(name);
    expect(current).toMatchObject({ name, value: 'postgres://two', version: 2 });
    expect(Date.parse(current?.lastModified ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect((await store.history(name)).map((p) => [p.version, p.value])).toEqual([
      [1, 'postgres://one'],
      [2, 'postgres://two'],
    ]);
  });

  it('reads a long history across pages', async () => {
    const name = `${root()}/busy`;
    for (let i = 1; i <= 60; i++) await store.put(name, `v${i}`);
    const before = callsTo('GetParameterHistory').length;
    const history = await store.history(name);
    expect(history.map((p) => p.version)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(history.at(-1)?.value).toBe('v60');
    // 50 versions a page.
    expect(callsTo('GetParameterHistory').slice(before)).toHaveLength(2);
  });

  it('maps not-found and already-exists to the store semantics', async () => {
    const r = root();
    expect(await store.get(`${r}/missing`)).toBeUndefined();
    expect(await store.history(`${r}/missing`)).toEqual([]);
    expect(await store.delete(`${r}/missing`)).toBe(false);

    await store.put(`${r}/flag`, 'on');
    await expect(store.put(`${r}/flag`, 'off', { overwrite: false })).rejects.toBeInstanceOf(ParameterExistsError);
    expect((await store.get(`${r}/flag`))?.value).toBe('on');

    expect(await store.delete(`${r}/flag`)).toBe(true);
    expect(await store.get(`${r}/flag`)).toBeUndefined();
  });

  it('lists everything under a path across several pages, and not siblings sharing a prefix', async () => {
    const r = root();
    const names = Array.from({ length: 23 }, (_, i) => `${r}/app/${i % 2 ? 'deep/' : ''}key-${i}`);
    for (const name of names) await store.put(name, 'v');
    await store.put(`${r}/application/other`, 'not under /app');

    const before = callsTo('GetParametersByPath').length;
    const listed = await store.getByPath(`${r}/app`);
    expect(listed.map((p) => p.name).sort()).toEqual([...names].sort());
    // SSM returns at most 10 parameters a page: 23 parameters take 3 requests.
    const pages = callsTo('GetParametersByPath').slice(before);
    expect(pages).toHaveLength(3);
    expect(pages.every((c) => c.input.Recursive === true && c.input.WithDecryption === true)).toBe(true);
    expect(pages[1]?.input.NextToken).toEqual(expect.any(String));

    expect((await store.getByPath(`${r}/app/`)).length).toBe(23);
  });

  it('follows a full last page to the empty page after it', async () => {
    const r = root();
    const names = Array.from({ length: 10 }, (_, i) => `${r}/ten/key-${i}`);
    for (const name of names) await store.put(name, 'v');
    const before = callsTo('GetParametersByPath').length;
    expect((await store.getByPath(`${r}/ten`)).map((p) => p.name).sort()).toEqual([...names].sort());
    // Results are best effort: a full page carries a token, and the page it leads to is empty.
    const pages = callsTo('GetParametersByPath').slice(before);
    expect(pages).toHaveLength(2);
    expect(pages[1]?.input.NextToken).toEqual(expect.any(String));
  });

  it('refuses a name under the reserved /aws prefix in plain words', async () => {
    await expect(store.put('/aws/release-engine/x', 'v')).rejects.toThrow(
      'SSM Parameter Store could not write /aws/release-engine/x: AccessDeniedException',
    );
  });

  it('stores secrets as SecureString and reads them back decrypted', async () => {
    const r = root();
    await store.put(`${r}/app/secret/db-password`, 'hunter2');
    await store.put(`${r}/app/db-user`, 'app');

    const puts = callsTo('PutParameter').filter((c) => String(c.input.Name).startsWith(`${r}/`));
    expect(puts.map((c) => [c.input.Name, c.input.Type])).toEqual([
      [`${r}/app/secret/db-password`, 'SecureString'],
      [`${r}/app/db-user`, 'String'],
    ]);
    expect((await store.get(`${r}/app/secret/db-password`))?.value).toBe('hunter2');
    // Read without decryption (as a careless client would), SSM hands out ciphertext only.
    const raw = await client.send(new GetParameterCommand({ Name: `${r}/app/secret/db-password` }));
    expect(raw.Parameter?.Type).toBe('SecureString');
    if (options.ciphertextIsOpaque) expect(raw.Parameter?.Value).not.toContain('hunter2');
    // moto "encrypts" by prefixing the key id (kms:alias/aws/ssm:hunter2); still, never the bare value.
    else expect(raw.Parameter?.Value).not.toBe('hunter2');
    expect((await store.getByPath(`${r}/app`)).find((p) => p.name.endsWith('db-password'))?.value).toBe('hunter2');
    expect((await store.history(`${r}/app/secret/db-password`))[0]?.value).toBe('hunter2');
  });

  it('honours a custom secrecy rule', async () => {
    const r = root();
    const custom = new SsmConfigStore(client, { secure: (name) => name.endsWith('-token') });
    await custom.put(`${r}/api-token`, 't0k3n');
    expect(callsTo('PutParameter').at(-1)?.input.Type).toBe('SecureString');
    const raw = await client.send(new GetParameterCommand({ Name: `${r}/api-token` }));
    expect(raw.Parameter?.Type).toBe('SecureString');
    expect((await custom.get(`${r}/api-token`))?.value).toBe('t0k3n');
  });

  it('carries the version ledger unchanged', async () => {
    const ledger = new VersionLedger(store);
    const entry = { version: '1.1.0', releaseId: 'r1', recordedAt: '2026-01-01T00:00:00.000Z' };
    expect(await ledger.record('ssm-svc', 'eu-1', entry)).toEqual({ written: true });
    expect(await ledger.record('ssm-svc', 'eu-1', entry)).toEqual({ written: false });
    await ledger.record('ssm-svc', 'eu-1', { ...entry, version: '1.2.0', releaseId: 'r2' });
    expect((await ledger.current('ssm-svc', 'eu-1'))?.version).toBe('1.2.0');
    expect((await ledger.history('ssm-svc', 'eu-1')).map((e) => e.version)).toEqual(['1.1.0', '1.2.0']);
    expect((await store.get(ledgerParameterName('ssm-svc', 'eu-1')))?.version).toBe(2);
  });
}

describe('SSM config store against the SSM double', () => {
  parameterStoreBehaviour(
    async () => {
      const fake = await FakeSsm.start();
      return { endpoint: fake.endpoint, close: () => fake.close() };
    },
    { ciphertextIsOpaque: true },
  );
});

describeAgainstMoto('SSM config store', () => {
  parameterStoreBehaviour(() => MotoServer.start(), { ciphertextIsOpaque: false });
});

describe('SSM config store: faults only the double produces', () => {
  let fake: FakeSsm;
  let store: SsmConfigStore;
  let n = 0;
  const root = () => `/f${++n}`;

  beforeAll(async () => {
    fake = await FakeSsm.start();
    store = new SsmConfigStore(recordingClient(fake.endpoint).client);
  });

  afterAll(async () => {
    await fake.close();
  });

  it('succeeds through throttling: the SDK retries and the call log shows it', async () => {
    const name = `${root()}/throttled`;
    await store.put(name, 'x');
    const before = fake.callsTo('GetParameter').length;
    fake.throttle('GetParameter', 2);
    expect((await store.get(name))?.value).toBe('x');
    const calls = fake.callsTo('GetParameter').slice(before);
    expect(calls.map((c) => c.error ?? 'ok')).toEqual(['ThrottlingException', 'ThrottlingException', 'ok']);
  });

  it('reports a refusal in plain words with the parameter name', async () => {
    fake.failCalls('GetParameter', 'AccessDeniedException', 'User is not authorized to perform: ssm:GetParameter');
    await expect(store.get('/denied/thing')).rejects.toThrow(
      'SSM Parameter Store could not read /denied/thing: AccessDeniedException: User is not authorized',
    );
  });

  it('is a double that only accepts signed requests', async () => {
    const res = await fetch(fake.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.GetParameter' },
      body: JSON.stringify({ Name: '/x' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ __type: 'UnrecognizedClientException' });
  });
});
