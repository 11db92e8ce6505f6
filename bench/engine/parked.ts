// Releases parked at their approval gate: P2 (the latency of one approval) and P3 (many parked at once).
//   P2  engine: a normal change of a one-region service, started over the API and left at `production-approval`;
//       timed: release.approve over HTTP as an approver (HTTP, auth, the API's checks, signing, the signed Update,
//       its validator, the handler). Then the release runs to its end before the next one.
//       bare:   bareParkedWorkflow (the release's activities up to the gate, then a condition), timed:
//       handle.executeUpdate of its approve update; then it runs the release's remaining shape.
//   P3  engine: N such releases started by 16 concurrent callers; time until every one has opened its gate (its
//       gate.opened audit record appended), the engine worker process's RSS before and after, then time for 16
//       concurrent approvers to approve them all until every release has closed.
//       bare:   the same with N bare parked workflows, client.workflow.start and executeUpdate.
import { releaseWorkflowId } from '../../domain/names';
import { approveUpdate, type ParkedShape, parkedQuery } from '../bare/workflows';
import {
  approveRelease,
  type Bench,
  concurrently,
  countRunning,
  expectOk,
  persistently,
  releaseResult,
  startRelease,
  terminateAll,
  timed,
  waitForGate,
  waitUntil,
} from './context';
import { eventsOf, parkedShape, treeCounts } from './history';

export interface ApprovalRun {
  i: number;
  kind: 'engine' | 'bare';
  /** Latency of the approval call. */
  ms: number;
  status: number;
}

export interface ApprovalResults {
  runs: ApprovalRun[];
  shape?: ParkedShape;
  /** Events of the first engine release (and its child) and of its bare twin. */
  events?: { engine: number; bare: number };
}

/** P2: one approval at a time, engine and bare in turn, into `results`. */
export async function runApprovals(bench: Bench, count: number, results: ApprovalResults): Promise<void> {
  for (let i = 1; i <= count; i++) {
    // ---- engine ----
    const service = bench.parkPool.take();
    if (!service) throw new Error('the park pool ran out of services');
    const releaseId = `p2-${i}`;
    expectOk('release.start (P2)', await startRelease(bench, service, '1.1.0', releaseId, 'normal'));
    await waitForGate(bench, service, releaseId);
    const approval = await approveRelease(bench, service, releaseId);
    expectOk('release.approve (P2)', approval);
    results.runs.push({ i, kind: 'engine', ms: approval.ms, status: approval.status });
    const outcome = await releaseResult(bench, service, releaseId);
    if (outcome !== 'succeeded') throw new Error(`the P2 release ${releaseId} of ${service} ended ${outcome}`);
    if (!results.shape) {
      results.shape = await parkedShape(
        bench.client,
        await eventsOf(bench.client, releaseWorkflowId(service, releaseId)),
      );
      results.events = {
        engine: (await treeCounts(bench.client, releaseWorkflowId(service, releaseId))).events,
        bare: 0,
      };
    }

    // ---- bare ----
    const id = `bare-p2-${i}`;
    const handle = await bench.client.workflow.start('bareParkedWorkflow', {
      workflowId: id,
      taskQueue: bench.bareTaskQueue,
      args: [results.shape],
    });
    await waitUntil(`${id} to park`, () => handle.query(parkedQuery), 60_000, 50);
    const started = performance.now();
    await handle.executeUpdate(approveUpdate, { args: ['alice'] });
    const ms = performance.now() - started;
    results.runs.push({ i, kind: 'bare', ms, status: 200 });
    await handle.result();
    if (results.events && results.events.bare === 0) results.events.bare = (await treeCounts(bench.client, id)).events;
    bench.log(`P2 ${i}/${count}: release.approve ${approval.ms.toFixed(1)}ms, bare executeUpdate ${ms.toFixed(1)}ms`);
  }
}

export interface ParkRun {
  kind: 'engine' | 'bare';
  parked: number;
  rssBeforeMiB: number;
  rssParkedMiB: number;
  rssAfterMiB: number;
  perParkedMiB: number;
  parkSeconds: number;
  approveAllSeconds: number;
  /** Start and approval calls that failed (HTTP status or error name -> count). */
  failures: Record<string, number>;
}

const CALLERS = 16;

function countFailure(failures: Record<string, number>, key: string) {
  failures[key] = (failures[key] ?? 0) + 1;
}

