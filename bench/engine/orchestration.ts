// P1 (orchestration) and P4 (emergency rollback), one repetition at a time, each engine run followed by its bare twin:
//   P1  engine: release.start over the API of `orchestra` (10 regions, waves 1/3/6, 3 canary steps, zero bakes),
//       timed from the start call until the release workflow closes; events and activities of the release and its
//       region children are read from their histories.
//       bare:   bareOrchestrationWorkflow with the shape read off the engine's first release (same activities in the
//       same batches, same child waves), timed from client.workflow.start until it closes.
//   P4  engine: rollback.emergency over the API of `orchestra` (the 10 regions P1 just released), timed from the call
//       until the rollback workflow closes; then the same for `solo` (one region, released untimed just before).
//       bare:   10 parallel children against 1, each running one region's share of the engine rollback's activities.
import { releaseWorkflowId, rollbackWorkflowId } from '../../domain/names';
import type { OrchestrationShape } from '../bare/workflows';
import { ORCHESTRA, ORCHESTRA_WAVES, SOLO } from './catalog';
import { type Bench, expectOk, releaseResult, startRelease, timed, waitIdle } from './context';
import { activitiesIn, eventsOf, orchestrationShape, rollbackShape, treeCounts, type TreeCounts } from './history';

const REGION_COUNT = ORCHESTRA_WAVES.flat().length;

export interface OrchestrationRun {
  rep: number;
  kind: 'engine' | 'bare';
  seconds: number;
  outcome: string;
  counts: TreeCounts;
}

export interface RollbackRun {
  rep: number;
  kind: 'engine' | 'bare';
  regions: number;
  seconds: number;
  outcome: string;
  counts: TreeCounts;
}

export interface OrchestrationResults {
  p1: OrchestrationRun[];
  p4: RollbackRun[];
  shapes: { p1?: OrchestrationShape; p4ten?: OrchestrationShape; p4one?: OrchestrationShape };
}

async function bareRun(bench: Bench, id: string, shape: OrchestrationShape) {
  const run = await timed(async () => {
    const handle = await bench.client.workflow.start('bareOrchestrationWorkflow', {
      workflowId: id,
      taskQueue: bench.bareTaskQueue,
      args: [shape],
    });
    await handle.result();
  });
  return { seconds: run.seconds, outcome: 'completed', counts: await treeCounts(bench.client, id) };
}

async function engineRollback(bench: Bench, service: string, rollbackId: string) {
  await waitIdle(bench, service);
  const run = await timed(async () => {
    const res = expectOk(
      `rollback.emergency of ${service}`,
      await bench.api.call('rollback.emergency', { service, rollbackId, reason: 'bench: emergency rollback' }, 'sam'),
    );
    const answer = res.body.result?.data as { alreadyStarted?: boolean } | undefined;
    if (answer?.alreadyStarted) throw new Error(`rollback.emergency of ${service}: ${rollbackId} was already started`);
    return (await bench.client.workflow.getHandle(rollbackWorkflowId(service, rollbackId)).result()) as {
      stage?: string;
    };
  });
  return { seconds: run.seconds, outcome: run.value.stage ?? 'unknown' };
}

/** Runs P1 and P4 `reps` times into `results` (which keeps what was measured if a later run fails). */
export async function runOrchestration(bench: Bench, reps: number, results: OrchestrationResults): Promise<void> {
  for (let rep = 1; rep <= reps; rep++) {
    const version = `1.${rep}.0`;

    // ---- P1, engine ----
    const releaseId = `p1-${rep}`;
    await waitIdle(bench, ORCHESTRA);
    const release = await timed(async () => {
      expectOk('release.start of orchestra', await startRelease(bench, ORCHESTRA, version, releaseId, 'standard'));
      return releaseResult(bench, ORCHESTRA, releaseId);
    });
    const counts = await treeCounts(bench.client, releaseWorkflowId(ORCHESTRA, releaseId));
    results.p1.push({ rep, kind: 'engine', seconds: release.seconds, outcome: release.value, counts });
    bench.log(
      `P1 ${rep}/${reps} engine: ${ORCHESTRA}@${version} ${release.value} in ${release.seconds.toFixed(2)}s; ` +
        `${counts.events} events, ${counts.activities} activities, ${counts.timers} timers in ${counts.workflows} workflows`,
    );
    if (release.value !== 'succeeded') throw new Error(`the P1 release ${releaseId} ended ${release.value}`);
    results.shapes.p1 ??= await orchestrationShape(
      bench.client,
      await eventsOf(bench.client, releaseWorkflowId(ORCHESTRA, releaseId)),
    );

    // ---- P1, bare ----
    const bare = await bareRun(bench, `bare-p1-${rep}`, results.shapes.p1);
    results.p1.push({ rep, kind: 'bare', ...bare });
    bench.log(
      `P1 ${rep}/${reps} bare:   ${bare.seconds.toFixed(2)}s; ${bare.counts.events} events, ` +
        `${bare.counts.activities} activities in ${bare.counts.workflows} workflows`,
    );

    // ---- P4, engine and bare: 10 regions ----
    const ten = await engineRollback(bench, ORCHESTRA, `rb-${rep}`);
    const tenCounts = await treeCounts(bench.client, rollbackWorkflowId(ORCHESTRA, `rb-${rep}`));
    results.p4.push({ rep, kind: 'engine', regions: REGION_COUNT, ...ten, counts: tenCounts });
    results.shapes.p4ten ??= rollbackShape(
      await eventsOf(bench.client, rollbackWorkflowId(ORCHESTRA, `rb-${rep}`)),
      REGION_COUNT,
    );
    const bareTen = await bareRun(bench, `bare-p4-ten-${rep}`, results.shapes.p4ten);
    results.p4.push({ rep, kind: 'bare', regions: REGION_COUNT, ...bareTen });

    // ---- P4, engine and bare: 1 region (released untimed first) ----
    await waitIdle(bench, SOLO);
    expectOk('release.start of solo', await startRelease(bench, SOLO, version, `p4-${rep}`, 'standard'));
    const solo = await releaseResult(bench, SOLO, `p4-${rep}`);
    if (solo !== 'succeeded') throw new Error(`the P4 release p4-${rep} of solo ended ${solo}`);
    const one = await engineRollback(bench, SOLO, `rb-${rep}`);
    const oneCounts = await treeCounts(bench.client, rollbackWorkflowId(SOLO, `rb-${rep}`));
    results.p4.push({ rep, kind: 'engine', regions: 1, ...one, counts: oneCounts });
    results.shapes.p4one ??= rollbackShape(await eventsOf(bench.client, rollbackWorkflowId(SOLO, `rb-${rep}`)), 1);
    const bareOne = await bareRun(bench, `bare-p4-one-${rep}`, results.shapes.p4one);
    results.p4.push({ rep, kind: 'bare', regions: 1, ...bareOne });
    bench.log(
      `P4 ${rep}/${reps}: engine ${ten.outcome} 10 regions in ${ten.seconds.toFixed(2)}s, 1 region in ` +
        `${one.seconds.toFixed(2)}s; bare 10 children in ${bareTen.seconds.toFixed(2)}s, 1 in ${bareOne.seconds.toFixed(2)}s ` +
        `(${activitiesIn(results.shapes.p4ten)} and ${activitiesIn(results.shapes.p4one)} activities)`,
    );
  }
}
