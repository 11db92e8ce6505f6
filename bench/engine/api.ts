// The engine's real API (api/app.ts: tRPC over express, token auth, the API's decision signer) in the bench process,
// on a free port, as test/support/engine.ts serves it. Its stores are in memory in this process: the artifact lookup
// knows the versions the worker's store holds, and the fleet observer cannot see the worker's in-memory fleet, so the
// drift check on release.start runs (a visibility query for a release in flight, then a ledger, fleet and
// acknowledgement read per region) and finds drift unknown, as it does for a fleet driver that cannot tell.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { createApp } from '../../api/app';
import { hashToken, type Role, TokenAuthenticator } from '../../api/auth';
import type { ArtifactLookup, FleetObserver } from '../../api/context';
import type { ArtifactRecord } from '../../domain/artifact';
import type { ServiceCatalog } from '../../domain/catalog';
import { CalendarStore } from '../../providers/calendar-store';
import { DriftAckStore } from '../../providers/config-store/drift-acks';
import { VersionLedger } from '../../providers/config-store/version-ledger';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import { MemoryConfigStore } from '../../test/support/memory-providers';
import type { BenchService } from './providers';

/** Who calls the API in the bench: the pipeline starts releases, alice approves, sam (an SRE) rolls back. */
export const PRINCIPALS = {
  ci: ['pipeline'],
  alice: ['approver'],
  sam: ['sre', 'operator'],
} satisfies Record<string, Role[]>;
export type Principal = keyof typeof PRINCIPALS;

/** What an HTTP call answered, and how long it took. */
export interface CallResult {
  status: number;
  ms: number;
  body: { result?: { data?: unknown }; error?: { message: string; data?: { code?: string } } };
}

export interface BenchApi {
  url: string;
  /** POSTs to a tRPC procedure as `principal`, over real HTTP. */
  call(procedure: string, input: unknown, principal: Principal): Promise<CallResult>;
  close(): Promise<void>;
}

class PublishedVersions implements ArtifactLookup {
  private readonly known = new Set<string>();

  constructor(services: BenchService[]) {
    for (const service of services)
      for (const version of service.versions) this.known.add(`${service.name}@${version}`);
  }

  resolve(service: string, version: string): Promise<ArtifactRecord | undefined> {
    if (!this.known.has(`${service}@${version}`)) return Promise.resolve(undefined);
    // The API only asks whether the artifact exists; the worker verifies digest and signature.
    return Promise.resolve({
      service,
      version,
      digest: `sha256:${'0'.repeat(64)}`,
      size: 0,
      createdAt: new Date(0).toISOString(),
    });
  }
}

const blindFleet: FleetObserver = {
  running: () => Promise.resolve({ known: false, reason: 'the bench fleet lives in the worker process' }),
};

export async function startApi(deps: {
  client: Client;
  catalog: ServiceCatalog;
  services: BenchService[];
  releaseTaskQueue: string;
  signer: DecisionSigner;
}): Promise<BenchApi> {
  const tokens: Record<string, string> = {};
  const authenticator = new TokenAuthenticator({
    tokens: Object.entries(PRINCIPALS).map(([principal, roles]) => {
      tokens[principal] = `bench-${principal}-${randomBytes(12).toString('hex')}`;
      return { sha256: hashToken(tokens[principal]), principal, roles: [...roles] };
    }),
  });
  const config = new MemoryConfigStore();
  const app = createApp({
    temporal: deps.client,
    catalog: deps.catalog,
    releaseTaskQueue: deps.releaseTaskQueue,
    authenticator,
    signer: deps.signer,
    artifacts: new PublishedVersions(deps.services),
    calendar: new CalendarStore(config),
    ledger: new VersionLedger(config),
    fleet: blindFleet,
    driftAcks: new DriftAckStore(config),
  });
  const server: Server = await new Promise((done) => {
    const s = app.listen(0, '127.0.0.1', () => done(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async call(procedure, input, principal) {
      const started = performance.now();
      const res = await fetch(`${url}/trpc/${procedure}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[principal]}` },
        body: JSON.stringify(input),
      });
      const body = (await res.json().catch(() => ({}))) as CallResult['body'];
      return { status: res.status, ms: performance.now() - started, body };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    },
  };
}
