// The comparison half of the payload-exact replay check: what a recorded history says the workflow sent (activity
// inputs, child workflow inputs, signals, update results, its result or failure) against what the workflow code sent
// when it replayed that history (captured by capture-interceptors.ts). Replay's own check sees only the shape of
// commands; this one sees their content, e.g. the batch of audit events whose ids (`<workflowId>#<n>`) the audit store
// deduplicates on.
//
// Values are compared as decoded JSON (the default payload converter), so key order does not matter; stack traces
// are not compared (any edit of the code moves them). A recorded payload encrypted by the payload codec cannot be
// decoded without its key: such an item is counted as not compared, never as matching.
import type { temporal } from '@temporalio/proto';
import type { CapturedCommand, CapturedPayload } from './capture-interceptors';

type History = temporal.api.history.v1.IHistory;
type Payload = temporal.api.common.v1.IPayload | CapturedPayload;
type Failure = temporal.api.failure.v1.IFailure;

export type SentKind = 'activity' | 'child' | 'signal' | 'update' | 'result';

/** One thing the workflow sent, reduced to what is compared. */
interface Sent {
  kind: SentKind;
  /** What was sent, without its payloads (activity type and id, child type and id, signal name and target, ...). */
  label: string;
  /** The decoded payloads and fields that are compared. */
  value: unknown;
  /** Recorded payloads of this item that are encrypted. */
  encrypted: number;
}

interface Recorded extends Sent {
  eventId: string;
  eventType: string;
}

export interface PayloadReport {
  file: string;
  /** Items whose content was compared and matched, per kind. */
  compared: Record<SentKind, number>;
  /** Items not compared because their recorded payloads are encrypted (and how many payloads that is). */
  encryptedItems: number;
  encryptedPayloads: number;
  /** The history ends while the workflow was still running (no completion, failure, cancellation, ...). */
  open: boolean;
  /** Commands the replay sent after the end of an open history (the next step, not yet recorded). */
  beyondHistory: number;
  /** Readable mismatches, each naming the file, the event id and the first differing path. */
  problems: string[];
}

const ENCRYPTED = 'binary/encrypted';

/** A payload's value; `encrypted` when the codec sealed it. */
type Decoded = { encrypted: true } | { encrypted: false; value: unknown };

function text(bytes: Uint8Array | null | undefined): string {
  return bytes ? Buffer.from(bytes).toString('utf8') : '';
}