/** P3, engine: `n` releases parked by 16 concurrent callers, then approved by 16 concurrent approvers. */
async function parkEngine(bench: Bench, n: number, tag: string): Promise<ParkRun> {
  const failures: Record<string, number> = {};
  const note = (what: string, answers: { status: number }[]) => {
    for (const a of answers) if (a.status !== 200) countFailure(failures, `${what} HTTP ${a.status}`);
  };
  const rssBeforeMiB = await bench.engine.rssMiB();
  const opened = async () => (await bench.engine.counters())['gate.opened'] ?? 0;
  const openedBefore = await opened();
  const services = Array.from({ length: n }, () => {
    const service = bench.parkPool.take();
    if (!service) throw new Error('the park pool ran out of services');
    return service;
  });
  const releaseId = `p3-${tag}`;
  const park = await timed(async () => {
    const started = await concurrently(n, CALLERS, async (i) => {
      const { ok, answers } = await persistently(() =>
        startRelease(bench, services[i] as string, '1.1.0', releaseId, 'normal'),
      );
      note('start', answers);
      return ok;
    });
    const expected = openedBefore + started.filter(Boolean).length;
    await waitUntil(`${n} releases to park`, async () => (await opened()) >= expected, 600_000, 200);
  });
  const rssParkedMiB = await bench.engine.rssMiB();
  const approve = await timed(async () => {
    const approved = await concurrently(n, CALLERS, async (i) => {
      const { ok, answers } = await persistently(() => approveRelease(bench, services[i] as string, releaseId));
      note('approve', answers);
      return ok;
    });
    const left = approved.filter((ok) => !ok).length;
    await waitUntil(
      'every approved release to close',
      async () => (await countRunning(bench, 'releaseWorkflow')) <= left,
      900_000,
      250,
    );
  });
  const rssAfterMiB = await bench.engine.rssMiB();
  // What could not be approved is not left running into the next scenario.
  await terminateAll(
    bench,
    services.map((service) => releaseWorkflowId(service, releaseId)),
    'bench: P3 is over',
  );
  return {
    kind: 'engine',
    parked: n,
    rssBeforeMiB,
    rssParkedMiB,
    rssAfterMiB,
    perParkedMiB: (rssParkedMiB - rssBeforeMiB) / n,
    parkSeconds: park.seconds,
    approveAllSeconds: approve.seconds,
    failures,
  };
}

/** P3, bare: `n` bare parked workflows started by 16 concurrent callers, then approved by 16 concurrent updaters. */
async function parkBare(bench: Bench, n: number, tag: string, shape: ParkedShape): Promise<ParkRun> {
  const failures: Record<string, number> = {};
  const rssBeforeMiB = await bench.bare.rssMiB();
  const parked = async () => (await bench.bare.counters()).parked ?? 0;
  const parkedBefore = await parked();
  const ids = Array.from({ length: n }, (_, i) => `bare-p3-${tag}-${i + 1}`);
  const park = await timed(async () => {
    await concurrently(n, CALLERS, async (i) => {
      await bench.client.workflow
        .start('bareParkedWorkflow', { workflowId: ids[i] as string, taskQueue: bench.bareTaskQueue, args: [shape] })
        .catch((err: Error) => countFailure(failures, `start ${err.name}`));
    });
    const expected = parkedBefore + n - Object.values(failures).reduce((a, b) => a + b, 0);
    await waitUntil(`${n} bare workflows to park`, async () => (await parked()) >= expected, 600_000, 200);
  });
  const rssParkedMiB = await bench.bare.rssMiB();
  const approve = await timed(async () => {
    const approved = await concurrently(n, CALLERS, (i) =>
      bench.client.workflow
        .getHandle(ids[i] as string)
        .executeUpdate(approveUpdate, { args: ['alice'] })
        .then(
          () => true,
          (err: Error) => {
            countFailure(failures, `update ${err.name}`);
            return false;
          },
        ),
    );
    const left = approved.filter((ok) => !ok).length;
    await waitUntil(
      'every approved bare workflow to close',
      async () => (await countRunning(bench, 'bareParkedWorkflow')) <= left,
      900_000,
      250,
    );
  });
  const rssAfterMiB = await bench.bare.rssMiB();
  await terminateAll(bench, ids, 'bench: P3 is over');
  return {
    kind: 'bare',
    parked: n,
    rssBeforeMiB,
    rssParkedMiB,
    rssAfterMiB,
    perParkedMiB: (rssParkedMiB - rssBeforeMiB) / n,
    parkSeconds: park.seconds,
    approveAllSeconds: approve.seconds,
    failures,
  };
}

/** P3 for each count: engine, then bare, into `runs`. */
export async function runParked(bench: Bench, counts: number[], shape: ParkedShape, runs: ParkRun[]): Promise<void> {
  for (const n of counts) {
    for (const kind of ['engine', 'bare'] as const) {
      const run =
        kind === 'engine' ? await parkEngine(bench, n, String(n)) : await parkBare(bench, n, String(n), shape);
      runs.push(run);
      const failed = Object.entries(run.failures).map(([k, v]) => `${v} x ${k}`);
      bench.log(
        `P3 ${kind.padEnd(6)} ${n} parked in ${run.parkSeconds.toFixed(1)}s, RSS ${run.rssBeforeMiB.toFixed(0)} -> ` +
          `${run.rssParkedMiB.toFixed(0)} MiB (${run.perParkedMiB.toFixed(3)} MiB each), all approved and closed in ` +
          `${run.approveAllSeconds.toFixed(1)}s${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`,
      );
    }
  }
}
