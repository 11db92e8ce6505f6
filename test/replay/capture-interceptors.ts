// Workflow interceptor module of the payload-exact replay check. The replay test bundles it with the workflows
// (`workflowInterceptorModules`), so it runs inside the workflow sandbox: at the end of every activation it copies the
// commands that carry data (activities scheduled, children started, signals sent, update results, the workflow's end)
// and hands them to the test through a sink that is called during replay. The commands are taken as they leave the
// workflow, after the payload and failure converters, so the test compares exactly what the code would send.
import { proxySinks, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import type { coresdk, temporal } from '@temporalio/proto';

type Payload = temporal.api.common.v1.IPayload;
type Failure = temporal.api.failure.v1.IFailure;

/** A payload copied out of the sandbox (bytes copied: nothing outside may change them afterwards). */
export interface CapturedPayload {
  metadata: Record<string, Uint8Array>;
  data: Uint8Array;
}

/** What one command sent; `args` are payloads in argument order. */
export type CapturedCommand =
  | { kind: 'activity'; activityId: string; activityType: string; args: CapturedPayload[] }
  | { kind: 'child'; workflowId: string; workflowType: string; args: CapturedPayload[] }
  | { kind: 'signal'; signalName: string; target: string; args: CapturedPayload[] }
  | { kind: 'completed'; result: CapturedPayload | undefined }
  | { kind: 'failed'; failure: Failure }
  | { kind: 'cancelled' }
  | { kind: 'continued-as-new'; workflowType: string; args: CapturedPayload[] }
  | { kind: 'update'; updateId: string; result: CapturedPayload | undefined }
  | { kind: 'update-failed'; updateId: string; failure: Failure };

export interface ReplayCaptureSinks extends Sinks {
  replayCapture: {
    /** The data-carrying commands of one activation, in the order the workflow issued them. */
    commands(commands: CapturedCommand[]): void;
  };
}

const { replayCapture } = proxySinks<ReplayCaptureSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  internals: [
    {
      concludeActivation(input, next) {
        const output = next(input);
        const captured = output.commands.flatMap(capture);
        if (captured.length > 0) replayCapture.commands(captured);
        return output;
      },
    },
  ],
});

function capture(command: coresdk.workflow_commands.IWorkflowCommand): CapturedCommand[] {
  const { scheduleActivity, startChildWorkflowExecution: child, signalExternalWorkflowExecution: signal } = command;
  if (scheduleActivity) {
    return [
      {
        kind: 'activity',
        activityId: scheduleActivity.activityId ?? '',
        activityType: scheduleActivity.activityType ?? '',
        args: payloads(scheduleActivity.arguments),
      },
    ];
  }
  if (child) {
    return [
      {
        kind: 'child',
        workflowId: child.workflowId ?? '',
        workflowType: child.workflowType ?? '',
        args: payloads(child.input),
      },
    ];
  }
  if (signal) {
    return [
      {
        kind: 'signal',
        signalName: signal.signalName ?? '',
        target: signal.workflowExecution?.workflowId ?? signal.childWorkflowId ?? '',
        args: payloads(signal.args),
      },
    ];
  }
  if (command.completeWorkflowExecution) {
    const { result } = command.completeWorkflowExecution;
    return [{ kind: 'completed', result: result ? payload(result) : undefined }];
  }
  if (command.failWorkflowExecution) {
    return [{ kind: 'failed', failure: copy(command.failWorkflowExecution.failure ?? {}) }];
  }
  if (command.cancelWorkflowExecution) return [{ kind: 'cancelled' }];
  if (command.continueAsNewWorkflowExecution) {
    const next = command.continueAsNewWorkflowExecution;
    return [{ kind: 'continued-as-new', workflowType: next.workflowType ?? '', args: payloads(next.arguments) }];
  }
  const update = command.updateResponse;
  // An update's acceptance carries no data; its result (or its handler's failure) does.
  if (update?.completed) {
    return [{ kind: 'update', updateId: update.protocolInstanceId ?? '', result: payload(update.completed) }];
  }
  if (update?.rejected) {
    return [{ kind: 'update-failed', updateId: update.protocolInstanceId ?? '', failure: copy(update.rejected) }];
  }
  return [];
}

function payload(source: Payload): CapturedPayload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(source.metadata ?? {})) metadata[key] = value.slice();
  return { metadata, data: (source.data ?? new Uint8Array()).slice() };
}

function payloads(source: Payload[] | null | undefined): CapturedPayload[] {
  return (source ?? []).map(payload);
}

/**
 * A deep copy of plain data (protobuf messages included); byte arrays are copied too. A failure that came from
 * history was decoded outside the sandbox, so its arrays belong to another realm: `instanceof` would not see them.
 */
function copy<T>(value: T): T {
  if (ArrayBuffer.isView(value)) return (value as unknown as Uint8Array).slice() as T;
  if (Array.isArray(value)) return value.map(copy) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, copy(inner)])) as T;
}