function decode(payload: Payload | null | undefined): Decoded {
  if (!payload) return { encrypted: false, value: undefined };
  const encoding = text(payload.metadata?.encoding);
  switch (encoding) {
    case ENCRYPTED:
      return { encrypted: true };
    case 'json/plain':
      return { encrypted: false, value: JSON.parse(text(payload.data)) as unknown };
    case 'binary/null':
      return { encrypted: false, value: undefined };
    default:
      // Not made by the default payload converter's JSON path: compare the encoding and the raw bytes.
      return {
        encrypted: false,
        value: { encoding, bytes: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') },
      };
  }
}

/** Decodes payloads, counting the encrypted ones (whose value becomes a placeholder that is never compared). */
class Decoder {
  encrypted = 0;
  value(payload: Payload | null | undefined): unknown {
    const decoded = decode(payload);
    if (decoded.encrypted) {
      this.encrypted++;
      return '<encrypted>';
    }
    return decoded.value;
  }
  values(payloads: Payload[] | null | undefined): unknown[] {
    return (payloads ?? []).map((p) => this.value(p));
  }
  /** A failure as compared: what failed and why, its message decoded from the encoded attributes when there. */
  failure(failure: Failure): unknown {
    const attributes = failure.encodedAttributes ? this.value(failure.encodedAttributes) : undefined;
    const message =
      attributes && typeof attributes === 'object' && 'message' in attributes ? attributes.message : failure.message;
    const app = failure.applicationFailureInfo;
    const activity = failure.activityFailureInfo;
    const child = failure.childWorkflowExecutionFailureInfo;
    return {
      message: attributes === '<encrypted>' ? attributes : (message ?? ''),
      source: failure.source ?? '',
      ...(app
        ? {
            application: {
              type: app.type ?? '',
              nonRetryable: app.nonRetryable ?? false,
              details: this.values(app.details?.payloads),
            },
          }
        : {}),
      ...(failure.canceledFailureInfo
        ? { cancelled: { details: this.values(failure.canceledFailureInfo.details?.payloads) } }
        : {}),
      ...(failure.timeoutFailureInfo ? { timeout: { type: failure.timeoutFailureInfo.timeoutType ?? 0 } } : {}),
      ...(failure.terminatedFailureInfo ? { terminated: true } : {}),
      ...(failure.serverFailureInfo
        ? { server: { nonRetryable: failure.serverFailureInfo.nonRetryable ?? false } }
        : {}),
      ...(activity
        ? {
            activity: {
              type: activity.activityType?.name ?? '',
              id: activity.activityId ?? '',
              retryState: activity.retryState ?? 0,
            },
          }
        : {}),
      ...(child
        ? {
            child: {
              type: child.workflowType?.name ?? '',
              workflowId: child.workflowExecution?.workflowId ?? '',
              retryState: child.retryState ?? 0,
            },
          }
        : {}),
      ...(failure.cause ? { cause: this.failure(failure.cause) } : {}),
    };
  }
}

const activityLabel = (type: string, id: string) => `activity ${type} (id ${id})`;
const childLabel = (type: string, workflowId: string) => `child ${type} ${workflowId}`;
const signalLabel = (name: string, target: string) => `signal ${name} to ${target}`;
const updateLabel = (updateId: string) => `result of update ${updateId}`;

/** What the recorded history says the workflow sent, in history order. */
export function recordedSends(history: History): { sends: Recorded[]; open: boolean } {
  const sends: Recorded[] = [];
  let open = true;
  for (const event of history.events ?? []) {
    const eventId = String(event.eventId);
    const d = new Decoder();
    const add = (eventType: string, kind: SentKind, label: string, value: unknown) =>
      sends.push({ eventId, eventType, kind, label, value, encrypted: d.encrypted });
    const scheduled = event.activityTaskScheduledEventAttributes;
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
    const signal = event.signalExternalWorkflowExecutionInitiatedEventAttributes;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? '';
      add('ActivityTaskScheduled', 'activity', activityLabel(type, scheduled.activityId ?? ''), {
        args: d.values(scheduled.input?.payloads),
      });
    } else if (child) {
      const type = child.workflowType?.name ?? '';
      add('StartChildWorkflowExecutionInitiated', 'child', childLabel(type, child.workflowId ?? ''), {
        args: d.values(child.input?.payloads),
      });
    } else if (signal) {
      const label = signalLabel(signal.signalName ?? '', signal.workflowExecution?.workflowId ?? '');
      add('SignalExternalWorkflowExecutionInitiated', 'signal', label, { args: d.values(signal.input?.payloads) });
    } else if (event.workflowExecutionUpdateCompletedEventAttributes) {
      const { meta, outcome } = event.workflowExecutionUpdateCompletedEventAttributes;
      const label = updateLabel(meta?.updateId ?? '');
      if (outcome?.failure) {
        add('WorkflowExecutionUpdateCompleted', 'update', label, { failed: d.failure(outcome.failure) });
      } else {
        const [result] = outcome?.success?.payloads ?? [];
        add('WorkflowExecutionUpdateCompleted', 'update', label, { completed: d.value(result) });
      }
    } else if (event.workflowExecutionCompletedEventAttributes) {
      open = false;
      // The SDK sends one result payload; history keeps it as a list of one.
      const [result] = event.workflowExecutionCompletedEventAttributes.result?.payloads ?? [];
      add('WorkflowExecutionCompleted', 'result', 'completion', { completed: d.value(result) });
    } else if (event.workflowExecutionFailedEventAttributes) {
      open = false;
      const failure = event.workflowExecutionFailedEventAttributes.failure ?? {};
      add('WorkflowExecutionFailed', 'result', 'failure', { failed: d.failure(failure) });
    } else if (event.workflowExecutionCanceledEventAttributes) {
      open = false;
      add('WorkflowExecutionCanceled', 'result', 'cancellation', { cancelled: true });
    } else if (event.workflowExecutionContinuedAsNewEventAttributes) {
      open = false;
      const next = event.workflowExecutionContinuedAsNewEventAttributes;
      add('WorkflowExecutionContinuedAsNew', 'result', `continue-as-new ${next.workflowType?.name ?? ''}`, {
        args: d.values(next.input?.payloads),
      });
    } else if (event.workflowExecutionTerminatedEventAttributes || event.workflowExecutionTimedOutEventAttributes) {
      // Closed by the server, not by the code: there is nothing the code sent to compare.
      open = false;
    }
  }
  return { sends, open };
}

