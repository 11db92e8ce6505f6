// Release notifications to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, ...): one readable
// line per event, with the details underneath. Sends once and reports failure; the caller decides about retries.
import type { Notifier, ReleaseEvent, ReleaseEventKind } from './notifier';

/** Where and how to post. */
export interface WebhookNotifierOptions {
  /** The incoming-webhook URL. It is a secret (the path is the credential), so errors name only its origin. */
  url: string;
  /** Default 5 s. */
  timeoutMs?: number;
  /** Overrides the webhook's default channel, where the chat service allows it. */
  channel?: string;
}

/** A notification was not delivered; `status` and `body` are the webhook's answer when there was one. */
export class NotificationFailedError extends Error {
  override readonly name = 'NotificationFailedError';
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The JSON a Slack-compatible webhook accepts. */
export interface SlackMessage {
  channel?: string;
  /** The fallback shown in notifications and by clients without blocks. */
  text: string;
  blocks: (
    | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
    | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  )[];
}

const DEFAULT_TIMEOUT_MS = 5_000;
const BODY_EXCERPT = 200;
// Slack rejects a whole message whose section or context text is longer than 3000 characters.
const LINE_REASON_LIMIT = 500;
const CONTEXT_REASON_LIMIT = 2_000;

/** Slack's mrkdwn treats &, < and > as control characters; escaping them keeps a reason from forming a link or ping. */
function escapeMrkdwn(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Shortened to `limit` characters and kept on one line. */
function clip(value: string, limit: number): string {
  const oneLine = value.replace(/\s*\n\s*/g, ' ').trim();
  return oneLine.length > limit ? `${oneLine.slice(0, limit - 1)}…` : oneLine;
}

const EMOJI: Record<ReleaseEventKind, string> = {
  'release.started': '🚀',
  'gate.waiting': '⏳',
  'canary.failed': '🚨',
  'release.rolled-back': '↩️',
  'release.failed': '❌',
  'release.aborted': '⏹️',
  'release.succeeded': '✅',
};

/** The headline of an event in plain words, e.g. "❌ Release of hello@1.2.0 failed in eu-west: deploy timed out". */
export function describeEvent(event: ReleaseEvent): string {
  const subject = `${event.service}@${event.version}`;
  const where = event.region ? ` in ${event.region}` : '';
  const because = event.reason ? `: ${clip(event.reason, LINE_REASON_LIMIT)}` : '';
  const line = ((): string => {
    switch (event.kind) {
      case 'release.started':
        return `Release of ${subject} started${where}, requested by ${event.requestedBy}`;
      case 'gate.waiting':
        return `Release of ${subject} is waiting at ${event.gate ? `the ${event.gate} gate` : 'a gate'}${where}`;
      case 'canary.failed':
        return `Canary of ${subject} failed${where}${because}`;
      case 'release.rolled-back':
        return `Release of ${subject} was rolled back${where}${because}`;
      case 'release.failed':
        return `Release of ${subject} failed${where}${because}`;
      case 'release.aborted':
        // The reason says who and when: "by sam, before it changed anything: wrong version".
        return `Release of ${subject} was aborted${event.reason ? ` ${clip(event.reason, LINE_REASON_LIMIT)}` : ''}`;
      case 'release.succeeded':
        return `Release of ${subject} succeeded${where}`;
    }
  })();
  return `${EMOJI[event.kind]} ${line}`;
}

/** A Slack link to the release, or the URL as text when it is not an http(s) URL. */
function link(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `*Link:* ${escapeMrkdwn(url)}`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `*Link:* ${escapeMrkdwn(url)}`;
  // `|` would end the URL part of <url|label>; URL already percent-encodes < and >.
  return `<${escapeMrkdwn(parsed.href.replace(/\|/g, '%7C'))}|Open the release>`;
}

/** The webhook payload for an event. */
export function slackMessage(event: ReleaseEvent, channel?: string): SlackMessage {
  const text = escapeMrkdwn(describeEvent(event));
  const fields: [string, string | undefined][] = [
    ['Service', event.service],
    ['Version', event.version],
    ['Release', event.releaseId],
    ['Requested by', event.requestedBy],
    ['Region', event.region],
    ['Gate', event.gate],
    ['Reason', event.reason === undefined ? undefined : clip(event.reason, CONTEXT_REASON_LIMIT)],
  ];
  const elements = fields
    .filter((field): field is [string, string] => field[1] !== undefined && field[1] !== '')
    .map(([label, value]) => ({ type: 'mrkdwn' as const, text: `*${label}:* ${escapeMrkdwn(value)}` }));
  if (event.url) elements.push({ type: 'mrkdwn', text: link(event.url) });
  return {
    ...(channel === undefined ? {} : { channel }),
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements },
    ],
  };
}

export class WebhookNotifier implements Notifier {
  private readonly url: string;
  private readonly origin: string;
  private readonly timeoutMs: number;
  private readonly channel: string | undefined;

  constructor(options: WebhookNotifierOptions) {
    this.url = options.url;
    this.origin = new URL(options.url).origin;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.channel = options.channel;
  }

  /** Posts the event once; rejects with NotificationFailedError on a non-2xx answer, a network error or a timeout. */
  async notify(event: ReleaseEvent): Promise<void> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let status: number;
    let body: string;
    try {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(slackMessage(event, this.channel)),
        signal,
      });
      status = res.status;
      // Read even on success, so the connection is released (bounded by the same timeout).
      body = await res.text();
    } catch (err) {
      if (signal.aborted) {
        throw new NotificationFailedError(
          `the webhook at ${this.origin} did not answer within ${this.timeoutMs} ms (${event.kind} for ` +
            `${event.service}@${event.version} not delivered)`,
          undefined,
          undefined,
          { cause: err },
        );
      }
      const cause = (err as Error).cause instanceof Error ? ` (${((err as Error).cause as Error).message})` : '';
      throw new NotificationFailedError(
        `the webhook at ${this.origin} is unreachable: ${(err as Error).message}${cause} (${event.kind} for ` +
          `${event.service}@${event.version} not delivered)`,
        undefined,
        undefined,
        { cause: err },
      );
    }
    if (status < 200 || status > 299) {
      const excerpt = body.slice(0, BODY_EXCERPT);
      throw new NotificationFailedError(
        `the webhook at ${this.origin} refused ${event.kind} for ${event.service}@${event.version}: ` +
          `HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`,
        status,
        excerpt,
      );
    }
  }
}
