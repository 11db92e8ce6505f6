// The release workflow: one durable execution per release of service@version.
//
//   (queued) -> validate -> freeze check -> promote artifact -> per wave: gates, freeze check, pause point,
//   regions in parallel (a region-rollout child each) -> succeeded
//
// Every step registers its compensation before it runs. On failure, rejection, abort, a failed analysis or a
// timed-out gate, compensations run in reverse order in a non-cancellable scope (the regions of one wave in
// parallel); a compensation that fails or cannot run safely asks a human instead of being skipped.
import {
  ApplicationFailure,
  CancellationScope,
  type ChildWorkflowHandle,
  condition,
  isCancellation,
  log,
  TemporalFailure,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RegionActivities, ReleaseActivities } from '../activities';
import { approvalsOf, checkDecision, type Gate } from '../domain/approval';
import type { AuditEvent } from '../domain/audit';
import { activeFreeze } from '../domain/calendar';
import { regionRolloutWorkflowId } from '../domain/names';
import type { GatePlan, WavePlan } from '../domain/plan';
import {
  isFinalStage,
  type RegionProgress,
  type ReleaseResult,
  type ReleaseStage,
  type ReleaseStatus,
} from '../domain/release-status';
import {
  abortSignal,
  admitSignal,
  approveUpdate,
  pauseSignal,
  recheckFreezeSignal,
  regionDecisionSignal,
  regionEventSignal,
  regionPauseSignal,
  rejectUpdate,
  resumeSignal,
  statusQuery,
  type DecisionInput,
  type RegionEvent,
  type ReleaseInput,
} from './messages';
import { auditStep, compensationStep, fleetStep, migrationStep, notifyStep, quickStep } from './profiles';
import { regionRolloutWorkflow } from './region-rollout';
import { innermostMessage, Saga, type Compensation } from './saga';
import { ReleaseStage as ReleaseStageKey } from './search-attributes';

const releaseActivities = proxyActivities<ReleaseActivities>(quickStep);
const releaseCompensations = proxyActivities<ReleaseActivities>(compensationStep);
const auditActivities = proxyActivities<ReleaseActivities>(auditStep);
const notifyActivities = proxyActivities<ReleaseActivities>(notifyStep);
const migrationActivities = proxyActivities<ReleaseActivities>(migrationStep);

type ReleaseEventKind = Parameters<ReleaseActivities['notifyRelease']>[0]['kind'];
type MigrationSummary = Awaited<ReturnType<ReleaseActivities['inspectMigrations']>>[number];

/** Region activities bound to the region's task queue, served by the agent in that region. */
function inRegion(taskQueue: string) {
  return {
    quick: proxyActivities<RegionActivities>({ ...quickStep, taskQueue }),
    fleet: proxyActivities<RegionActivities>({ ...fleetStep, taskQueue }),
    compensation: proxyActivities<RegionActivities>({ ...compensationStep, taskQueue }),
  };
}

/** Workflow time (deterministic: the time of the current workflow task). */
function now(): string {
  return new Date().toISOString();
}

/** Roles allowed to decide on an inconclusive canary, and on a rollback that needs a human. */
const ANALYSIS_ROLES = ['approver', 'sre'] as const;
const INTERVENTION_ROLES = ['sre'] as const;