/** What the replayed code sent, reduced like the recorded events. */
export function replayedSends(commands: CapturedCommand[]): Sent[] {
  return commands.map((command): Sent => {
    const d = new Decoder();
    const sent = (kind: SentKind, label: string, value: unknown): Sent => ({ kind, label, value, encrypted: 0 });
    switch (command.kind) {
      case 'activity':
        return sent('activity', activityLabel(command.activityType, command.activityId), {
          args: d.values(command.args),
        });
      case 'child':
        return sent('child', childLabel(command.workflowType, command.workflowId), { args: d.values(command.args) });
      case 'signal':
        return sent('signal', signalLabel(command.signalName, command.target), { args: d.values(command.args) });
      case 'completed':
        return sent('result', 'completion', { completed: d.value(command.result) });
      case 'failed':
        return sent('result', 'failure', { failed: d.failure(command.failure) });
      case 'cancelled':
        return sent('result', 'cancellation', { cancelled: true });
      case 'update':
        return sent('update', updateLabel(command.updateId), { completed: d.value(command.result) });
      case 'update-failed':
        return sent('update', updateLabel(command.updateId), { failed: d.failure(command.failure) });
      case 'continued-as-new':
        return sent('result', `continue-as-new ${command.workflowType}`, { args: d.values(command.args) });
      default:
        return command satisfies never;
    }
  });
}

/** Paths (`args[0][1].action`) where two decoded values differ, depth first, keys in sorted order. */
export function differences(recorded: unknown, replayed: unknown, path = ''): string[] {
  if (Object.is(recorded, replayed)) return [];
  if (Array.isArray(recorded) && Array.isArray(replayed)) {
    const found: string[] = [];
    for (let i = 0; i < Math.max(recorded.length, replayed.length); i++) {
      found.push(...differences(recorded[i], replayed[i], `${path}[${i}]`));
    }
    return found;
  }
  if (isRecord(recorded) && isRecord(replayed)) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(replayed)])].sort();
    return keys.flatMap((key) => differences(recorded[key], replayed[key], path ? `${path}.${key}` : key));
  }
  return [path || '(the whole value)'];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a path made by `differences`. */
function at(value: unknown, path: string): unknown {
  if (path === '(the whole value)') return value;
  let current = value;
  for (const [, key, index] of path.matchAll(/\.?([^.[\]]+)|\[(\d+)\]/g)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[index ?? key ?? ''];
  }
  return current;
}

function show(value: unknown): string {
  if (value === undefined) return '(absent)';
  const json = JSON.stringify(value);
  return json.length > 160 ? `${json.slice(0, 157)}...` : json;
}

/**
 * Compares, in order, what the recorded history says the workflow sent with what its replay sent. Commands past the
 * end of a history that ends while the workflow was running are its next step, never recorded; anything else that
 * does not line up is a problem.
 */
export function checkPayloads(file: string, history: History, commands: CapturedCommand[]): PayloadReport {
  const { sends: recorded, open } = recordedSends(history);
  const replayed = replayedSends(commands);
  const report: PayloadReport = {
    file,
    compared: { activity: 0, child: 0, signal: 0, update: 0, result: 0 },
    encryptedItems: 0,
    encryptedPayloads: 0,
    open,
    beyondHistory: 0,
    problems: [],
  };
  for (let i = 0; i < Math.max(recorded.length, replayed.length); i++) {
    const want = recorded[i];
    const got = replayed[i];
    if (!want) {
      if (open) {
        report.beyondHistory = replayed.length - i;
      } else {
        report.problems.push(
          `${file}: the replay sent ${got?.label} after the recorded history had ended (${replayed.length - recorded.length} more than recorded)`,
        );
      }
      break;
    }
    const where = `${file}, event ${want.eventId} (${want.eventType}) ${want.label}`;
    if (!got) {
      report.problems.push(`${where}: the replay never sent it (${recorded.length - i} recorded sends left over)`);
      break;
    }
    if (got.kind !== want.kind || got.label !== want.label) {
      report.problems.push(`${where}: the replay sent ${got.label} instead`);
      break;
    }
    if (want.encrypted > 0) {
      report.encryptedItems++;
      report.encryptedPayloads += want.encrypted;
      continue;
    }
    const paths = differences(want.value, got.value);
    if (paths.length === 0) {
      report.compared[want.kind]++;
      continue;
    }
    const [first = '', ...more] = paths;
    const also =
      more.length > 0
        ? `\n  also differs at ${more.slice(0, 6).join(', ')}${more.length > 6 ? ` (+${more.length - 6} more)` : ''}`
        : '';
    report.problems.push(
      `${where}: the replay sent a different ${want.kind === 'activity' || want.kind === 'child' || want.kind === 'signal' ? 'input' : 'result'}\n` +
        `  first difference at ${first}: recorded ${show(at(want.value, first))}, replayed ${show(at(got.value, first))}${also}`,
    );
  }
  return report;
}
