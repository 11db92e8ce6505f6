import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../domain/audit';
import {
  clip,
  foldIncidents,
  type Incident,
  incidentNoteEvent,
  type IncidentNote,
  incidentOpenedFields,
  refuseNote,
  releaseIncident,
  rollbackIncident,
} from '../../domain/incident';

const verdict = (v: 'pass' | 'fail', percent: number, reasons: string[]) => ({
  verdict: v,
  step: 0,
  percent,
  reasons,
  canary: { requests: 30, errors: 0, errorRate: 0, latencyMsP50: 5, latencyMsP95: 9 },
  baseline: { requests: 30, errors: 0, errorRate: 0, latencyMsP50: 5, latencyMsP95: 9 },
});

/** A release that failed its canary in eu after an approval, as its status stands when it rolls back. */
const status = {
  requestedBy: 'ci',
  version: '1.2.0',
  regions: [
    { region: 'eu', verdicts: [verdict('fail', 50, ['error rate 28% vs 0%', 'latency +90%'])], smokeTest: undefined },
    { region: 'us', verdicts: [], smokeTest: { passed: false, failures: 2, requests: 5 } },
  ],
  gates: [
    {
      id: 'production-approval',
      status: 'approved',
      decisions: [{ by: 'alice', decision: 'approve', comment: 'looks fine', at: '2026-11-02T10:01:00Z' }],
    },
    { id: 'analysis-eu-step-1', status: 'timed-out', decisions: [] },
  ],
} as unknown as Parameters<typeof releaseIncident>[0];

let seq = 0;
/** An audit record as the store gives it back (writer's id, the rest as written). */
function stored(event: Omit<AuditEntry, 'id'> & { id?: string }): AuditEntry {
  seq += 1;
  return { id: event.id ?? `release/hello/r-1#${seq}`, ...event };
}

/** The trail of release r-1 of hello: requested, a region reverted, rolled back, then its incident opened. */
function releaseTrail(): AuditEntry[] {
  const at = (m: number) => `2026-11-02T10:${String(m).padStart(2, '0')}:00Z`;
  const opening = releaseIncident(status, { result: 'rolled-back', reason: 'canary of 1.2.0 failed in eu' });
  return [
    stored({ at: at(0), actor: 'ci', action: 'release.requested', service: 'hello', releaseId: 'r-1' }),
    stored({ at: at(3), actor: 'engine', action: 'region.reverted', service: 'hello', releaseId: 'r-1', region: 'eu' }),
    // Another service's release of the same id is another story.
    stored({
      id: 'release/other/r-1#1',
      at: at(3),
      actor: 'ci',
      action: 'release.requested',
      service: 'other',
      releaseId: 'r-1',
    }),
    stored({ at: at(4), action: 'release.rolled-back', actor: 'engine', service: 'hello', releaseId: 'r-1' }),
    stored({
      at: at(4),
      action: 'incident.opened',
      service: 'hello',
      releaseId: 'r-1',
      ...incidentOpenedFields(opening),
    }),
  ];
}

function note(n: IncidentNote, by: string, minute: number, noteId: string): AuditEntry {
  return incidentNoteEvent(n, {
    id: `incident-note/hello/r-1/${noteId}#1`,
    at: `2026-11-02T11:${String(minute).padStart(2, '0')}:00Z`,
    by,
    service: 'hello',
    incidentId: 'r-1',
  });
}

