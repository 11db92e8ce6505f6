// Post-incident records (issue 16): a release that rolled back or failed, and every emergency rollback, opens one;
// people add action items to it, close them, reassign it, and close it once every item is closed.
//
// The audit trail is the record's only store. The workflows append `incident.opened` when a release or rollback ends
// and `incident.*` notes for what people do (through the API); incidents are folded from those records here, so a
// record cannot say anything the hash-chained trail does not. Pure: the workflows, the API and the tests share it.
import type { AuditEntry, AuditEvent } from './audit';
import type { ReleaseStatus } from './release-status';

export type IncidentKind = 'release-rolled-back' | 'release-failed' | 'emergency-rollback';

/** The audit actions of incidents: what an incident list reads. */
export const INCIDENT_ACTIONS = [
  'incident.opened',
  'incident.action-added',
  'incident.action-closed',
  'incident.assigned',
  'incident.closed',
] as const;
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number];

/** What a workflow knows when it opens an incident. */
export interface IncidentOpening {
  kind: IncidentKind;
  /** Who answers for it until someone reassigns it: the requester of the release or rollback. */
  owner: string;
  /** Why it ended as it did: the failure reason. */
  summary: string;
  version?: string;
  /** What the canary analyses and smoke tests found, one line each. */
  verdicts: string[];
  /** What people (and monitoring) decided on the way: gate decisions, an abort, an alert, the rollback's request. */
  decisions: string[];
}

/** A change people make to an incident, as the API signs it and incidentNoteWorkflow records it. */
export type IncidentNote =
  | { kind: 'action-added'; actionId: string; text: string; owner: string }
  | { kind: 'action-closed'; actionId: string; resolution: string }
  | { kind: 'assigned'; owner: string }
  | { kind: 'closed'; summary: string };

export interface IncidentActionItem {
  id: string;
  text: string;
  owner: string;
  status: 'open' | 'closed';
  addedBy: string;
  addedAt: string;
  closedBy?: string;
  closedAt?: string;
  resolution?: string;
}

/** One audit event of the release or rollback, or of the incident itself, as the record shows it. */
export interface IncidentTimelineEntry {
  at: string;
  actor: string;
  action: string;
  region?: string;
  reason?: string;
}

export interface Incident {
  /** The release id or the rollback id: one incident per ending. */
  id: string;
  service: string;
  kind: IncidentKind;
  releaseId?: string;
  rollbackId?: string;
  version?: string;
  openedAt: string;
  owner: string;
  summary: string;
  verdicts: string[];
  decisions: string[];
  /** The audit events of the release or rollback, then of the incident, in the order they were written. */
  timeline: IncidentTimelineEntry[];
  actionItems: IncidentActionItem[];
  status: 'open' | 'closed';
  closedBy?: string;
  closedAt?: string;
  /** What the review concluded, given when it was closed. */
  closingSummary?: string;
}

/** Longest line kept in an incident's verdicts and decisions (a canary's reasons carry all their numbers). */
const LINE_LIMIT = 400;
/** Most lines kept of each: a release over many regions and steps is summarised, not copied. */
const LIST_LIMIT = 40;

/** `text` cut to `limit` characters on a code point boundary (a cut surrogate pair would not store). */
export function clip(text: string, limit = LINE_LIMIT): string {
  const points = Array.from(text);
  return points.length <= limit ? text : `${points.slice(0, limit - 1).join('')}…`;
}

function capped(lines: string[]): string[] {
  const clipped = lines.map((line) => clip(line));
  if (clipped.length <= LIST_LIMIT) return clipped;
  return [...clipped.slice(0, LIST_LIMIT - 1), `… and ${clipped.length - LIST_LIMIT + 1} more`];
}

/** The incident a release opens when it ends rolled back or failed (an aborted release changed nothing: none). */
export function releaseIncident(
  status: Pick<ReleaseStatus, 'requestedBy' | 'version' | 'regions' | 'gates'>,
  ending: {
    result: 'rolled-back' | 'failed';
    reason: string;
    abort?: { by: string; reason: string } | undefined;
    alert?: { by: string; alertname: string; region?: string | undefined; reason?: string | undefined } | undefined;
  },
): IncidentOpening {
  const verdicts = status.regions.flatMap((region) => [
    ...region.verdicts.map(
      (v) => `${region.region} at ${v.percent}%: ${v.verdict}${v.reasons[0] ? ` (${v.reasons.join('; ')})` : ''}`,
    ),
    ...(region.smokeTest && !region.smokeTest.passed
      ? [`${region.region}: smoke test failed (${region.smokeTest.failures} of ${region.smokeTest.requests} requests)`]
      : []),
  ]);
  const decisions = status.gates.flatMap((gate) => [
    ...gate.decisions.map(
      (d) =>
        `${gate.id}: ${d.decision === 'approve' ? 'approved' : 'rejected'} by ${d.by}${d.comment ? `: ${d.comment}` : ''}`,
    ),
    ...(gate.status === 'timed-out' ? [`${gate.id}: timed out without a decision`] : []),
  ]);
  if (ending.alert) {
    const { alertname, by, region, reason } = ending.alert;
    decisions.push(`alert ${alertname}${region ? ` in ${region}` : ''} from ${by}${reason ? `: ${reason}` : ''}`);
  }
  if (ending.abort) decisions.push(`aborted by ${ending.abort.by}: ${ending.abort.reason}`);
  return {
    kind: ending.result === 'rolled-back' ? 'release-rolled-back' : 'release-failed',
    owner: status.requestedBy,
    summary: clip(ending.reason, 2000),
    version: status.version,
    verdicts: capped(verdicts),
    decisions: capped(decisions),
  };
}

