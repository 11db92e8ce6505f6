// P6: start throughput. 16 concurrent callers start for a fixed time, each call after its previous one answered.
//   engine: release.start over HTTP as the pipeline, a normal change of a service of its own (releases of one
//           service queue behind each other), so each release goes on to park at its approval gate.
//   bare:   client.workflow.start of bareParkedWorkflow (the same activities up to the same wait).
// Every HTTP status is counted; a 5xx is reported with its message, not hidden. What was started is terminated
// afterwards (untimed), so the next run starts from the same state.
import { releaseWorkflowId } from '../../domain/names';
import type { ParkedShape } from '../bare/workflows';
import { percentile } from '../support';
import { type Bench, startRelease, terminateAll, waitIdle, concurrently } from './context';

export interface StartRun {
  rep: number;
  kind: 'engine' | 'bare';
  seconds: number;
  started: number;
  latenciesMs: number[];
  /** HTTP status (engine) or error name (bare) -> count. */
  outcomes: Record<string, number>;
  /** A few error messages per status or error, as the caller saw them. */
  errors: Record<string, string[]>;
  /** The pool of services ran out before the time was up. */
  exhausted: boolean;
}

async function callFor(
  seconds: number,
  callers: number,
  call: () => Promise<{ outcome: string; ok: boolean; message?: string } | undefined>,
) {
  const latenciesMs: number[] = [];
  const outcomes: Record<string, number> = {};
  const errors: Record<string, string[]> = {};
  let exhausted = false;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let last = started;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        const result = await call();
        if (!result) {
          exhausted = true;
          return;
        }
        last = Math.max(last, performance.now());
        outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
        if (result.ok) latenciesMs.push(performance.now() - t);
        else if (result.message) {
          const seen = (errors[result.outcome] ??= []);
          if (seen.length < 3 && !seen.includes(result.message)) seen.push(result.message);
        }
      }
    }),
  );
  return { seconds: (last - started) / 1000, latenciesMs, outcomes, errors, exhausted };
}

export async function runStarts(
  bench: Bench,
  options: { seconds: number; callers: number; reps: number },
  shape: ParkedShape,
  runs: StartRun[],
): Promise<void> {
  for (let rep = 1; rep <= options.reps; rep++) {
    // ---- engine ----
    const releaseId = `p6-${rep}`;
    const used: string[] = [];
    bench.startPool.rewind();
    const engine = await callFor(options.seconds, options.callers, async () => {
      const service = bench.startPool.take();
      if (!service) return undefined;
      used.push(service);
      const res = await startRelease(bench, service, '1.1.0', releaseId, 'normal');
      return {
        outcome: `HTTP ${res.status}`,
        ok: res.status === 200,
        ...(res.status !== 200 ? { message: res.body.error?.message ?? JSON.stringify(res.body) } : {}),
      };
    });
    runs.push({ rep, kind: 'engine', started: engine.latenciesMs.length, ...engine });
    report(bench, rep, options.reps, runs.at(-1) as StartRun);
    // The pool is used again next time: every release ends, and every coordinator must have seen it end. A start
    // the API could not confirm may still land after the first termination, hence the second try.
    await concurrently(used.length, 16, async (i) => {
      const service = used[i] as string;
      for (let attempt = 1; ; attempt++) {
        await terminateAll(bench, [releaseWorkflowId(service, releaseId)], 'bench: P6 is over');
        const idle = await waitIdle(bench, service, 20_000).then(
          () => true,
          (err: unknown) => (attempt < 3 ? false : Promise.reject(err as Error)),
        );
        if (idle) return;
      }
    });

    // ---- bare ----
    let n = 0;
    const ids: string[] = [];
    const bare = await callFor(options.seconds, options.callers, async () => {
      const workflowId = `bare-p6-${rep}-${++n}`;
      ids.push(workflowId);
      try {
        await bench.client.workflow.start('bareParkedWorkflow', {
          workflowId,
          taskQueue: bench.bareTaskQueue,
          args: [shape],
        });
        return { outcome: 'started', ok: true };
      } catch (err) {
        return { outcome: (err as Error).name, ok: false, message: (err as Error).message };
      }
    });
    runs.push({ rep, kind: 'bare', started: bare.latenciesMs.length, ...bare });
    report(bench, rep, options.reps, runs.at(-1) as StartRun);
    await terminateAll(bench, ids, 'bench: P6 is over');
  }
}

function report(bench: Bench, rep: number, reps: number, run: StartRun) {
  const p = (q: number) => percentile(run.latenciesMs, q) ?? NaN;
  const outcomes = Object.entries(run.outcomes)
    .map(([k, v]) => `${v} x ${k}`)
    .join(', ');
  bench.log(
    `P6 ${rep}/${reps} ${run.kind.padEnd(6)} ${run.started} started in ${run.seconds.toFixed(1)}s ` +
      `(${(run.started / run.seconds).toFixed(1)}/s), p50 ${p(50).toFixed(0)}ms p99 ${p(99).toFixed(0)}ms; ` +
      `${outcomes}${run.exhausted ? '; RAN OUT OF SERVICES' : ''}`,
  );
  for (const [outcome, messages] of Object.entries(run.errors)) {
    for (const message of messages) bench.log(`    ${outcome}: ${message}`);
  }
}
