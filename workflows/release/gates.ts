// Gates: the human decisions of a release. Planned approval gates (quorum, roles, timeout by change class), decision
// gates for what the engine should not guess (config drift, an inconclusive canary), and the promotion gate between
// environments (smoke tests passed, config parity).
import { ApplicationFailure, condition, patched } from '@temporalio/workflow';
import { releaseFailure } from '../failures';
import { approvalsOf, checkDecision, recordDecision, type DecisionKind, type Gate } from '../../domain/approval';
import type { GatePlan } from '../../domain/plan';
import type { ReleaseStage } from '../../domain/release-status';
import type { DecisionInput } from '../messages';
import { now } from '../journal';
import { releaseActivities } from './activities';
import { runCheckGate } from './checks';
import { judgeEvidenceGate } from './evidence';
import type { ReleaseRun } from './run-state';

/** Roles allowed to decide on an inconclusive canary or on config drift. */
const ANALYSIS_ROLES = ['approver', 'sre'] as const;

/**
 * Refuses a decision that may not be taken, as an ApplicationFailure typed with the refusal's code. Thrown from an
 * update validator, the refusal goes back to the caller and leaves no trace in history.
 */
export function refuseIfNotAllowed(run: ReleaseRun, decision: DecisionKind, request: DecisionInput): void {
  const refusal = checkDecision({
    gates: run.status.gates,
    gateId: request.gate,
    principal: request.principal,
    requestedBy: run.input.requestedBy,
    authors: run.input.authors,
    decision,
    comment: request.comment,
  });
  if (refusal) throw ApplicationFailure.create({ type: refusal.code, message: refusal.message });
}

/** Records a decision on a waiting gate, and closes the gate on a rejection or once its quorum is met. */
export function decide(run: ReleaseRun, decision: DecisionKind, request: DecisionInput): Gate {
  // Checked again in the handler in case two decisions raced within one workflow task.
  refuseIfNotAllowed(run, decision, request);
  const gate = run.status.gates.find((g) => g.id === request.gate);
  if (!gate) throw ApplicationFailure.create({ type: 'UnknownGate', message: `no gate ${request.gate}` });
  run.messages.accept(request);
  if (request.authorization) run.decisionMessages.set(gate.id, request);
  recordDecision(gate, decision, request.principal.id, request.comment, now());
  const verb = decision === 'approve' ? 'approved' : 'rejected';
  run.note(`${request.principal.id} ${verb} gate ${gate.id}${request.comment ? `: ${request.comment}` : ''}`);
  run.audit(`gate.${verb}`, {
    actor: request.principal.id,
    gate: gate.id,
    ...(request.comment ? { reason: request.comment } : {}),
  });
  return gate;
}

function closeGate(gate: Gate, outcome: Gate['status']): void {
  gate.status = outcome;
  gate.closedAt = now();
}

/** A gate's status as it is now (update handlers change it while the workflow waits). */
function statusOf(gate: Gate): Gate['status'] {
  return gate.status;
}

/** Releases from before it replay with an unlabelled gate timer. */
const LABELLED_GATE_TIMER_PATCH = 'labelled-gate-timer';

/** Opens a gate and waits for its quorum, a rejection, or its timeout. */
export async function waitForGate(run: ReleaseRun, gate: Gate, stage: ReleaseStage): Promise<Gate['status']> {
  gate.status = 'waiting';
  gate.openedAt = now();
  run.enterStage(stage);
  run.note(`gate ${gate.id} is waiting: ${gate.description} (needs ${gate.quorum} of ${gate.roles.join('/')})`);
  run.audit('gate.opened', { gate: gate.id, reason: gate.description });
  run.record.notify('gate.waiting', { gate: gate.id, reason: gate.description });
  await run.record.flush();
  let decided = true;
  if (gate.timeoutSeconds && patched(LABELLED_GATE_TIMER_PATCH)) {
    // The Temporal UI shows the timer with this label instead of a bare "Timer 2 hours".
    decided = await condition(() => gate.status !== 'waiting', gate.timeoutSeconds * 1000, {
      summary: `gate ${gate.id}: waits ${gate.timeoutSeconds}s for ${gate.quorum} approval(s) from ${gate.roles.join(' or ')}`,
    });
  } else if (gate.timeoutSeconds) {
    decided = await condition(() => gate.status !== 'waiting', gate.timeoutSeconds * 1000);
  } else await condition(() => gate.status !== 'waiting');
  if (!decided) {
    closeGate(gate, 'timed-out');
    run.note(
      `gate ${gate.id} timed out after ${gate.timeoutSeconds}s with ${approvalsOf(gate).length} of ${gate.quorum} approvals`,
    );
    run.audit('gate.timed-out', { gate: gate.id });
  } else if (statusOf(gate) === 'approved') {
    run.note(`gate ${gate.id} approved by ${approvalsOf(gate).join(', ')}`);
  }
  await run.record.flush();
  return statusOf(gate);
}