/** The incident every emergency rollback opens. */
export function rollbackIncident(rollback: {
  requestedBy: string;
  reason: string;
  stage: string;
  regions: { region: string; status: string; from?: string; to?: string; why?: string; error?: string }[];
  avoid?: { version: string; why: string }[] | undefined;
  train?: string | undefined;
}): IncidentOpening {
  const failed = rollback.regions.filter((r) => r.status === 'failed').map((r) => r.region);
  const undone = [...new Set(rollback.regions.flatMap((r) => (r.status === 'reverted' && r.from ? [r.from] : [])))];
  return {
    kind: 'emergency-rollback',
    owner: rollback.requestedBy,
    summary: clip(
      `emergency rollback by ${rollback.requestedBy}: ${rollback.reason}; ${
        failed.length > 0 ? `it failed in ${failed.join(', ')}` : 'every region is on its last known-good version'
      }`,
      2000,
    ),
    ...(undone.length === 1 ? { version: undone[0] } : {}),
    verdicts: [],
    decisions: capped([
      `emergency rollback requested by ${rollback.requestedBy}: ${rollback.reason}`,
      ...(rollback.train ? [`train ${rollback.train} undoes its member`] : []),
      ...(rollback.avoid ?? []).map((a) => `not back to ${a.version}: ${a.why}`),
    ]),
  };
}

/** The fields of the `incident.opened` audit event (its id, time, service and release id are the writer's). */
export function incidentOpenedFields(opening: IncidentOpening): Omit<AuditEvent, 'id' | 'at' | 'action' | 'service'> {
  return {
    actor: 'engine',
    reason: opening.summary,
    ...(opening.version ? { afterVersion: opening.version } : {}),
    details: {
      kind: opening.kind,
      owner: opening.owner,
      verdicts: opening.verdicts,
      decisions: opening.decisions,
    },
  };
}

/** The audit event of a note: filed under the incident's id (as releaseId), so reading the incident reads it too. */
export function incidentNoteEvent(
  note: IncidentNote,
  ref: { id: string; at: string; by: string; service: string; incidentId: string },
): AuditEvent {
  const base = { id: ref.id, at: ref.at, actor: ref.by, service: ref.service, releaseId: ref.incidentId };
  switch (note.kind) {
    case 'action-added':
      return {
        ...base,
        action: 'incident.action-added',
        reason: note.text,
        details: { actionId: note.actionId, text: note.text, owner: note.owner },
      };
    case 'action-closed':
      return {
        ...base,
        action: 'incident.action-closed',
        reason: note.resolution,
        details: { actionId: note.actionId, resolution: note.resolution },
      };
    case 'assigned':
      return { ...base, action: 'incident.assigned', details: { owner: note.owner } };
    case 'closed':
      return { ...base, action: 'incident.closed', reason: note.summary, details: { summary: note.summary } };
  }
}

const KINDS = new Set<string>(['release-rolled-back', 'release-failed', 'emergency-rollback']);

function text(details: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = details?.[key];
  return typeof value === 'string' ? value : undefined;
}

