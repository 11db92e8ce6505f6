// Gates and who may decide on them. The release workflow's update validators call checkDecision, so a refused
// decision is answered to the caller and never enters the workflow's history.
import type { ChangeClass } from './release-request';
import { hasAnyRole } from './principal';
import type { Role } from './roles';

/** approval: a planned human gate; analysis: a canary that could not decide; intervention: a rollback needs a human. */
/** evidence: a waiver of evidence that fails its policy (issue 16), which needs a reason. */
/** check: going on without an external check that did not answer in time (issue 16), which needs a reason too. */
export type GateKind = 'approval' | 'analysis' | 'intervention' | 'evidence' | 'check';
export type GateStatus = 'pending' | 'waiting' | 'approved' | 'rejected' | 'timed-out';
export type DecisionKind = 'approve' | 'reject';

export interface GateDecision {
  by: string;
  decision: DecisionKind;
  comment?: string;
  at: string;
}

export interface Gate {
  id: string;
  kind: GateKind;
  /** What approving means, in plain words. */
  description: string;
  status: GateStatus;
  quorum: number;
  roles: Role[];
  /** How long the gate waits once open; undefined waits for as long as it takes. */
  timeoutSeconds?: number;
  openedAt?: string;
  closedAt?: string;
  decisions: GateDecision[];
}

export interface ApprovalPolicy {
  quorum: number;
  roles: Role[];
  timeoutSeconds: number;
}

export interface ApprovalSettings {
  timeoutSeconds: number;
  normalQuorum: number;
  emergencyQuorum: number;
}

/** The human gate before the first production wave, by change class: none for standard changes. */
export function productionGatePolicy(changeClass: ChangeClass, settings: ApprovalSettings): ApprovalPolicy | undefined {
  switch (changeClass) {
    case 'standard':
      return undefined;
    case 'normal':
      return { quorum: settings.normalQuorum, roles: ['approver'], timeoutSeconds: settings.timeoutSeconds };
    case 'emergency':
      return { quorum: settings.emergencyQuorum, roles: ['approver'], timeoutSeconds: settings.timeoutSeconds };
  }
}

/** Records a decision on a waiting gate, and closes the gate on a rejection or once its quorum is met. */
export function recordDecision(
  gate: Gate,
  decision: DecisionKind,
  by: string,
  comment: string | undefined,
  at: string,
): void {
  gate.decisions.push({ by, decision, ...(comment ? { comment } : {}), at });
  const closed = decision === 'reject' ? 'rejected' : approvalsOf(gate).length >= gate.quorum ? 'approved' : undefined;
  if (closed) {
    gate.status = closed;
    gate.closedAt = at;
  }
}

/** Distinct principals who approved the gate. */
export function approvalsOf(gate: Gate): string[] {
  return [...new Set(gate.decisions.filter((d) => d.decision === 'approve').map((d) => d.by))];
}

export interface DecisionRequest {
  gates: readonly Gate[];
  gateId: string;
  principal: { id: string; roles: readonly Role[] };
  /** Principal that requested the release: they may not decide on its gates (separation of duties). */
  requestedBy: string;
  /** The people who wrote the change (as the pipeline named them): they may not decide on its gates either. */
  authors?: readonly string[];
  decision: DecisionKind;
  /** The decider's comment: a waiver (approving an evidence gate) must give one. */
  comment?: string | undefined;
}

/** Why a decision was refused: the API turns these into 404, 409, 403 and 400. */
export type RefusalCode =
  'UnknownGate' | 'GateNotWaiting' | 'MissingRole' | 'SelfApproval' | 'DuplicateDecision' | 'ReasonRequired';

export interface Refusal {
  code: RefusalCode;
  /** In words for the person who tried. */
  message: string;
}

/** Why this decision must be refused; undefined when it may be taken. */
export function checkDecision({
  gates,
  gateId,
  principal,
  requestedBy,
  authors = [],
  decision,
  comment,
}: DecisionRequest): Refusal | undefined {
  const gate = gates.find((g) => g.id === gateId);
  if (!gate) {
    const known = gates.map((g) => g.id);
    const list = known.length ? ` (its gates: ${known.join(', ')})` : ' (it has no gates)';
    return { code: 'UnknownGate', message: `there is no gate "${gateId}" in this release${list}` };
  }
  if (gate.status !== 'waiting') {
    const message =
      gate.status === 'pending'
        ? `gate ${gate.id} is not waiting for decisions yet: ${gate.description}`
        : `gate ${gate.id} is not waiting for decisions: it is already ${gate.status}`;
    return { code: 'GateNotWaiting', message };
  }
  if (!hasAnyRole({ roles: [...principal.roles] }, gate.roles)) {
    const message = `${principal.id} cannot ${decision} gate ${gate.id}: it needs the ${gate.roles.join(' or ')} role`;
    return { code: 'MissingRole', message };
  }
  if (principal.id === requestedBy) {
    const message = `you cannot ${decision} your own release (${requestedBy} requested it); another person must decide`;
    return { code: 'SelfApproval', message };
  }
  if (authors.includes(principal.id)) {
    const message = `you cannot ${decision} a change you wrote (${principal.id} is among its authors: ${authors.join(', ')}); another person must decide`;
    return { code: 'SelfApproval', message };
  }
  if ((gate.kind === 'evidence' || gate.kind === 'check') && decision === 'approve' && !comment?.trim()) {
    return {
      code: 'ReasonRequired',
      message: `a waiver of gate ${gate.id} needs a reason: approve it with a comment saying why the release may go on`,
    };
  }
  if (gate.decisions.some((d) => d.by === principal.id)) {
    return { code: 'DuplicateDecision', message: `${principal.id} has already decided on gate ${gate.id}` };
  }
  return undefined;
}