/** Opens a gate where one approver or SRE decides what the engine should not guess (drift, an inconclusive canary). */
export async function askForDecision(
  run: ReleaseRun,
  id: string,
  description: string,
): Promise<{ gate: Gate; outcome: Gate['status'] }> {
  const gate: Gate = {
    id,
    kind: 'analysis',
    description,
    status: 'pending',
    quorum: 1,
    roles: [...ANALYSIS_ROLES],
    timeoutSeconds: run.plan.decisionTimeoutSeconds,
    decisions: [],
  };
  run.status.gates.push(gate);
  return { gate, outcome: await waitForGate(run, gate, 'needs-decision') };
}

/**
 * Opens a waiver gate for what the engine found wrong and a person may let pass with a reason (evidence that fails
 * its policy, an external check that did not answer): its planned id, roles and wait. Returns the outcome and the
 * decision that closed it.
 */
export async function askForWaiver(
  run: ReleaseRun,
  planned: GatePlan,
  kind: 'evidence' | 'check',
  description: string,
): Promise<{ outcome: Gate['status']; decision: Gate['decisions'][number] | undefined }> {
  const gate: Gate = {
    id: planned.id,
    kind,
    description,
    status: 'pending',
    quorum: 1,
    roles: planned.roles,
    timeoutSeconds: planned.timeoutSeconds,
    decisions: [],
  };
  run.status.gates.push(gate);
  const outcome = await waitForGate(run, gate, 'needs-decision');
  return { outcome, decision: gate.decisions.at(-1) };
}

/** Passes a planned gate: proof from the previous environment for a promotion, the quorum for an approval. */
export async function passGate(run: ReleaseRun, planned: GatePlan): Promise<void> {
  const { plan, status } = run;
  if (planned.kind === 'evidence') {
    await judgeEvidenceGate(run, planned);
    return;
  }
  if (planned.kind === 'check') {
    await runCheckGate(run, planned);
    return;
  }
  if (planned.kind === 'promotion') {
    const previousEnv = plan.waves.find((w) => w.index === planned.beforeWave - 1)?.environment;
    const unproven = status.regions.filter((r) => r.environment === previousEnv && !r.smokeTest?.passed);
    if (unproven.length > 0) {
      throw releaseFailure(
        'PromotionBlocked',
        `cannot promote to the next environment: ${unproven.map((r) => r.region).join(', ')} did not pass their smoke tests`,
      );
    }
    if (previousEnv && patched('config-parity')) await checkParity(run, planned, previousEnv);
    run.note(`gate ${planned.id} passed: ${planned.description}`);
    return;
  }
  const gate = status.gates.find((g) => g.id === planned.id);
  if (!gate) return;
  const outcome = await waitForGate(run, gate, 'awaiting-approval');
  if (outcome === 'rejected') {
    const rejection = gate.decisions.find((d) => d.decision === 'reject');
    throw releaseFailure(
      'ApprovalRejected',
      `gate ${gate.id} was rejected by ${rejection?.by ?? 'someone'}${rejection?.comment ? `: ${rejection.comment}` : ''}`,
    );
  }
  if (outcome === 'timed-out') {
    throw releaseFailure(
      'ApprovalTimedOut',
      `gate ${gate.id} timed out after ${gate.timeoutSeconds}s with ${approvalsOf(gate).length} of ${gate.quorum} approvals`,
    );
  }
}

/**
 * Compares the config keys of the environment the release leaves and the one it enters. Drift (a key one has and
 * the other lacks) is what breaks a version that worked one environment earlier, so a human decides: approve to
 * promote anyway, reject (or no answer) to roll back.
 */
async function checkParity(run: ReleaseRun, planned: GatePlan, previousEnv: string): Promise<void> {
  const { plan } = run;
  const nextEnv = plan.waves.find((w) => w.index === planned.beforeWave)?.environment ?? '';
  const parity = await releaseActivities.checkConfigParity.executeWithOptions(
    { summary: `compare the config keys of ${previousEnv} and ${nextEnv}` },
    [{ service: plan.service, base: previousEnv, other: nextEnv }],
  );
  run.audit('config.parity-checked', {
    reason: parity.description,
    details: { base: previousEnv, other: nextEnv, onlyInBase: parity.onlyInBase, onlyInOther: parity.onlyInOther },
  });
  if (parity.ok) {
    run.note(`config parity: ${parity.description}`);
    return;
  }
  const { gate, outcome } = await askForDecision(
    run,
    `config-parity-${nextEnv}`,
    `config drift: ${parity.description}; approve to promote to ${nextEnv} anyway, reject to roll back`,
  );
  if (outcome !== 'approved') {
    const by = gate.decisions.find((d) => d.decision === 'reject');
    throw releaseFailure(
      'ConfigDrift',
      `config drift between ${previousEnv} and ${nextEnv} (${parity.description}); ${by ? `rejected by ${by.by}${by.comment ? `: ${by.comment}` : ''}` : `nobody decided within ${gate.timeoutSeconds}s`}`,
    );
  }
}
