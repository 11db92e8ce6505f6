// When Temporal cannot be reached, the API says so in plain words with a 503 (nothing was changed) and /readyz
// reports it, instead of a stack trace or a hang.
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { hashToken, TokenAuthenticator } from '../../api/auth';
import { ServiceCatalog } from '../../domain/catalog';
import { DecisionSigner } from '../../providers/keys/decision-keys';

describe('Temporal unreachable', () => {
  it('calls get 503 with a plain message, /readyz says unreachable, /healthz stays ok', async () => {
    // Nothing listens on port 1 of loopback: connections are refused at once.
    const connection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: '2s' });
    const catalog = ServiceCatalog.parse({
      services: [{ name: 'hello', environments: [{ name: 'production', waves: [['eu-1']] }] }],
    });
    const authenticator = new TokenAuthenticator({
      tokens: [{ sha256: hashToken('t-ci'), principal: 'ci', roles: ['pipeline'] }],
    });
    const app = createApp({
      temporal: new Client({ connection }),
      catalog,
      releaseTaskQueue: 'q',
      authenticator,
      signer: DecisionSigner.generate('default'),
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((done) => server.once('listening', done));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // A write waits out its 15 s deadline (the SDK keeps trying to connect until then) before it says so.
      const started = await fetch(`${base}/trpc/release.start`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer t-ci' },
        body: JSON.stringify({ service: 'hello', version: '1.1.0' }),
      });
      expect(started.status).toBe(503);
      expect(((await started.json()) as { error: { message: string } }).error.message).toBe(
        'the Temporal server cannot be reached right now; nothing was changed, try again shortly',
      );
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { temporal: string }).temporal).toMatch(/^unreachable: /);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      server.close();
      server.closeAllConnections();
    }
  }, 60_000);
});
