// Reading workflow histories: how many events a workflow and its children wrote, how many activities they scheduled,
// and the shape the bare twin copies (activity batches between child waves, each child's batches). A batch is the
// activities one workflow task scheduled together: the engine runs them in parallel, and so does the twin.
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Batches, OrchestrationShape, ParkedShape } from '../bare/workflows';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

const CHILD_CLOSED = new Set([
  EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
  EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
  EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED,
  EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
  EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED,
  EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED,
]);

export async function eventsOf(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  return (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

const isActivity = (e: HistoryEvent) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED;

/** Ids of the children a workflow started. */
export function childIds(events: HistoryEvent[]): string[] {
  return events.flatMap((e) =>
    e.eventType === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED
      ? [e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId ?? '']
      : [],
  );
}

export interface TreeCounts {
  workflows: number;
  events: number;
  activities: number;
  /** Durable timers started (a zero-second bake is still a timer the server has to fire). */
  timers: number;
  /** Events and activities of the root workflow alone. */
  root: { events: number; activities: number };
}

/** Events and scheduled activities of a workflow and all its descendants. */
export async function treeCounts(client: Client, rootId: string): Promise<TreeCounts> {
  const root = await eventsOf(client, rootId);
  const counts: TreeCounts = {
    workflows: 1,
    events: root.length,
    activities: root.filter(isActivity).length,
    timers: root.filter((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED).length,
    root: { events: root.length, activities: root.filter(isActivity).length },
  };
  for (const id of childIds(root)) {
    const child = await treeCounts(client, id);
    counts.workflows += child.workflows;
    counts.events += child.events;
    counts.activities += child.activities;
    counts.timers += child.timers;
  }
  return counts;
}

/** The activities of `events` as batches: those one workflow task scheduled together form one batch. */
export function batchesOf(events: HistoryEvent[]): Batches {
  const batches: Batches = [];
  let task: string | undefined;
  for (const e of events.filter(isActivity)) {
    const scheduledBy = String(e.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId ?? '');
    if (batches.length > 0 && scheduledBy === task) batches[batches.length - 1] = (batches.at(-1) ?? 0) + 1;
    else batches.push(1);
    task = scheduledBy;
  }
  return batches;
}

/**
 * The orchestration shape of `events` (a workflow's history, or its tail): a wave starts with the first child
 * started while none is open and ends when its last child closes; activities are placed before, during or after
 * the waves where the workflow scheduled them. Each wave's children copy the batches of its first child.
 */
export async function orchestrationShape(client: Client, events: HistoryEvent[]): Promise<OrchestrationShape> {
  const shape: OrchestrationShape = { before: [[]], waves: [] };
  const firstChild: string[] = [];
  let open = 0;
  let lastTask: { bucket: Batches; task: string } | undefined;
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED) {
      if (open === 0) {
        shape.waves.push({ children: 0, child: [], during: [] });
        firstChild.push(e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? '');
      }
      const wave = shape.waves.at(-1);
      if (wave) wave.children += 1;
      open += 1;
    } else if (e.eventType !== null && e.eventType !== undefined && CHILD_CLOSED.has(e.eventType)) {
      open -= 1;
      if (open === 0) shape.before.push([]);
    } else if (isActivity(e)) {
      const bucket = open > 0 ? (shape.waves.at(-1)?.during ?? []) : (shape.before.at(-1) ?? []);
      const task = String(e.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId ?? '');
      if (lastTask?.bucket === bucket && lastTask.task === task && bucket.length > 0) {
        bucket[bucket.length - 1] = (bucket.at(-1) ?? 0) + 1;
      } else {
        bucket.push(1);
      }
      lastTask = { bucket, task };
    }
  }
  for (const [w, wave] of shape.waves.entries()) {
    const id = firstChild[w];
    if (id) wave.child = batchesOf(await eventsOf(client, id));
  }
  return shape;
}

/** A release parked at its approval gate: its activities before the approval, then its shape after it. */
export async function parkedShape(client: Client, events: HistoryEvent[]): Promise<ParkedShape> {
  const approval = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
  if (approval < 0) throw new Error('the release history has no accepted update (approval)');
  return {
    beforeGate: batchesOf(events.slice(0, approval)),
    afterGate: await orchestrationShape(client, events.slice(approval)),
  };
}

/**
 * An emergency rollback's twin: the engine reverts every region inside one workflow (no children); the twin gives
 * each region a child running its share of the activities, one after the other, all children in parallel.
 */
export function rollbackShape(events: HistoryEvent[], regions: number): OrchestrationShape {
  const total = events.filter(isActivity).length;
  const perRegion = Math.floor(total / regions);
  const rest = total - perRegion * regions;
  return {
    before: [rest > 0 ? [rest] : [], []],
    waves: [{ children: regions, child: Array.from({ length: perRegion }, () => 1), during: [] }],
  };
}

/** Activities in a shape (parent and every child). */
export function activitiesIn(shape: OrchestrationShape): number {
  const sum = (b: Batches) => b.reduce((n, x) => n + x, 0);
  return (
    shape.before.reduce((n, b) => n + sum(b), 0) +
    shape.waves.reduce((n, w) => n + w.children * sum(w.child) + sum(w.during), 0)
  );
}