describe('post-incident records', () => {
  it('a rolled-back release opens one with what led there: verdicts, decisions, the requester as owner', () => {
    const opening = releaseIncident(status, {
      result: 'rolled-back',
      reason: 'canary of 1.2.0 failed in eu',
      alert: { by: 'alertmanager', alertname: 'HighErrors', region: 'eu', reason: 'errors above 5%' },
    });
    expect(opening).toEqual({
      kind: 'release-rolled-back',
      owner: 'ci',
      summary: 'canary of 1.2.0 failed in eu',
      version: '1.2.0',
      verdicts: ['eu at 50%: fail (error rate 28% vs 0%; latency +90%)', 'us: smoke test failed (2 of 5 requests)'],
      decisions: [
        'production-approval: approved by alice: looks fine',
        'analysis-eu-step-1: timed out without a decision',
        'alert HighErrors in eu from alertmanager: errors above 5%',
      ],
    });
    expect(
      releaseIncident(status, { result: 'failed', reason: 'x', abort: { by: 'sam', reason: 'pager' } }),
    ).toMatchObject({
      kind: 'release-failed',
      decisions: expect.arrayContaining(['aborted by sam: pager']) as unknown,
    });
  });

  it('an emergency rollback opens one owned by the SRE who asked, saying which regions failed', () => {
    const opening = rollbackIncident({
      requestedBy: 'sam',
      reason: 'checkout errors',
      stage: 'failed',
      regions: [
        { region: 'eu', status: 'reverted', from: '1.1.0', to: '1.0.0' },
        { region: 'us', status: 'failed', error: 'fleet unreachable' },
      ],
      avoid: [{ version: '1.2.0', why: 'release r-2 was aborted by this rollback' }],
    });
    expect(opening).toEqual({
      kind: 'emergency-rollback',
      owner: 'sam',
      summary: 'emergency rollback by sam: checkout errors; it failed in us',
      version: '1.1.0',
      verdicts: [],
      decisions: [
        'emergency rollback requested by sam: checkout errors',
        'not back to 1.2.0: release r-2 was aborted by this rollback',
      ],
    });
  });

  it('keeps long lines and long lists short, never cutting a character in two', () => {
    expect(clip('ab😀cd', 4)).toBe('ab😀…');
    const many = {
      ...status,
      regions: Array.from({ length: 60 }, (_, i) => ({
        region: `r${i}`,
        verdicts: [verdict('pass', 5, ['x'.repeat(900)])],
      })),
    };
    const opening = releaseIncident(many as unknown as typeof status, { result: 'failed', reason: 'y' });
    expect(opening.verdicts).toHaveLength(40);
    expect(opening.verdicts.at(-1)).toBe('… and 21 more');
    expect(Array.from(opening.verdicts[0] ?? '')).toHaveLength(400);
  });

  it('folds the trail into the record: timeline of its own release, action items tracked to closure, then closed', () => {
    const trail = [
      ...releaseTrail(),
      note(
        { kind: 'action-added', actionId: 'a-1', text: 'alert on error rate in canary', owner: 'olga' },
        'sam',
        0,
        'add-a-1',
      ),
      note({ kind: 'assigned', owner: 'sid' }, 'sam', 1, 'assigned-1-sid'),
      note(
        { kind: 'action-added', actionId: 'a-2', text: 'add a smoke test for checkout', owner: 'sid' },
        'sid',
        2,
        'add-a-2',
      ),
      // A note sent twice (a retried request that got a new id) changes nothing the second time.
      note({ kind: 'action-added', actionId: 'a-2', text: 'again', owner: 'sid' }, 'sid', 2, 'add-a-2-again'),
      note({ kind: 'action-closed', actionId: 'a-1', resolution: 'alert added (PR 12)' }, 'olga', 3, 'close-a-1'),
    ];
    const [open] = foldIncidents(trail);
    expect(open).toMatchObject({
      id: 'r-1',
      service: 'hello',
      kind: 'release-rolled-back',
      releaseId: 'r-1',
      version: '1.2.0',
      openedAt: '2026-11-02T10:04:00Z',
      owner: 'sid',
      summary: 'canary of 1.2.0 failed in eu',
      status: 'open',
    });
    expect(open?.timeline.map((e) => e.action)).toEqual([
      'release.requested',
      'region.reverted',
      'release.rolled-back',
      'incident.opened',
      'incident.action-added',
      'incident.assigned',
      'incident.action-added',
      'incident.action-added',
      'incident.action-closed',
    ]);
    expect(open?.timeline[1]).toEqual({
      at: '2026-11-02T10:03:00Z',
      actor: 'engine',
      action: 'region.reverted',
      region: 'eu',
    });
    expect(open?.actionItems).toEqual([
      {
        id: 'a-1',
        text: 'alert on error rate in canary',
        owner: 'olga',
        status: 'closed',
        addedBy: 'sam',
        addedAt: '2026-11-02T11:00:00Z',
        closedBy: 'olga',
        closedAt: '2026-11-02T11:03:00Z',
        resolution: 'alert added (PR 12)',
      },
      {
        id: 'a-2',
        text: 'add a smoke test for checkout',
        owner: 'sid',
        status: 'open',
        addedBy: 'sid',
        addedAt: '2026-11-02T11:02:00Z',
      },
    ]);

    // A close while a-2 is open (two people at once; the API refuses it otherwise) does not close it.
    const early = note({ kind: 'closed', summary: 'done' }, 'sam', 4, 'closed-1');
    expect(foldIncidents([...trail, early])[0]?.status).toBe('open');
    const closed = foldIncidents([
      ...trail,
      early,
      note({ kind: 'action-closed', actionId: 'a-2', resolution: 'smoke test covers checkout' }, 'sid', 5, 'close-a-2'),
      note({ kind: 'closed', summary: 'canary caught it; two follow-ups done' }, 'sid', 6, 'closed-2'),
    ])[0];
    expect(closed).toMatchObject({
      status: 'closed',
      closedBy: 'sid',
      closedAt: '2026-11-02T11:06:00Z',
      closingSummary: 'canary caught it; two follow-ups done',
    });
    // An action item added later opens it again.
    const reopened = foldIncidents([
      ...trail,
      note({ kind: 'action-closed', actionId: 'a-2', resolution: 'done' }, 'sid', 5, 'close-a-2'),
      note({ kind: 'closed', summary: 'done' }, 'sid', 6, 'closed-1'),
      note({ kind: 'action-added', actionId: 'a-3', text: 'one more thing', owner: 'sid' }, 'sam', 7, 'add-a-3'),
    ])[0];
    expect(reopened?.status).toBe('open');
    expect(reopened?.closedBy).toBeUndefined();
  });

  it('lists open incidents first, newest first; notes about an incident never opened are ignored', () => {
    const rollback: AuditEntry = {
      id: 'rollback/hello/rb-1#5',
      at: '2026-11-01T09:00:00Z',
      action: 'incident.opened',
      service: 'hello',
      releaseId: 'rb-1',
      ...incidentOpenedFields(
        rollbackIncident({ requestedBy: 'sam', reason: 'pager', stage: 'succeeded', regions: [] }),
      ),
    };
    const newer = { ...rollback, id: 'rollback/hello/rb-2#5', releaseId: 'rb-2', at: '2026-11-03T09:00:00Z' };
    const stray = note({ kind: 'assigned', owner: 'x' }, 'sam', 1, 'assigned-1-x');
    const incidents = foldIncidents([rollback, ...releaseTrail(), newer, { ...stray, releaseId: 'nope' }]);
    expect(incidents.map((i) => [i.id, i.kind, i.status])).toEqual([
      ['rb-2', 'emergency-rollback', 'open'],
      ['r-1', 'release-rolled-back', 'open'],
      ['rb-1', 'emergency-rollback', 'open'],
    ]);
    expect(incidents[0]).toMatchObject({ rollbackId: 'rb-2', owner: 'sam' });
    expect(incidents[0]?.releaseId).toBeUndefined();
  });

  it('refuses a change the record does not allow, naming the field', () => {
    const [incident] = foldIncidents([
      ...releaseTrail(),
      note({ kind: 'action-added', actionId: 'a-1', text: 'alert on error rate', owner: 'olga' }, 'sam', 0, 'add-a-1'),
    ]) as [Incident];
    expect(refuseNote(incident, { kind: 'closed', summary: 'done' })).toEqual({
      code: 'INCIDENT_OPEN_ACTIONS',
      message:
        'incident r-1 of hello has 1 open action item: a-1 "alert on error rate" (olga); close it with a resolution first',
    });
    expect(refuseNote(incident, { kind: 'action-closed', actionId: 'a-9', resolution: 'x' })).toEqual({
      code: 'ACTION_ITEM_NOT_FOUND',
      message: 'actionId: incident r-1 of hello has no action item a-9 (its items: a-1)',
    });
    expect(
      refuseNote(incident, { kind: 'action-added', actionId: 'a-1', text: 'something else', owner: 'x' })?.code,
    ).toBe('ACTION_ITEM_EXISTS');
    // The same item sent again (a retried request) is not refused: its record id makes it count once.
    expect(
      refuseNote(incident, { kind: 'action-added', actionId: 'a-1', text: 'alert on error rate', owner: 'olga' }),
    ).toBeUndefined();
    expect(refuseNote(incident, { kind: 'action-closed', actionId: 'a-1', resolution: 'done' })).toBeUndefined();

    const closed: Incident = { ...incident, actionItems: [], status: 'closed', closedBy: 'sid' };
    expect(refuseNote(closed, { kind: 'assigned', owner: 'x' })).toEqual({
      code: 'INCIDENT_CLOSED',
      message: 'id: incident r-1 of hello was closed by sid; add an action item to open it again',
    });
    expect(refuseNote(closed, { kind: 'action-added', actionId: 'a-2', text: 'more', owner: 'x' })).toBeUndefined();
  });
});
