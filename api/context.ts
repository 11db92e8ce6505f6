// Request context of the tRPC API. createContextInner is what tests call directly; createContext adapts an
// express request (bearer token -> principal).
import type { Client } from '@temporalio/client';
import type { CreateExpressContextOptions } from '@trpc/server/adapters/express';
import type { ServiceCatalog } from '../domain/catalog';
import type { ArtifactManifest, ArtifactRecord } from '../domain/artifact';
import type { FreezeWindow, ReleaseCalendar } from '../domain/calendar';
import type { DriftAcknowledgement, ObservedRegion } from '../domain/drift';
import type { LedgerRecord } from '../domain/ledger';
import type { DecisionSigner } from '../providers/keys/decision-keys';
import { type Principal, requestAuth, type TokenAuthenticator } from './auth';
import type { ReleaseChanges } from './changes';
import type { SessionStore } from './sessions';

/** The API's view of the artifact store: enough to refuse a release of an artifact that does not exist. */
export interface ArtifactLookup {
  resolve(service: string, version: string): Promise<ArtifactRecord | undefined>;
  /** The artifact's manifest (what it requires of other services), when the store can read it. */
  manifest?(service: string, version: string): Promise<ArtifactManifest | undefined>;
}

/** The API's view of the release calendar. */
export interface CalendarAccess {
  load(): Promise<ReleaseCalendar>;
  put(window: FreezeWindow): Promise<void>;
  delete(id: string): Promise<boolean>;
}

/** The API's view of the version ledger: what each region runs. */
export interface LedgerAccess {
  current(service: string, region: string): Promise<LedgerRecord | undefined>;
}

/** The API's view of the fleet: what a region runs now (for the drift check); it never changes the fleet. */
export interface FleetObserver {
  running(ref: { service: string; region: string }): Promise<ObservedRegion>;
}

/** The API's view of SRE acknowledgements of drift. */
export interface DriftAckAccess {
  latest(service: string, region: string): Promise<DriftAcknowledgement | undefined>;
  record(service: string, region: string, ack: DriftAcknowledgement): Promise<void>;
}

export interface ApiDeps {
  temporal: Client;
  catalog: ServiceCatalog;
  releaseTaskQueue: string;
  authenticator: TokenAuthenticator;
  /** Signs every message the API sends for a person; the workflows refuse what it did not sign. */
  signer: DecisionSigner;
  artifacts?: ArtifactLookup;
  calendar?: CalendarAccess;
  ledger?: LedgerAccess;
  /** Without it, service.get reports drift as unknown and release.start does not check it. */
  fleet?: FleetObserver;
  driftAcks?: DriftAckAccess;
  /** Web console sessions (cookie + CSRF token); createApp makes one when none is given. */
  sessions?: SessionStore;
  /** The console's "something changed" stream; createApp makes one when none is given. */
  changes?: ReleaseChanges;
}

export interface ContextOptions {
  deps: ApiDeps;
  principal?: Principal;
  /** Set when a token was presented but matched nobody. */
  invalidToken?: boolean;
}

export function createContextInner(options: ContextOptions) {
  return {
    temporal: options.deps.temporal,
    catalog: options.deps.catalog,
    releaseTaskQueue: options.deps.releaseTaskQueue,
    signer: options.deps.signer,
    artifacts: options.deps.artifacts,
    calendar: options.deps.calendar,
    ledger: options.deps.ledger,
    fleet: options.deps.fleet,
    driftAcks: options.deps.driftAcks,
    changes: options.deps.changes,
    principal: options.principal,
    invalidToken: options.invalidToken ?? false,
  };
}

export type Context = Awaited<ReturnType<typeof createContextInner>>;

export function createContextFactory(deps: ApiDeps) {
  return function createContext({ req }: CreateExpressContextOptions): Context {
    const auth = requestAuth(req, deps.authenticator, deps.sessions);
    // (A session's change without its CSRF token never gets here: the auth gate refuses it.)
    if (auth.session)
      return createContextInner({ deps, ...(auth.csrfOk ? { principal: auth.session.principal } : {}) });
    if (auth.token === undefined) return createContextInner({ deps });
    return createContextInner({ deps, ...(auth.principal ? { principal: auth.principal } : { invalidToken: true }) });
  };
}
