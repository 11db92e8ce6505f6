// The bare-Temporal baseline: plain workflows with no engine logic, in a bundle of their own, that run the same
// shape as the engine's workflows (the same number of no-op activities, batched as the engine batches them, and the
// same child waves). The bench reads each shape off the engine's own histories (bench/engine/history.ts).
import {
  condition,
  defineQuery,
  defineUpdate,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BareActivities } from './activities';

const { noop } = proxyActivities<BareActivities>({ startToCloseTimeout: '30s' });

/** Activities in order: each number is a batch of that many scheduled together (run in parallel). */
export type Batches = number[];

/** The shape of an orchestration: activities between child waves, children per wave, activities of each child. */
export interface OrchestrationShape {
  /** before[k]: batches before wave k; before[waves.length]: batches after the last wave. */
  before: Batches[];
  waves: {
    children: number;
    /** The batches each child of the wave runs. */
    child: Batches;
    /** Batches the parent schedules while the wave's children run. */
    during: Batches;
  }[];
}

/** The shape of a release parked at a gate: activities before it parks, then an orchestration once approved. */
export interface ParkedShape {
  beforeGate: Batches;
  afterGate: OrchestrationShape;
}

export const approveUpdate = defineUpdate<string, [string]>('approve');
export const parkedQuery = defineQuery<boolean>('parked');

async function run(batches: Batches, tag?: string): Promise<void> {
  for (const [i, size] of batches.entries()) {
    const last = i === batches.length - 1;
    await Promise.all(Array.from({ length: size }, (_, j) => noop(last && j === 0 ? tag : undefined)));
  }
}

async function orchestrate(shape: OrchestrationShape, tag?: string): Promise<void> {
  const { workflowId } = workflowInfo();
  for (const [w, wave] of shape.waves.entries()) {
    await run(shape.before[w] ?? []);
    await Promise.all([
      ...Array.from({ length: wave.children }, (_, c) =>
        executeChild(bareChildWorkflow, { workflowId: `${workflowId}/wave-${w}/child-${c}`, args: [wave.child] }),
      ),
      run(wave.during),
    ]);
  }
  await run(shape.before[shape.waves.length] ?? [], tag);
}

/** The twin of a release (P1) or of an emergency rollback (P4): activities and child waves, nothing else. */
export async function bareOrchestrationWorkflow(shape: OrchestrationShape): Promise<void> {
  await orchestrate(shape);
}

/** A child of a bare orchestration: its activities, one batch after the other. */
export async function bareChildWorkflow(batches: Batches): Promise<void> {
  await run(batches);
}

/**
 * The twin of a release parked at an approval gate (P2, P3, P6): its activities up to the gate (the last one tagged
 * "parked"), a wait on a condition until an update approves it, then the rest of the release's shape (the last
 * activity tagged "done").
 */
export async function bareParkedWorkflow(shape: ParkedShape): Promise<void> {
  let parked = false;
  let approvedBy: string | undefined;
  setHandler(parkedQuery, () => parked);
  setHandler(
    approveUpdate,
    (by: string) => {
      approvedBy = by;
      return by;
    },
    {
      validator: (by: string) => {
        if (!parked || approvedBy !== undefined) throw new Error('not waiting for an approval');
        if (!by) throw new Error('an approval needs an approver');
      },
    },
  );
  await run(shape.beforeGate, 'parked');
  parked = true;
  await condition(() => approvedBy !== undefined);
  await orchestrate(shape.afterGate, 'done');
}