export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseStatus> {
  const { plan } = input;
  const releaseWorkflowId = workflowInfo().workflowId;
  const status: ReleaseStatus = {
    releaseId: plan.releaseId,
    service: plan.service,
    version: plan.version,
    changeClass: plan.changeClass,
    requestedBy: input.requestedBy,
    ...(input.reason ? { reason: input.reason } : {}),
    stage: input.queued ? 'queued' : 'validating',
    paused: false,
    regions: plan.waves.flatMap((wave) =>
      wave.regions.map(({ region }): RegionProgress => ({
        region,
        environment: wave.environment,
        wave: wave.index,
        status: 'pending',
        version: plan.version,
        trafficPercent: 0,
        verdicts: [],
      })),
    ),
    gates: plan.gates
      .filter((g) => g.kind === 'approval')
      .map((g) => ({
        id: g.id,
        kind: 'approval',
        description: g.description,
        status: 'pending',
        quorum: g.quorum,
        roles: g.roles,
        timeoutSeconds: g.timeoutSeconds,
        decisions: [],
      })),
    compensations: [],
    timeline: [],
    startedAt: now(),
  };

  // ---- bookkeeping ----
  const note = (message: string, region?: string) => {
    status.timeline.push({ at: now(), message, ...(region ? { region } : {}) });
    log.info(message, region ? { region } : {});
  };
  let stageBeforePause: ReleaseStage | undefined;
  const enterStage = (stage: ReleaseStage) => {
    if (status.paused && stage !== 'rolling-back' && !isFinalStage(stage)) {
      stageBeforePause = stage;
      return;
    }
    if (status.stage === stage) return;
    status.stage = stage;
    upsertSearchAttributes([{ key: ReleaseStageKey, value: stage }]);
  };
  const regionOf = (region: string) => {
    const progress = status.regions.find((r) => r.region === region);
    if (!progress) throw ApplicationFailure.nonRetryable(`region ${region} is not in the plan`, 'PlanInvalid');
    return progress;
  };
  const touch = (progress: RegionProgress, change: Partial<RegionProgress>) => {
    Object.assign(progress, change, { updatedAt: now() });
  };

  // ---- state changed by messages ----
  let admitted = !input.queued;
  let abort: { by: string; reason: string } | undefined;
  let compensating = false;
  let freezeRecheck = false;
  const running = new Map<string, ChildWorkflowHandle<typeof regionRolloutWorkflow>>();
  const pendingDecisions: { region: string; step: number; percent: number; reasons: string[] }[] = [];
  /** Reports received per region, to notice a region that has gone silent. */
  const heardFrom = new Map<string, number>();
  const main = new CancellationScope();

  // ---- the record and the people: audit trail and notifications ----
  // Releases started before the audit trail, schema migrations and notifications existed replay without them.
  const governed = patched('audit-migrations-notifications');
  let auditSeq = 0;
  const pendingAudit: AuditEvent[] = [];
  let auditWrites: Promise<void> = Promise.resolve();
  const audit = (action: string, fields: Omit<Partial<AuditEvent>, 'id' | 'at' | 'action'> = {}) => {
    if (!governed) return;
    pendingAudit.push({
      id: `${releaseWorkflowId}#${++auditSeq}`,
      at: now(),
      actor: 'engine',
      action,
      service: plan.service,
      releaseId: plan.releaseId,
      ...fields,
    });
  };
  /** Writes the audit events collected so far. Writes are chained (the trail keeps the order) and not cancellable. */
  const flushAudit = (): Promise<void> => {
    const write = async () => {
      const batch = pendingAudit.splice(0);
      if (batch.length === 0) return;
      await CancellationScope.nonCancellable(() =>
        auditActivities.appendAudit.executeWithOptions(
          { summary: `audit: ${[...new Set(batch.map((e) => e.action))].join(', ')}` },
          [batch],
        ),
      );
    };
    auditWrites = auditWrites.then(write, write);
    return auditWrites;
  };
  const notifications: Promise<unknown>[] = [];
  /** Tells people (chat) about the release; never waits for, nor fails on, the delivery. */
  const notify = (kind: ReleaseEventKind, extra: { region?: string; gate?: string; reason?: string } = {}) => {
    if (!governed) return;
    const event = {
      kind,
      service: plan.service,
      version: plan.version,
      releaseId: plan.releaseId,
      requestedBy: input.requestedBy,
      at: now(),
      ...extra,
    };
    notifications.push(
      notifyActivities.notifyRelease.executeWithOptions({ summary: `notify: ${kind}` }, [event]).catch(() => undefined),
    );
  };

  setHandler(statusQuery, () => status);
  setHandler(admitSignal, () => {
    admitted = true;
  });
  setHandler(recheckFreezeSignal, () => {
    freezeRecheck = true;
  });

  /** Refuses a decision that may not be taken, as an ApplicationFailure typed with the refusal's code. */
  const refuseIfNotAllowed = (decision: 'approve' | 'reject', request: DecisionInput) => {
    const refusal = checkDecision({
      gates: status.gates,
      gateId: request.gate,
      principal: request.principal,
      requestedBy: input.requestedBy,
      decision,
    });
    if (refusal) throw ApplicationFailure.create({ type: refusal.code, message: refusal.message });
  };
  // Thrown from the validator, a refusal goes back to the caller and leaves no trace in history.
  const validate = (decision: 'approve' | 'reject') => (request: DecisionInput) =>
    refuseIfNotAllowed(decision, request);
  const decide = (decision: 'approve' | 'reject') => (request: DecisionInput) => {
    // Checked again in the handler in case two decisions raced within one workflow task.
    refuseIfNotAllowed(decision, request);
    const gate = status.gates.find((g) => g.id === request.gate);
    if (!gate) throw ApplicationFailure.create({ type: 'UnknownGate', message: `no gate ${request.gate}` });
    gate.decisions.push({
      by: request.principal.id,
      decision,
      ...(request.comment ? { comment: request.comment } : {}),
      at: now(),
    });
    const verb = decision === 'approve' ? 'approved' : 'rejected';
    note(`${request.principal.id} ${verb} gate ${gate.id}${request.comment ? `: ${request.comment}` : ''}`);
    audit(`gate.${verb}`, {
      actor: request.principal.id,
      gate: gate.id,
      ...(request.comment ? { reason: request.comment } : {}),
    });
    if (decision === 'reject') closeGate(gate, 'rejected');
    else if (approvalsOf(gate).length >= gate.quorum) closeGate(gate, 'approved');
    return gate;
  };
  setHandler(approveUpdate, decide('approve'), { validator: validate('approve') });
  setHandler(rejectUpdate, decide('reject'), { validator: validate('reject') });

  setHandler(pauseSignal, async ({ by, reason }) => {
    if (status.paused || status.outcome || compensating) return;
    stageBeforePause = status.stage;
    status.paused = true;
    status.stage = 'paused';
    upsertSearchAttributes([{ key: ReleaseStageKey, value: 'paused' }]);
    note(`paused by ${by}${reason ? `: ${reason}` : ''}; bakes in progress keep counting, nothing new starts`);
    audit('release.paused', { actor: by, ...(reason ? { reason } : {}) });
    await Promise.allSettled([...running.values()].map((child) => child.signal(regionPauseSignal, { paused: true })));
  });
  setHandler(resumeSignal, async ({ by }) => {
    if (!status.paused) return;
    status.paused = false;
    enterStage(stageBeforePause ?? 'deploying');
    note(`resumed by ${by}`);
    audit('release.resumed', { actor: by });
    await Promise.allSettled([...running.values()].map((child) => child.signal(regionPauseSignal, { paused: false })));
  });
  setHandler(abortSignal, ({ by, reason }) => {
    if (abort || status.outcome || compensating) return;
    abort = { by, reason };
    note(`abort requested by ${by}: ${reason}`);
    audit('release.abort-requested', { actor: by, reason });
    main.cancel();
  });

  setHandler(regionEventSignal, (event: RegionEvent) => {
    const progress = status.regions.find((r) => r.region === event.region);
    if (!progress) {
      // Throwing here would fail the release; a stray report is only logged.
      log.warn('report from a region not in the plan', { region: event.region });
      return;
    }
    heardFrom.set(event.region, (heardFrom.get(event.region) ?? 0) + 1);
    clearStall(event.region);
    switch (event.kind) {
      case 'deployed':
        touch(progress, { status: 'canary' });
        note(`${event.region}: ${plan.version} started at 0% of traffic`, event.region);
        audit('region.canary-started', {
          region: event.region,
          afterVersion: plan.version,
          ...(progress.previousVersion ? { beforeVersion: progress.previousVersion } : {}),
        });
        break;
      case 'traffic':
        touch(progress, { trafficPercent: event.percent, canaryStep: event.step });
        note(`${event.region}: ${event.percent}% of traffic on ${plan.version}`, event.region);
        audit('region.traffic-shifted', { region: event.region, details: { percent: event.percent } });
        break;
      case 'verdict':
        progress.verdicts.push({ ...event.verdict, step: event.step, percent: event.percent });
        touch(progress, {});
        note(
          `${event.region}: analysis at ${event.percent}%: ${event.verdict.verdict} (${event.verdict.reasons.join('; ')})`,
          event.region,
        );
        audit('canary.analysed', {
          region: event.region,
          reason: event.verdict.reasons.join('; '),
          details: {
            verdict: event.verdict.verdict,
            percent: event.percent,
            canaryRequests: event.verdict.canary.requests,
            canaryErrors: event.verdict.canary.errors,
            baselineRequests: event.verdict.baseline.requests,
            baselineErrors: event.verdict.baseline.errors,
          },
        });
        if (event.verdict.verdict === 'fail') {
          notify('canary.failed', { region: event.region, reason: event.verdict.reasons.join('; ') });
        }
        break;
      case 'needs-decision':
        touch(progress, { status: 'needs-decision' });
        pendingDecisions.push({
          region: event.region,
          step: event.step,
          percent: event.percent,
          reasons: event.verdict.reasons,
        });
        break;
      case 'promoted':
        touch(progress, { status: 'smoke-testing', trafficPercent: 100 });
        note(`${event.region}: ${plan.version} promoted to 100%`, event.region);
        audit('region.promoted', {
          region: event.region,
          afterVersion: plan.version,
          ...(progress.previousVersion ? { beforeVersion: progress.previousVersion } : {}),
        });
        break;
      case 'smoke-test':
        touch(progress, { smokeTest: { passed: event.passed, failures: event.failures, requests: event.requests } });
        note(
          `${event.region}: smoke test ${event.passed ? 'passed' : 'failed'} (${event.failures} of ${event.requests} failed)`,
          event.region,
        );
        audit('region.smoke-tested', {
          region: event.region,
          details: { passed: event.passed, failures: event.failures, requests: event.requests },
        });
        break;
      case 'reverted':
        touch(progress, { status: 'reverted', trafficPercent: 0 });
        note(`${event.region}: back on ${event.to} (${event.reason})`, event.region);
        audit('region.reverted', {
          region: event.region,
          beforeVersion: plan.version,
          afterVersion: event.to,
          reason: event.reason,
        });
        break;
      default:
        event satisfies never;
    }
  });

  // ---- gates ----
  function closeGate(gate: Gate, outcome: Gate['status']) {
    gate.status = outcome;
    gate.closedAt = now();
  }

  /** Opens a gate and waits for its quorum, a rejection, or its timeout. */
  async function waitForGate(gate: Gate, stage: ReleaseStage): Promise<Gate['status']> {
    gate.status = 'waiting';
    gate.openedAt = now();
    enterStage(stage);
    note(`gate ${gate.id} is waiting: ${gate.description} (needs ${gate.quorum} of ${gate.roles.join('/')})`);
    audit('gate.opened', { gate: gate.id, reason: gate.description });
    notify('gate.waiting', { gate: gate.id, reason: gate.description });
    await flushAudit();
    let decided = true;
    if (gate.timeoutSeconds) decided = await condition(() => gate.status !== 'waiting', gate.timeoutSeconds * 1000);
    else await condition(() => gate.status !== 'waiting');
    if (!decided) {
      closeGate(gate, 'timed-out');
      note(
        `gate ${gate.id} timed out after ${gate.timeoutSeconds}s with ${approvalsOf(gate).length} of ${gate.quorum} approvals`,
      );
      audit('gate.timed-out', { gate: gate.id });
    } else if (statusOf(gate) === 'approved') {
      note(`gate ${gate.id} approved by ${approvalsOf(gate).join(', ')}`);
    }
    await flushAudit();
    return statusOf(gate);
  }

  /** Opens a gate where one approver or SRE decides what the engine should not guess (drift, an inconclusive canary). */
  async function askForDecision(id: string, description: string): Promise<{ gate: Gate; outcome: Gate['status'] }> {
    const gate: Gate = {
      id,
      kind: 'analysis',
      description,
      status: 'pending',
      quorum: 1,
      roles: [...ANALYSIS_ROLES],
      timeoutSeconds: plan.decisionTimeoutSeconds,
      decisions: [],
    };
    status.gates.push(gate);
    return { gate, outcome: await waitForGate(gate, 'needs-decision') };
  }

  async function passGate(planned: GatePlan): Promise<void> {
    if (planned.kind === 'promotion') {
      const previousEnv = plan.waves.find((w) => w.index === planned.beforeWave - 1)?.environment;
      const unproven = status.regions.filter((r) => r.environment === previousEnv && !r.smokeTest?.passed);
      if (unproven.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `cannot promote to the next environment: ${unproven.map((r) => r.region).join(', ')} did not pass their smoke tests`,
          'PromotionBlocked',
        );
      }
      if (previousEnv && patched('config-parity')) await checkParity(planned, previousEnv);
      note(`gate ${planned.id} passed: ${planned.description}`);
      return;
    }
    const gate = status.gates.find((g) => g.id === planned.id);
    if (!gate) return;
    const outcome = await waitForGate(gate, 'awaiting-approval');
    if (outcome === 'rejected') {
      const rejection = gate.decisions.find((d) => d.decision === 'reject');
      throw ApplicationFailure.nonRetryable(
        `gate ${gate.id} was rejected by ${rejection?.by ?? 'someone'}${rejection?.comment ? `: ${rejection.comment}` : ''}`,
        'ApprovalRejected',
      );
    }
    if (outcome === 'timed-out') {
      throw ApplicationFailure.nonRetryable(
        `gate ${gate.id} timed out after ${gate.timeoutSeconds}s with ${approvalsOf(gate).length} of ${gate.quorum} approvals`,
        'ApprovalTimedOut',
      );
    }
  }

  /**
   * Compares the config keys of the environment the release leaves and the one it enters. Drift (a key one has and
   * the other lacks) is what breaks a version that worked one environment earlier, so a human decides: approve to
   * promote anyway, reject (or no answer) to roll back.
   */
  async function checkParity(planned: GatePlan, previousEnv: string): Promise<void> {
    const nextEnv = plan.waves.find((w) => w.index === planned.beforeWave)?.environment ?? '';
    const parity = await releaseActivities.checkConfigParity.executeWithOptions(
      { summary: `compare the config keys of ${previousEnv} and ${nextEnv}` },
      [{ service: plan.service, base: previousEnv, other: nextEnv }],
    );
    audit('config.parity-checked', {
      reason: parity.description,
      details: { base: previousEnv, other: nextEnv, onlyInBase: parity.onlyInBase, onlyInOther: parity.onlyInOther },
    });
    if (parity.ok) {
      note(`config parity: ${parity.description}`);
      return;
    }
    const { gate, outcome } = await askForDecision(
      `config-parity-${nextEnv}`,
      `config drift: ${parity.description}; approve to promote to ${nextEnv} anyway, reject to roll back`,
    );
    if (outcome !== 'approved') {
      const by = gate.decisions.find((d) => d.decision === 'reject');
      throw ApplicationFailure.nonRetryable(
        `config drift between ${previousEnv} and ${nextEnv} (${parity.description}); ${by ? `rejected by ${by.by}${by.comment ? `: ${by.comment}` : ''}` : `nobody decided within ${gate.timeoutSeconds}s`}`,
        'ConfigDrift',
      );
    }
  }

  // ---- freeze windows ----
  async function respectFreeze(environment: string): Promise<void> {
    for (;;) {
      const calendar = await releaseActivities.loadCalendar.executeWithOptions(
        { summary: `check the release calendar for ${environment}` },
        [],
      );
      const freeze = activeFreeze(calendar, new Date(), { service: plan.service, environment });
      if (!freeze) return;
      const names = freeze.windows.map((w) => `${w.id} (${w.reason})`).join(', ');
      if (plan.freeze.override) {
        note(`freeze ${names} overridden: emergency release, reason: ${input.reason ?? 'none given'}`);
        audit('freeze.overridden', { actor: input.requestedBy, reason: `${names}: ${input.reason ?? 'none given'}` });
        return;
      }
      if (plan.freeze.onFreeze === 'fail') {
        throw ApplicationFailure.nonRetryable(
          `${environment} is frozen by ${names} until ${freeze.endsAt.toISOString()}, and this service fails releases in a freeze`,
          'Frozen',
        );
      }
      enterStage('waiting-for-freeze');
      note(`${environment} is frozen by ${names}; waiting until ${freeze.endsAt.toISOString()}`);
      audit('freeze.waiting', { reason: names, details: { environment, until: freeze.endsAt.toISOString() } });
      await flushAudit();
      freezeRecheck = false;
      await condition(() => freezeRecheck, Math.max(1000, freeze.endsAt.getTime() - new Date().getTime()));
    }
  }

  async function waitWhilePaused(): Promise<void> {
    if (status.paused) await condition(() => !status.paused);
  }

  // ---- the regions ----
  async function rollOut(region: string, taskQueue: string, wave: WavePlan, digest: string): Promise<void> {
    const progress = regionOf(region);
    const workflowId = regionRolloutWorkflowId(plan.service, plan.releaseId, region);
    touch(progress, { status: 'deploying', workflowId });
    const child = await startChild(regionRolloutWorkflow, {
      workflowId,
      taskQueue,
      args: [
        {
          releaseWorkflowId,
          releaseId: plan.releaseId,
          service: plan.service,
          region,
          version: plan.version,
          digest,
          previousVersion: progress.previousVersion,
          steps: plan.canary.steps,
          analysis: plan.canary.analysis,
          smokeTest: plan.smokeTest,
          paused: status.paused,
        },
      ],
      // A region left by a terminated release reverts itself instead of staying half-rolled-out.
      parentClosePolicy: 'REQUEST_CANCEL',
      cancellationType: 'WAIT_CANCELLATION_COMPLETED',
      staticSummary: `${region}: ${plan.service}@${plan.version} via ${plan.canary.steps.map((s) => `${s.percent}%`).join(' > ')} > 100% (wave ${wave.index + 1})`,
    });
    running.set(region, child);
    let finished = false;
    const result = child.result().finally(() => {
      finished = true;
    });
    result.catch(() => undefined);
    try {
      await answerDecisions(region, child, progress, () => finished);
    } finally {
      // If this wave was cancelled, wait for the child to finish reverting its region before going on, so the
      // release's own compensations never race with it.
      await CancellationScope.nonCancellable(() => result.catch(() => undefined));
      running.delete(region);
    }
    await result;
    await releaseActivities.recordRegionVersion.executeWithOptions(
      { summary: `${region}: record ${plan.version} in the version ledger` },
      [
        {
          service: plan.service,
          region,
          version: plan.version,
          digest,
          releaseId: plan.releaseId,
          recordedAt: now(),
        },
      ],
    );
    touch(progress, { status: 'succeeded' });
    note(`${region}: done`, region);
  }

  /** Flags a region whose work has gone quiet for longer than expected, once, with what to check. */
  function markStalled(region: string) {
    const progress = regionOf(region);
    if (progress.stalledSince) return;
    progress.stalledSince = now();
    note(
      `${region}: no progress for ${plan.stallAlertSeconds}s; is the region agent serving task queue deploy.${region} running? The release carries on when it is`,
      region,
    );
    enterStage('needs-attention');
  }

  function clearStall(region: string) {
    const progress = regionOf(region);
    if (!progress.stalledSince) return;
    delete progress.stalledSince;
    note(`${region}: progress again`, region);
    if (!status.regions.some((r) => r.stalledSince)) enterStage('deploying');
  }

  /** Awaits work done in a region, flagging the region while it takes longer than the stall threshold. */
  async function watched<T>(region: string, work: Promise<T>): Promise<T> {
    let done = false;
    const settled = work.finally(() => {
      done = true;
    });
    settled.catch(() => undefined);
    while (!(await condition(() => done, plan.stallAlertSeconds * 1000))) markStalled(region);
    clearStall(region);
    return settled;
  }

  /** While a region's rollout runs, answers its requests for a human decision on an inconclusive analysis. */
  async function answerDecisions(
    region: string,
    child: ChildWorkflowHandle<typeof regionRolloutWorkflow>,
    progress: RegionProgress,
    finished: () => boolean,
  ): Promise<void> {
    let heard = heardFrom.get(region) ?? 0;
    for (;;) {
      // One timer per region that fires only when the region is slow: no history cost while reports flow.
      const woke = await condition(
        () => finished() || pendingDecisions.some((d) => d.region === region),
        plan.stallAlertSeconds * 1000,
      );
      if (!woke) {
        if ((heardFrom.get(region) ?? 0) === heard) markStalled(region);
        heard = heardFrom.get(region) ?? 0;
        continue;
      }
      const request = pendingDecisions.find((d) => d.region === region);
      if (finished() || !request) return;
      pendingDecisions.splice(pendingDecisions.indexOf(request), 1);
      const { gate, outcome } = await askForDecision(
        `analysis-${region}-step-${request.step + 1}`,
        `the canary analysis of ${region} at ${request.percent}% was inconclusive (${request.reasons.join('; ')}); approve to continue, reject to roll back`,
      );
      enterStage('deploying');
      const decider = gate.decisions.at(-1)?.by ?? 'nobody (the gate timed out)';
      await child.signal(regionDecisionSignal, { step: request.step, proceed: outcome === 'approved', by: decider });
      if (outcome === 'approved') touch(progress, { status: 'canary' });
    }
  }

  async function runWave(wave: WavePlan, digest: string): Promise<void> {
    note(
      `wave ${wave.index + 1} of ${plan.waves.length} (${wave.environment}): ${wave.regions.map((r) => r.region).join(', ')}`,
    );
    // Read what each region runs before touching any, and register its way back first.
    await Promise.all(
      wave.regions.map(async ({ region, taskQueue }) => {
        const before = await watched(
          region,
          inRegion(taskQueue).quick.inspectRegion.executeWithOptions(
            { summary: `${region}: read the running version` },
            [{ service: plan.service, region }],
          ),
        );
        const progress = regionOf(region);
        if (before.stableVersion) {
          progress.previousVersion = before.stableVersion;
          // The ledger learns what ran before, so an emergency rollback can return to it.
          await releaseActivities.observeRegionVersion.executeWithOptions(
            { summary: `${region}: note ${before.stableVersion} in the version ledger` },
            [{ service: plan.service, region, version: before.stableVersion, recordedAt: now() }],
          );
        }
        if (before.stableVersion !== plan.version) {
          saga.add(regionCompensation(region, taskQueue, wave.index, before.stableVersion));
        }
      }),
    );
    // A region that already runs this version has nothing to roll out (a repeated or re-tried release).
    const toRollOut = wave.regions.filter(({ region }) => {
      const progress = regionOf(region);
      if (progress.previousVersion !== plan.version) return true;
      touch(progress, { status: 'succeeded', trafficPercent: 100 });
      note(`${region}: already runs ${plan.version}; nothing to do`, region);
      return false;
    });
    // It is still smoke-tested: the promotion to the next environment needs proof, not an assumption.
    if (patched('smoke-test-unchanged-regions')) {
      await Promise.all(
        wave.regions
          .filter(({ region }) => !toRollOut.some((r) => r.region === region))
          .map(({ region, taskQueue }) => smokeTestUnchanged(region, taskQueue)),
      );
    }
    const waveScope = new CancellationScope();
    const runs = toRollOut.map(({ region, taskQueue }) =>
      waveScope.run(() => rollOut(region, taskQueue, wave, digest)),
    );
    let firstFailure: Error | undefined;
    for (const run of runs) {
      run.catch((err: unknown) => {
        // One region failing stops its siblings (they revert themselves) instead of letting them carry on.
        firstFailure ??= err instanceof Error ? err : new Error(String(err));
        waveScope.cancel();
      });
    }
    await Promise.allSettled(runs);
    // One audit write per wave, not per region: the regions of a wave finish together, and history stays lean.
    await flushAudit();
    if (firstFailure !== undefined) throw firstFailure;
  }

  async function smokeTestUnchanged(region: string, taskQueue: string): Promise<void> {
    const progress = regionOf(region);
    touch(progress, { status: 'smoke-testing' });
    const smoke = await inRegion(taskQueue).fleet.smokeTest.executeWithOptions(
      {
        summary: `${region}: smoke test ${plan.smokeTest.requests} x GET ${plan.smokeTest.path} (already on ${plan.version})`,
      },
      [{ service: plan.service, region, ...plan.smokeTest }],
    );
    touch(progress, {
      status: smoke.passed ? 'succeeded' : 'failed',
      smokeTest: { passed: smoke.passed, failures: smoke.failures, requests: smoke.requests },
    });
    note(
      `${region}: smoke test ${smoke.passed ? 'passed' : 'failed'} (${smoke.failures} of ${smoke.requests} failed)`,
      region,
    );
    audit('region.smoke-tested', {
      region,
      details: { passed: smoke.passed, failures: smoke.failures, requests: smoke.requests },
    });
    if (!smoke.passed) {
      throw ApplicationFailure.nonRetryable(
        `smoke test of ${plan.version} failed in ${region}, which already ran it: ${smoke.failures} of ${smoke.requests} requests failed`,
        'SmokeTestFailed',
      );
    }
  }

  function regionCompensation(
    region: string,
    taskQueue: string,
    wave: number,
    previous: string | undefined,
  ): Compensation {
    return {
      name: previous ? `revert ${region} to ${previous}` : `${region} had no version before; nothing to revert`,
      group: `wave-${wave}`,
      run: async () => {
        const progress = regionOf(region);
        if (!previous) return;
        await inRegion(taskQueue).compensation.revertRegion.executeWithOptions(
          { summary: `${region}: back to ${previous} (rollback)` },
          [{ service: plan.service, region, version: previous, releaseId: plan.releaseId }],
        );
        if (progress.status === 'succeeded') {
          // The ledger said this region runs the new version; say it does not any more.
          await releaseCompensations.recordRegionVersion.executeWithOptions(
            { summary: `${region}: record ${previous} in the version ledger (rollback)` },
            [
              {
                service: plan.service,
                region,
                version: previous,
                releaseId: plan.releaseId,
                recordedAt: now(),
                rolledBackFrom: plan.version,
                reason: `release ${plan.releaseId} rolled back`,
              },
            ],
          );
        }
        touch(progress, { status: 'reverted', trafficPercent: 0 });
      },
    };
  }

  // ---- the release ----
  const saga = new Saga();
  let rollbackReason = 'rolled back';

  async function run(): Promise<void> {
    if (!admitted) {
      note(`queued behind another release of ${plan.service}`);
      await condition(() => admitted);
      note('admitted: the release ahead of this one finished');
    }
    enterStage('validating');
    note(`release of ${plan.service}@${plan.version} (${plan.changeClass}) requested by ${input.requestedBy}`);
    audit('release.requested', {
      actor: input.requestedBy,
      afterVersion: plan.version,
      ...(input.reason ? { reason: input.reason } : {}),
      details: { changeClass: plan.changeClass, regions: status.regions.map((r) => r.region) },
    });
    const artifactRef = { service: plan.service, version: plan.version, signatureRequired: plan.signatureRequired };
    const artifact = await releaseActivities.resolveArtifact.executeWithOptions(
      { summary: `verify ${plan.service}@${plan.version} (digest${plan.signatureRequired ? ' and signature' : ''})` },
      [artifactRef],
    );
    status.artifactDigest = artifact.digest;
    note(
      `artifact ${plan.service}@${plan.version} is ${artifact.digest}${artifact.signedBy ? `, signed by key ${artifact.signedBy}` : ''}`,
    );
    audit('artifact.verified', {
      details: { digest: artifact.digest, ...(artifact.signedBy ? { signedBy: artifact.signedBy } : {}) },
    });
    const migrations = governed
      ? await releaseActivities.inspectMigrations.executeWithOptions(
          { summary: `list the schema migrations ${plan.service}@${plan.version} carries` },
          [{ service: plan.service, version: plan.version }],
        )
      : [];
    if (migrations.length > 0) await planMigrations(migrations);
    notify('release.started');
    await flushAudit();

    const firstEnvironment = plan.waves[0]?.environment;
    if (firstEnvironment) await respectFreeze(firstEnvironment);

    saga.add({
      name: `demote artifact ${plan.service}@${plan.version}`,
      group: 'artifact',
      run: async () => {
        await releaseCompensations.demoteArtifact.executeWithOptions(
          { summary: `demote ${plan.service}@${plan.version} (rollback)` },
          [{ service: plan.service, version: plan.version, releaseId: plan.releaseId, reason: rollbackReason }],
        );
      },
    });
    await releaseActivities.promoteArtifact.executeWithOptions(
      { summary: `promote ${plan.service}@${plan.version} to released` },
      [{ ...artifactRef, releaseId: plan.releaseId }],
    );
    audit('artifact.promoted', { afterVersion: plan.version });

    for (const wave of plan.waves) {
      for (const gate of plan.gates.filter((g) => g.beforeWave === wave.index)) await passGate(gate);
      if (wave.index > 0) await respectFreeze(wave.environment);
      await waitWhilePaused();
      if (wave.index > 0 && plan.waveBakeSeconds > 0) {
        note(`baking ${plan.waveBakeSeconds}s before wave ${wave.index + 1}`);
        await sleep(plan.waveBakeSeconds * 1000, { summary: `bake ${plan.waveBakeSeconds}s between waves` });
        await waitWhilePaused();
      }
      // Expand migrations run in an environment's database right before its first wave.
      if (plan.waves.find((w) => w.environment === wave.environment)?.index === wave.index) {
        await migrate(wave.environment, 'expand', migrations);
      }
      enterStage('deploying');
      await runWave(wave, artifact.digest);
    }
    // Contract migrations remove what the previous version needed: only once every environment runs the new one.
    // (Plans made before migrations existed have no databaseEnvironments.)
    for (const environment of plan.databaseEnvironments ?? []) await migrate(environment, 'contract', migrations);
  }

  /** Records the migrations the artifact carries per database environment, and dry-runs the expand phase. */
  async function planMigrations(carried: MigrationSummary[]): Promise<void> {
    const list = carried.map((m) => `${m.id} (${m.phase})`).join(', ');
    if (plan.databaseEnvironments.length === 0) {
      throw ApplicationFailure.nonRetryable(
        `${plan.service}@${plan.version} carries schema migrations (${list}), but no environment of ${plan.service} has a database (database: true in the catalog)`,
        'MigrationsWithoutDatabase',
      );
    }
    status.migrations = plan.databaseEnvironments.flatMap((environment) =>
      (['expand', 'contract'] as const).flatMap((phase) => {
        const ids = carried.filter((m) => m.phase === phase).map((m) => m.id);
        return ids.length > 0 ? [{ environment, phase, ids, state: 'pending' as const }] : [];
      }),
    );
    note(`${plan.service}@${plan.version} carries schema migrations: ${list}`);
    for (const progress of status.migrations.filter((m) => m.phase === 'expand')) {
      const dryRun = await releaseActivities.dryRunMigrations.executeWithOptions(
        { summary: `dry run of the expand migrations in ${progress.environment} (rolled back)` },
        [{ ...migrationInput(progress.environment, 'expand') }],
      );
      // What this release will apply (those the previous releases applied are already there).
      progress.ids = dryRun.wouldApply;
      progress.changes = dryRun.changes;
      note(
        `expand migrations in ${progress.environment} would ${dryRun.changes.length > 0 ? dryRun.changes.join('; ') : 'change nothing'} (dry run, rolled back)`,
      );
    }
  }

  function migrationInput(environment: string, phase: 'expand' | 'contract') {
    return { service: plan.service, version: plan.version, environment, phase, releaseId: plan.releaseId };
  }

  /** Runs one phase of migrations in an environment's database, its way back registered first. */
  async function migrate(
    environment: string,
    phase: 'expand' | 'contract',
    carried: MigrationSummary[],
  ): Promise<void> {
    const progress = status.migrations?.find((m) => m.environment === environment && m.phase === phase);
    if (!progress || progress.ids.length === 0) return;
    const ids = progress.ids.join(', ');
    const reversible = carried.filter((m) => progress.ids.includes(m.id)).every((m) => m.reversible);
    saga.add({
      name:
        phase === 'expand'
          ? `revert expand migrations ${ids} in ${environment}`
          : `undo contract migrations ${ids} in ${environment}`,
      group: `migrations-${environment}-${phase}`,
      // A contract migration removes what the previous version needs, and a migration without a down file has no
      // way back: neither is undone automatically.
      irreversible: phase === 'contract' || !reversible,
      run: async () => {
        const result = await releaseCompensations.revertMigrations.executeWithOptions(
          { summary: `revert the ${phase} migrations in ${environment} (rollback)` },
          [migrationInput(environment, phase)],
        );
        progress.state = 'reverted';
        audit('migration.reverted', { details: { environment, phase, ids: result.reverted } });
        note(
          `${phase} migrations reverted in ${environment}: ${result.reverted.join(', ') || 'none had been applied'}`,
        );
      },
    });
    try {
      const result = await migrationActivities.applyMigrations.executeWithOptions(
        { summary: `${phase} migrations ${ids} in ${environment}` },
        [migrationInput(environment, phase)],
      );
      progress.state = 'applied';
      audit('migration.applied', { details: { environment, phase, ids: result.applied } });
      note(`${phase} migrations applied in ${environment}: ${result.applied.join(', ') || 'all were already applied'}`);
    } catch (err) {
      progress.state = 'failed';
      audit('migration.failed', { reason: innermostMessage(err), details: { environment, phase } });
      throw err;
    } finally {
      await flushAudit();
    }
  }

  try {
    await main.run(run);
  } catch (err) {
    // Only a release failure (a Temporal failure: an activity, a child, a gate, an abort) is rolled back. Any other
    // error is a bug in this code: it fails the workflow task, which Temporal retries until a fix is deployed, and
    // the release waits, visibly, instead of being undone by mistake.
    if (!(err instanceof TemporalFailure)) throw err;
    compensating = true;
    if (status.paused) {
      status.paused = false;
      note('no longer paused: rolling back');
    }
    const reason = abort ? `aborted by ${abort.by}: ${abort.reason}` : innermostMessage(err);
    const type = abort ? 'ReleaseAborted' : failureType(err);
    rollbackReason = reason;
    enterStage('rolling-back');
    note(`rolling back: ${reason}`);
    audit('release.rolling-back', { reason });
    const allRan = await CancellationScope.nonCancellable(() => saga.compensate(compensationHooks()));
    const ranSomething = status.compensations.length > 0;
    const result: ReleaseResult = allRan && ranSomething ? 'rolled-back' : 'failed';
    const finalReason = allRan ? reason : `${reason}; some compensations did not run (see compensations)`;
    note(`release ${result}: ${finalReason}`);
    audit(`release.${result}`, { reason: finalReason });
    // The audit trail has the whole story before the status says the release is over.
    await CancellationScope.nonCancellable(() => flushAudit());
    enterStage(result);
    status.outcome = { result, reason: finalReason, finishedAt: now() };
    await CancellationScope.nonCancellable(async () => {
      notify(result === 'rolled-back' ? 'release.rolled-back' : 'release.failed', { reason: finalReason });
      await Promise.all(notifications);
    });
    throw ApplicationFailure.create({ type, message: finalReason, nonRetryable: true, details: [status] });
  }

  note(`release of ${plan.service}@${plan.version} succeeded in ${status.regions.length} regions`);
  audit('release.succeeded', { afterVersion: plan.version });
  await flushAudit();
  enterStage('succeeded');
  status.outcome = { result: 'succeeded', finishedAt: now() };
  notify('release.succeeded');
  await Promise.all(notifications);
  return status;

  function compensationHooks() {
    const record = (compensation: Compensation) => {
      const existing = status.compensations.find((c) => c.name === compensation.name);
      if (existing) return existing;
      const created = { name: compensation.name, status: 'running' as const, at: now() };
      status.compensations.push(created);
      return created;
    };
    return {
      onStart: (c: Compensation) => {
        Object.assign(record(c), { status: 'running', at: now() });
      },
      onDone: (c: Compensation) => {
        Object.assign(record(c), { status: 'done', at: now() });
        note(`compensation done: ${c.name}`);
        audit('compensation.done', { reason: c.name });
        void flushAudit();
      },
      onLeft: (c: Compensation, why: string, handledByHuman: boolean) => {
        Object.assign(record(c), { status: handledByHuman ? 'done' : 'skipped', at: now(), error: why });
        note(`compensation ${handledByHuman ? 'handled by a human' : 'left undone'}: ${c.name} (${why})`);
        audit(handledByHuman ? 'compensation.handled-by-human' : 'compensation.left-undone', {
          reason: `${c.name}: ${why}`,
        });
        void flushAudit();
      },
      askHuman: async (c: Compensation, problem: string) => {
        Object.assign(record(c), { status: 'needs-human', at: now(), error: problem });
        const gate: Gate = {
          id: `intervention-${status.gates.filter((g) => g.kind === 'intervention').length + 1}`,
          kind: 'intervention',
          description: c.irreversible
            ? `${problem}; approve once it has been handled by hand, reject to leave it undone`
            : `${problem}; approve to try again, reject to leave it undone (fix it by hand)`,
          status: 'pending',
          quorum: 1,
          roles: [...INTERVENTION_ROLES],
          decisions: [],
        };
        status.gates.push(gate);
        const outcome = await waitForGate(gate, 'needs-attention');
        enterStage('rolling-back');
        return outcome === 'approved' ? ('retry' as const) : ('leave' as const);
      },
    };
  }
}

/** A gate's status as it is now (update handlers change it while the workflow waits). */
function statusOf(gate: Gate): Gate['status'] {
  return gate.status;
}

/** The failure type of the innermost application failure (CanaryFailed, ApprovalRejected, ...). */
function failureType(err: unknown): string {
  let current: unknown = err;
  let type = 'ReleaseFailed';
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure && current.type) type = current.type;
    if (isCancellation(current)) type = 'ReleaseCancelled';
    current = current.cause;
  }
  return type;
}
