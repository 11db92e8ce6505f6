// The release workflow: one durable execution per release of service@version.
//
//   (queued) -> validate -> freeze check -> promote artifact -> per wave: gates, freeze check, pause point,
//   bake between waves, expand migrations, regions in parallel (a region-rollout child each)
//   -> contract migrations -> succeeded
//
// Every step registers its compensation before it runs. On failure, rejection, abort, a failed analysis or a
// timed-out gate, compensations run in reverse order in a non-cancellable scope (the regions of one wave in
// parallel); a compensation that fails or cannot run safely asks a human instead of being skipped.
//
// Module map: run-state (status, flags, saga, the one stage writer), handlers (messages), record (audit trail and
// notifications), gates, freeze, waves, region (one region's run), region-events, migrations, rollback.
import { condition, patched, sleep, TemporalFailure, upsertSearchAttributes } from '@temporalio/workflow';
import { ReleaseTicket } from '../search-attributes';
import type { ReleaseStatus } from '../../domain/release-status';
import { signedReleaseFields, type ReleaseInput } from '../messages';
import { confirmAdmission, confirmTrainStep, refuseUnsignedStart, TRAIN_MEMBER_PATCH } from '../authorization';
import { reportEndWhenAsked } from '../end-report';
import { now } from '../journal';
import { releaseActivities, releaseCompensations } from './activities';
import { runChecksBefore } from './checks';
import { judgeEvidenceBefore } from './evidence';
import { passGate } from './gates';
import { respectFreeze } from './freeze';
import { installHandlers } from './handlers';
import { migrate, planMigrations } from './migrations';
import { rollBack } from './rollback';
import { ReleaseRun } from './run-state';
import { runWave } from './waves';
import { WATCH_PATCH, watchPromoted } from './watch';

/** Patch id of change tickets on releases (issue 16). */
const CHANGE_TICKET_PATCH = 'change-ticket';

export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseStatus> {
  // A release started directly on Temporal (not through the API and its coordinator) fails here, having done nothing.
  const signed = refuseUnsignedStart('release', input, signedReleaseFields, (i) => i.plan?.service);
  const run = new ReleaseRun(input, signed);
  installHandlers(run);
  const reportEnd = reportEndWhenAsked(input.plan.service, run.workflowId);
  const status = await releaseToTheEnd(run);
  await reportEnd();
  return status;
}

/** Runs the pipeline; rolls back on a release failure. */
async function releaseToTheEnd(run: ReleaseRun): Promise<ReleaseStatus> {
  try {
    await run.main.run(() => release(run));
  } catch (err) {
    // Only a release failure (a Temporal failure: an activity, a child, a gate, an abort) is rolled back. Any other
    // error is a bug in this code: it fails the workflow task, which Temporal retries until a fix is deployed, and
    // the release waits, visibly, instead of being undone by mistake.
    if (!(err instanceof TemporalFailure)) throw err;
    return rollBack(run, err);
  }
  return succeed(run);
}

