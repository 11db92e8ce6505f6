// Notifications about releases (chat, paging): the event types the engine emits and the interface a channel
// implements. A notification is a courtesy: failing to send one must never fail a release.

/** What happened to a release. */
export type ReleaseEventKind =
  | 'release.started'
  | 'gate.waiting'
  | 'canary.failed'
  | 'release.rolled-back'
  | 'release.failed'
  | 'release.aborted'
  | 'release.succeeded';

/** Every kind, in the order a release can go through them. */
export const RELEASE_EVENT_KINDS: readonly ReleaseEventKind[] = [
  'release.started',
  'gate.waiting',
  'canary.failed',
  'release.rolled-back',
  'release.failed',
  'release.aborted',
  'release.succeeded',
];

/** One thing worth telling people about a release of service@version. */
export interface ReleaseEvent {
  kind: ReleaseEventKind;
  service: string;
  version: string;
  releaseId: string;
  requestedBy: string;
  /** When it happened (ISO 8601). */
  at: string;
  region?: string;
  /** The gate a release waits at (gate.waiting). */
  gate?: string;
  /** Why, in plain words (failures, rollbacks). */
  reason?: string;
  /** A link to the release, e.g. its workflow in the Temporal UI. */
  url?: string;
}

/** A channel that tells people about releases; rejects with a plain-words error when it could not. */
export interface Notifier {
  notify(event: ReleaseEvent): Promise<void>;
}
