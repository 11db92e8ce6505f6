// The service coordinator: one long-lived workflow per service (`service/<service>`), the single place that decides
// which release of the service runs. Releases are requested with an Update (sent with update-with-start): while one
// is in progress, a second is refused to the caller, naming the running one, or queued if it asked to be. Releases
// run as children, so a release that ends in any way (even terminated) frees the service. An emergency rollback
// aborts whatever is in flight, then runs before anything else.
import {
  condition,
  continueAsNew,
  allHandlersFinished,
  log,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { releaseWorkflowId, rollbackWorkflowId } from '../domain/workflow-ids';
import { refusedPayload } from '../domain/signed-message';
import { SIGNED_MESSAGES_PATCH, SignedMessages } from './authorization';
import { releaseFailure } from './failures';
import { emergencyRollbackWorkflow } from './emergency-rollback';
import {
  abortSignal,
  admitSignal,
  requestReleaseUpdate,
  lineEntryEndedSignal,
  requestRollbackUpdate,
  serviceStateQuery,
  type Admission,
  type EmergencyRollbackInput,
  type ReleaseRequestMessage,
  type ServiceInput,
  type ServiceState,
  signedReleaseFields,
  signedRollbackFields,
} from './messages';
import { releaseWorkflow } from './release';
import { BUSY_CONTINUE_PATCH, CarriedLine, carry } from './service-carried';
import { type Entry, refuseToLineUp } from './service-line';
import { innermostMessage } from './saga';
import {
  ReleaseRegions,
  ReleaseRequestedBy,
  ReleaseService,
  ReleaseStage,
  releaseSearchAttributes,
} from './search-attributes';

/** Ids remembered across continue-as-new, so a repeated start stays idempotent. */
const SEEN_LIMIT = 500;
/** Continue-as-new once the history grew past this many events (when idle, or busy since BUSY_CONTINUE_PATCH). */
const HISTORY_LIMIT = 2000;
/**
 * The most releases one service queues behind the one in progress. Each queued release is a workflow waiting for its
 * turn, and carried over each continue-as-new while it waits.
 */
export const QUEUE_LIMIT = 50;
/** Coordinators from before QUEUE_LIMIT replay without it. */
const BOUNDED_QUEUE_PATCH = 'bounded-release-queue';
/**
 * A release request is answered in the workflow task that admits it: the answer and the command that starts the
 * release's workflow are recorded together, so the request is durable when the caller hears back, and the caller does
 * not wait for a second workflow task (the child's start) as it did before. Coordinators from before replay waiting.
 */
const ANSWER_ON_ADMISSION_PATCH = 'answer-on-admission';

export async function serviceWorkflow(input: ServiceInput): Promise<void> {
  const { service } = input;
  const bounded = patched(BOUNDED_QUEUE_PATCH);
  const answerOnAdmission = patched(ANSWER_ON_ADMISSION_PATCH);
  const busyContinue = patched(BUSY_CONTINUE_PATCH);
  const historyLimit = input.historyLimit ?? HISTORY_LIMIT;
  // Rollback ids are remembered apart from release ids: a rollback named like an earlier release must still run.
  const rollbackKey = (id: string) => (bounded ? `rollback:${id}` : id);
  const queueLimit = input.queueLimit ?? QUEUE_LIMIT;
  const seen: string[] = [...(input.seen ?? [])];
  const entries: Entry[] = CarriedLine.receive(input.carried ?? []);
  const carried = new CarriedLine(entries);
  const firstLength = workflowInfo().historyLength;
  const remember = (id: string) => {
    if (!seen.includes(id)) seen.push(id);
    if (seen.length > SEEN_LIMIT) seen.splice(0, seen.length - SEEN_LIMIT);
  };
  const live = () => entries.filter((e) => !e.done);
  // Only the API's signed requests start anything: a forged one is refused by the validator, outside history.
  const messages = new SignedMessages();
  const describe = (e: Entry) => ({ kind: e.kind, id: e.id, workflowId: e.workflowId, requestedBy: e.requestedBy });

  setHandler(serviceStateQuery, (): ServiceState => {
    const [active, ...queued] = live();
    return { service, ...(active ? { active: describe(active) } : {}), queued: queued.map(describe) };
  });
  // Only a prompt to look: whether the workflow has ended is asked of Temporal (CarriedLine).
  setHandler(lineEntryEndedSignal, (report) => carried.suspect(report?.workflowId));
  if (entries.length > 0) void carried.follow();

  // A child's end comes from Temporal (to this run only: CarriedLine follows those of earlier runs).
  const watch = (entry: Entry, handle: { result(): Promise<unknown> }) => {
    entry.handle = handle as Entry['handle'];
    handle.result().then(
      () => {
        entry.done = true;
      },
      (err: unknown) => {
        entry.done = true;
        log.info(`${entry.kind} ${entry.id} ended without success`, { error: innermostMessage(err) });
      },
    );
  };

  setHandler(
    requestReleaseUpdate,
    async ({ input: release }: ReleaseRequestMessage): Promise<Admission> => {
      const { releaseId } = release.plan;
      const workflowId = releaseWorkflowId(service, releaseId);
      if (seen.includes(releaseId)) return { workflowId, alreadyStarted: true, queuedBehind: [] };
      remember(releaseId);
      const ahead = live();
      const entry: Entry = {
        kind: 'release',
        id: releaseId,
        workflowId,
        requestedBy: release.requestedBy,
        version: release.plan.version,
        admitted: ahead.length === 0,
        done: false,
      };
      entries.push(entry);
      const start = () =>
        startChild(releaseWorkflow, {
          workflowId,
          args: [{ ...release, queued: !entry.admitted }],
          // A release outlives its coordinator (which may be terminated or reset by an operator).
          parentClosePolicy: 'ABANDON',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          staticSummary: `Release ${service}@${release.plan.version} (${release.plan.changeClass}) requested by ${release.requestedBy}`,
          typedSearchAttributes: releaseSearchAttributes(
            release.plan,
            release.requestedBy,
            entry.admitted ? 'validating' : 'queued',
          ),
        });
      const admission: Admission = { workflowId, alreadyStarted: false, queuedBehind: ahead.map((e) => e.id) };
      if (answerOnAdmission) {
        entry.starting = start().then(
          (handle) => watch(entry, handle),
          (err: unknown) => {
            entries.splice(entries.indexOf(entry), 1);
            // Only a workflow under this id from outside this coordinator's memory (an old release whose id it has
            // forgotten, or one started directly on Temporal): the API looks for it before asking (startRelease).
            log.warn(`release ${releaseId} was not started`, { error: innermostMessage(err) });
          },
        );
        return admission;
      }
      try {
        watch(entry, await start());
      } catch (err) {
        entries.splice(entries.indexOf(entry), 1);
        if (err instanceof WorkflowExecutionAlreadyStartedError)
          return { workflowId, alreadyStarted: true, queuedBehind: [] };
        throw err;
      }
      return admission;
    },
    {
      validator: (message: ReleaseRequestMessage) => {
        const refused = refusedPayload(message);
        if (refused) throw releaseFailure('Unauthorized', `refused: ${refused}`);
        const { input: release, queue } = message;
        if (release?.plan?.service !== service) {
          throw new Error(`this coordinator serves ${service}, not ${release.plan?.service}`);
        }
        messages.check('release', signedReleaseFields(release), releaseWorkflowId(service, release.plan.releaseId));
        if (seen.includes(release.plan.releaseId)) return;
        refuseToLineUp(service, live(), { queue, queueLimit: bounded ? queueLimit : undefined });
      },
    },
  );

  setHandler(
    requestRollbackUpdate,
    async (rollback: EmergencyRollbackInput) => {
      const workflowId = rollbackWorkflowId(service, rollback.rollbackId);
      if (seen.includes(rollbackKey(rollback.rollbackId))) return { workflowId, aborted: [], alreadyStarted: true };
      remember(rollbackKey(rollback.rollbackId));
      // What to avoid is this coordinator's own knowledge, never the requester's.
      const { avoid: _requested, ...request } = rollback;
      const aborted: string[] = [];
      // The version a release in progress was moving to is suspect: no region goes back to it.
      const avoid: { version: string; why: string }[] = [];
      for (const entry of live()) {
        // A release answered but not started yet is aborted once it has started.
        if (answerOnAdmission && entry.kind === 'release' && !entry.handle) await entry.starting;
        if (entry.kind !== 'release' || !entry.handle) continue;
        try {
          await entry.handle.signal(abortSignal, {
            by: rollback.requestedBy,
            reason: `emergency rollback ${rollback.rollbackId}: ${rollback.reason}`,
            // The release verifies the rollback's signed request before it aborts.
            ...(rollback.authorization && patched(SIGNED_MESSAGES_PATCH) ? { rollback: request } : {}),
          });
          aborted.push(entry.id);
          if (entry.admitted && entry.version) {
            avoid.push({
              version: entry.version,
              why: `release ${entry.id} was moving to it when this rollback aborted it`,
            });
          }
        } catch (err) {
          // It finished just now (this coordinator has not processed its completion yet): nothing to abort.
          log.info(`release ${entry.id} could not be aborted`, { error: innermostMessage(err) });
          carried.suspect(entry.workflowId);
        }
      }
      // The rollback goes first in line: right behind the release that is finishing its own compensation.
      const entry: Entry = {
        kind: 'rollback',
        id: rollback.rollbackId,
        workflowId,
        requestedBy: rollback.requestedBy,
        admitted: live().length === 0,
        done: false,
      };
      const activeIndex = entries.findIndex((e) => !e.done);
      entries.splice(activeIndex < 0 ? entries.length : activeIndex + 1, 0, entry);
      const handle = await startChild(emergencyRollbackWorkflow, {
        workflowId,
        args: [
          {
            ...request,
            queued: !entry.admitted,
            ...(avoid.length > 0 && patched('rollback-avoids-aborted') ? { avoid } : {}),
          },
        ],
        parentClosePolicy: 'ABANDON',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `Emergency rollback of ${service} by ${rollback.requestedBy}: ${rollback.reason}`,
        typedSearchAttributes: [
          { key: ReleaseService, value: service },
          { key: ReleaseStage, value: entry.admitted ? 'rolling-back' : 'queued' },
          { key: ReleaseRegions, value: rollback.regions },
          { key: ReleaseRequestedBy, value: rollback.requestedBy },
        ],
      });
      watch(entry, handle);
      return { workflowId, aborted, alreadyStarted: false };
    },
    {
      validator: (rollback: EmergencyRollbackInput) => {
        const refused = refusedPayload(rollback);
        if (refused) throw releaseFailure('Unauthorized', `refused: ${refused}`);
        if (rollback.service !== service)
          throw new Error(`this coordinator serves ${service}, not ${rollback.service}`);
        messages.check('rollback', signedRollbackFields(rollback), rollbackWorkflowId(service, rollback.rollbackId));
        if (!rollback.reason.trim()) throw new Error('an emergency rollback needs a reason');
        // A train undoing its member aborts nothing: it waits until the service is free (the train asks again). So a
        // signed undo replayed on Temporal cannot abort another release; the rollback then checks with its train.
        const busy = live().find((e) => !e.done && e.workflowId !== rollbackWorkflowId(service, rollback.rollbackId));
        if (rollback.train && busy) {
          throw releaseFailure(
            'ServiceBusy',
            `${service} has ${busy.kind} ${busy.id} in progress; train ${rollback.train.trainId} undoes ${service} once it ends`,
          );
        }
      },
    },
  );

  // Admit the head of the line whenever the one before it has finished; continue-as-new when large (and idle, before
  // BUSY_CONTINUE_PATCH).
  for (;;) {
    await condition(() => {
      const head = live()[0];
      if (head && !head.admitted && head.handle) return true;
      // Idle, a run continues only if something happened in it (a history limit set absurdly low loops no runs).
      return (
        (head
          ? busyContinue && carried.moved(historyLimit)
          : !busyContinue || workflowInfo().historyLength > firstLength) && tooLong()
      );
    });
    const head = live()[0];
    if (head && !head.admitted && head.handle) {
      head.admitted = true;
      try {
        await head.handle.signal(admitSignal);
      } catch (err) {
        log.warn(`could not admit ${head.kind} ${head.id}`, { error: innermostMessage(err) });
        // A carried workflow that cannot be signalled has most likely ended: look, and admit the next one if so.
        carried.suspect(head.workflowId);
      }
      continue;
    }
    // Every request answered and every child started: a busy line goes over whole, with the workflows' ids.
    await condition(
      () => allHandlersFinished() && (!busyContinue || entries.every((e) => e.done || e.handle !== undefined)),
    );
    if (busyContinue || live().length === 0) {
      await continueAsNew<typeof serviceWorkflow>({
        service,
        seen,
        ...(input.queueLimit !== undefined ? { queueLimit: input.queueLimit } : {}),
        ...(input.historyLimit !== undefined ? { historyLimit: input.historyLimit } : {}),
        ...(live().length > 0 ? { carried: live().map(carry) } : {}),
      });
    }
  }

  function tooLong(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > historyLimit;
  }
}