/** The pipeline, top down. */
async function release(run: ReleaseRun): Promise<void> {
  const { plan, input, status } = run;
  if (!run.admitted) {
    run.note(`queued behind another release of ${plan.service}`);
    await condition(() => run.admitted);
    // An admission is a signal: a run with signed messages asks its coordinator whether it really sent it.
    while (run.signed && !(await confirmAdmission(plan.service, run.workflowId, run.note.bind(run)))) {
      run.admitted = false;
      await condition(() => run.admitted);
    }
    run.note('admitted: the release ahead of this one finished');
  }

  // ---- validate: the artifact's digest and signature, the migrations it carries ----
  run.enterStage('validating');
  run.note(`release of ${plan.service}@${plan.version} (${plan.changeClass}) requested by ${input.requestedBy}`);
  run.audit('release.requested', {
    actor: input.requestedBy,
    afterVersion: plan.version,
    ...(input.reason ? { reason: input.reason } : {}),
    details: {
      changeClass: plan.changeClass,
      regions: status.regions.map((r) => r.region),
      ...(input.ticket ? { ticket: input.ticket } : {}),
    },
  });
  // The change ticket it carries out, to find its releases by (releases before tickets name none).
  if (input.ticket && patched(CHANGE_TICKET_PATCH)) {
    upsertSearchAttributes([{ key: ReleaseTicket, value: input.ticket }]);
    run.note(`change ticket ${input.ticket}`);
  }
  // A train's member: only when its train asks for it now (releases before trains name none).
  if (input.train && patched(TRAIN_MEMBER_PATCH)) {
    run.note(`member of train ${input.train.trainId}: its approval is the train's`);
    await confirmTrainStep(input.train.trainId, 'release');
  }
  const artifactRef = { service: plan.service, version: plan.version, signatureRequired: plan.signatureRequired };
  const artifact = await releaseActivities.resolveArtifact.executeWithOptions(
    { summary: `verify ${plan.service}@${plan.version} (digest${plan.signatureRequired ? ' and signature' : ''})` },
    [artifactRef],
  );
  status.artifactDigest = artifact.digest;
  run.note(
    `artifact ${plan.service}@${plan.version} is ${artifact.digest}${artifact.signedBy ? `, signed by key ${artifact.signedBy}` : ''}`,
  );
  run.audit('artifact.verified', {
    details: { digest: artifact.digest, ...(artifact.signedBy ? { signedBy: artifact.signedBy } : {}) },
  });
  // Releases started before migrations existed carry none.
  const migrations = run.governed
    ? await releaseActivities.inspectMigrations.executeWithOptions(
        { summary: `list the schema migrations ${plan.service}@${plan.version} carries` },
        [{ service: plan.service, version: plan.version }],
      )
    : [];
  if (migrations.length > 0) await planMigrations(run, migrations);
  // The first environment's evidence, before anything changes (the artifact is not even promoted yet).
  await judgeEvidenceBefore(run, 0);
  // The first environment's external checks (the change ticket's validation among them), before anything changes too.
  await runChecksBefore(run, 0);
  run.record.notify('release.started');
  await run.record.flush();

  // ---- freeze check, then promote the artifact ----
  const firstEnvironment = plan.waves[0]?.environment;
  if (firstEnvironment) await respectFreeze(run, firstEnvironment);
  run.saga.add({
    name: `demote artifact ${plan.service}@${plan.version}`,
    group: 'artifact',
    run: async () => {
      await releaseCompensations.demoteArtifact.executeWithOptions(
        { summary: `demote ${plan.service}@${plan.version} (rollback)` },
        [{ service: plan.service, version: plan.version, releaseId: plan.releaseId, reason: run.rollbackReason }],
      );
    },
  });
  await releaseActivities.promoteArtifact.executeWithOptions(
    { summary: `promote ${plan.service}@${plan.version} to released` },
    [{ ...artifactRef, releaseId: plan.releaseId }],
  );
  run.audit('artifact.promoted', { afterVersion: plan.version });

  // ---- the waves ----
  // Plans made before the watch have none, and their runs bake between waves on a plain timer.
  const watch = plan.watch && patched(WATCH_PATCH) ? plan.watch : undefined;
  const promoted = (before: number) => plan.waves.filter((w) => w.index < before).flatMap((w) => w.regions);
  for (const wave of plan.waves) {
    for (const gate of plan.gates.filter((g) => g.beforeWave === wave.index)) await passGate(run, gate);
    if (wave.index > 0) await respectFreeze(run, wave.environment);
    await waitWhilePaused(run);
    if (wave.index > 0 && plan.waveBakeSeconds > 0) {
      if (watch) {
        // The bake between waves watches the regions already promoted instead of only waiting.
        await watchPromoted(
          run,
          watch,
          promoted(wave.index),
          plan.waveBakeSeconds,
          `bake before wave ${wave.index + 1}`,
        );
      } else {
        run.note(`baking ${plan.waveBakeSeconds}s before wave ${wave.index + 1}`);
        await sleep(plan.waveBakeSeconds * 1000, { summary: `bake ${plan.waveBakeSeconds}s between waves` });
      }
      await waitWhilePaused(run);
    }
    // Expand migrations run in an environment's database right before its first wave.
    if (plan.waves.find((w) => w.environment === wave.environment)?.index === wave.index) {
      await migrate(run, wave.environment, 'expand', migrations);
    }
    run.enterStage('deploying');
    await runWave(run, wave, artifact.digest);
  }

  // ---- the watch window: every region, before the contract migrations make going back harder ----
  if (watch && watch.seconds > 0) {
    await watchPromoted(run, watch, promoted(plan.waves.length), watch.seconds, 'watch window after the last wave');
  }

  // ---- contract migrations: they remove what the previous version needed, so only once every environment runs
  // the new one (plans made before migrations existed have no databaseEnvironments) ----
  for (const environment of plan.databaseEnvironments ?? []) await migrate(run, environment, 'contract', migrations);
}

async function waitWhilePaused(run: ReleaseRun): Promise<void> {
  if (run.status.paused) await condition(() => !run.status.paused);
}

async function succeed(run: ReleaseRun): Promise<ReleaseStatus> {
  const { plan, status } = run;
  run.note(`release of ${plan.service}@${plan.version} succeeded in ${status.regions.length} regions`);
  run.audit('release.succeeded', { afterVersion: plan.version });
  await run.record.flush();
  run.enterStage('succeeded');
  status.outcome = { result: 'succeeded', finishedAt: now() };
  run.record.notify('release.succeeded');
  run.record.reportToTicket(status.outcome, (why) => run.note(why));
  await run.record.notified();
  return status;
}