function lines(details: Record<string, unknown> | undefined, key: string): string[] {
  const value = details?.[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * Whether a record belongs to the story of an incident of `kind`: a release id and a rollback id of one service may
 * be equal, and the writer's workflow id (the record id's prefix) tells their records apart.
 */
function belongsTo(kind: IncidentKind, record: AuditEntry): boolean {
  const writer = record.id.split('/', 1)[0];
  return kind === 'emergency-rollback' ? writer !== 'release' : writer !== 'rollback';
}

/**
 * Folds audit records (any order of services, in the trail's order) into incidents, open ones first, newest first.
 * Notes about an incident never opened are ignored; a close while action items are open does not close it, and an
 * action item added after a close opens the incident again.
 */
export function foldIncidents(records: readonly AuditEntry[]): Incident[] {
  const incidents = new Map<string, Incident>();
  const key = (service: string, id: string) => `${service}\u0000${id}`;
  for (const record of records) {
    if (record.action !== 'incident.opened' || !record.releaseId) continue;
    const kind = text(record.details, 'kind');
    if (!kind || !KINDS.has(kind) || incidents.has(key(record.service, record.releaseId))) continue;
    const incidentKind = kind as IncidentKind;
    const id = record.releaseId;
    incidents.set(key(record.service, id), {
      id,
      service: record.service,
      kind: incidentKind,
      ...(incidentKind === 'emergency-rollback' ? { rollbackId: id } : { releaseId: id }),
      ...(record.afterVersion ? { version: record.afterVersion } : {}),
      openedAt: record.at,
      owner: text(record.details, 'owner') ?? record.actor,
      summary: record.reason ?? '',
      verdicts: lines(record.details, 'verdicts'),
      decisions: lines(record.details, 'decisions'),
      timeline: [],
      actionItems: [],
      status: 'open',
    });
  }
  for (const record of records) {
    const incident = record.releaseId ? incidents.get(key(record.service, record.releaseId)) : undefined;
    if (!incident || !belongsTo(incident.kind, record)) continue;
    incident.timeline.push({
      at: record.at,
      actor: record.actor,
      action: record.action,
      ...(record.region ? { region: record.region } : {}),
      ...(record.reason ? { reason: record.reason } : {}),
    });
    apply(incident, record);
  }
  return [...incidents.values()].sort(
    (a, b) => (a.status === b.status ? 0 : a.status === 'open' ? -1 : 1) || b.openedAt.localeCompare(a.openedAt),
  );
}

function apply(incident: Incident, record: AuditEntry): void {
  const { details } = record;
  switch (record.action) {
    case 'incident.action-added': {
      const id = text(details, 'actionId');
      if (!id || incident.actionItems.some((item) => item.id === id)) return;
      incident.actionItems.push({
        id,
        text: text(details, 'text') ?? record.reason ?? '',
        owner: text(details, 'owner') ?? incident.owner,
        status: 'open',
        addedBy: record.actor,
        addedAt: record.at,
      });
      if (incident.status === 'closed') reopen(incident);
      return;
    }
    case 'incident.action-closed': {
      const item = incident.actionItems.find((i) => i.id === text(details, 'actionId'));
      if (!item || item.status === 'closed') return;
      item.status = 'closed';
      item.closedBy = record.actor;
      item.closedAt = record.at;
      item.resolution = text(details, 'resolution') ?? record.reason ?? '';
      return;
    }
    case 'incident.assigned': {
      const owner = text(details, 'owner');
      if (owner) incident.owner = owner;
      return;
    }
    case 'incident.closed': {
      if (incident.status === 'closed' || openItems(incident).length > 0) return;
      incident.status = 'closed';
      incident.closedBy = record.actor;
      incident.closedAt = record.at;
      incident.closingSummary = text(details, 'summary') ?? record.reason ?? '';
      return;
    }
    default:
      return;
  }
}

function reopen(incident: Incident): void {
  incident.status = 'open';
  delete incident.closedBy;
  delete incident.closedAt;
  delete incident.closingSummary;
}

/** The action items still open. */
export function openItems(incident: Pick<Incident, 'actionItems'>): IncidentActionItem[] {
  return incident.actionItems.filter((item) => item.status === 'open');
}

export interface IncidentRefusal {
  code:
    'INCIDENT_CLOSED' | 'ACTION_ITEM_NOT_FOUND' | 'ACTION_ITEM_CLOSED' | 'ACTION_ITEM_EXISTS' | 'INCIDENT_OPEN_ACTIONS';
  message: string;
}

/**
 * Why `note` cannot be made to `incident` as it stands, in words that name the field; undefined when it can. An action
 * item sent again with the same id and text (a retried request) is not refused: its record's id makes it count once.
 */
export function refuseNote(incident: Incident, note: IncidentNote): IncidentRefusal | undefined {
  const name = `incident ${incident.id} of ${incident.service}`;
  if (incident.status === 'closed' && note.kind !== 'action-added') {
    return {
      code: 'INCIDENT_CLOSED',
      message: `id: ${name} was closed by ${incident.closedBy ?? '?'}; add an action item to open it again`,
    };
  }
  switch (note.kind) {
    case 'action-added': {
      const same = incident.actionItems.find((item) => item.id === note.actionId);
      if (same && same.text !== note.text) {
        return {
          code: 'ACTION_ITEM_EXISTS',
          message: `actionId: ${name} already has an action item ${note.actionId} ("${clip(same.text, 60)}"); choose another id`,
        };
      }
      return undefined;
    }
    case 'action-closed': {
      const item = incident.actionItems.find((i) => i.id === note.actionId);
      if (!item) {
        const ids = incident.actionItems.map((i) => i.id).join(', ') || 'none';
        return {
          code: 'ACTION_ITEM_NOT_FOUND',
          message: `actionId: ${name} has no action item ${note.actionId} (its items: ${ids})`,
        };
      }
      if (item.status === 'closed') {
        return {
          code: 'ACTION_ITEM_CLOSED',
          message: `actionId: action item ${note.actionId} of ${name} was already closed by ${item.closedBy ?? '?'}`,
        };
      }
      return undefined;
    }
    case 'assigned':
      return undefined;
    case 'closed': {
      const open = openItems(incident);
      if (open.length === 0) return undefined;
      const listed = open.map((i) => `${i.id} "${clip(i.text, 60)}" (${i.owner})`).join(', ');
      return {
        code: 'INCIDENT_OPEN_ACTIONS',
        message: `${name} has ${open.length} open action item${open.length === 1 ? '' : 's'}: ${listed}; close ${open.length === 1 ? 'it' : 'each'} with a resolution first`,
      };
    }
  }
}
