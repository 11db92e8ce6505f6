// Who may call what, over real HTTP: every procedure against every role. The table below is the specification (it
// is written out, not derived from the code); a procedure added to the router without a row here fails the first test.
import { describe, expect, it } from 'vitest';
import { appRouter } from '../../api/routers';
import type { Role } from '../../domain/roles';
import { PRINCIPALS, type TestEngine, useEngines } from '../support/engine';

const READ: Role[] = ['pipeline', 'approver', 'operator', 'sre', 'viewer'];

/** Who may call each procedure (admin may call everything), and an input that is harmless to call with. */
function spec(engine: TestEngine): Record<string, { roles: Role[]; input: unknown }> {
  const service = engine.service;
  const ghost = { service, releaseId: 'no-such-release' };
  return {
    'release.plan': { roles: READ, input: { service: 'no-such-service', version: '1.0.0' } },
    'release.start': { roles: ['pipeline'], input: { service: 'no-such-service', version: '1.0.0' } },
    'release.list': { roles: READ, input: { service, limit: 1 } },
    'release.get': { roles: READ, input: ghost },
    'release.inbox': { roles: READ, input: undefined },
    // A stream (server-sent events): its roles are checked in web-console.test.ts, over a real stream.
    'release.watch': { roles: READ, input: ghost },
    'release.changes': { roles: READ, input: undefined },
    'release.timeline': { roles: READ, input: ghost },
    'release.approve': { roles: ['approver', 'sre'], input: { ...ghost, gate: 'production-approval' } },
    'release.reject': { roles: ['approver', 'sre'], input: { ...ghost, gate: 'production-approval', comment: 'no' } },
    'release.pause': { roles: ['operator', 'sre'], input: ghost },
    'release.resume': { roles: ['operator', 'sre'], input: ghost },
    'release.abort': { roles: ['sre'], input: { ...ghost, reason: 'test' } },
    'train.plan': {
      roles: READ,
      input: {
        members: [
          { service: 'no-such-service', version: '1.0.0' },
          { service: 'other-service', version: '1.0.0' },
        ],
      },
    },
    'train.start': {
      roles: ['pipeline'],
      input: {
        members: [
          { service: 'no-such-service', version: '1.0.0' },
          { service: 'other-service', version: '1.0.0' },
        ],
      },
    },
    'train.get': { roles: READ, input: { trainId: 'no-such-train' } },
    'train.list': { roles: READ, input: { limit: 1 } },
    'train.approve': { roles: ['approver', 'sre'], input: { trainId: 'no-such-train' } },
    'train.reject': { roles: ['approver', 'sre'], input: { trainId: 'no-such-train', comment: 'no' } },
    'train.abort': { roles: ['sre'], input: { trainId: 'no-such-train', reason: 'role table test' } },
    'rollback.emergency': { roles: ['sre'], input: { service: 'no-such-service', reason: 'role table test' } },
    'rollback.get': { roles: READ, input: { service, rollbackId: 'no-such-rollback' } },
    'service.list': { roles: READ, input: undefined },
    'service.get': { roles: READ, input: { service: 'no-such-service' } },
    'service.acknowledgeDrift': {
      roles: ['sre'],
      input: { service: 'no-such-service', region: 'nowhere', reason: 'role table test' },
    },
    'calendar.list': { roles: READ, input: undefined },
    'calendar.create': { roles: ['operator', 'sre'], input: { id: 'x' } },
    'calendar.delete': { roles: ['operator', 'sre'], input: { id: 'no-such-window' } },
    'audit.list': { roles: ['approver', 'operator', 'sre', 'viewer'], input: { service, limit: 1 } },
    'audit.verify': { roles: ['approver', 'operator', 'sre', 'viewer'], input: undefined },
    'audit.checkpoint': { roles: ['approver', 'operator', 'sre', 'viewer'], input: undefined },
    'metrics.dora': { roles: READ, input: { service: 'no-such-service' } },
    'metrics.doraWeekly': { roles: READ, input: { service: 'no-such-service' } },
    'incident.list': { roles: ['approver', 'operator', 'sre', 'viewer'], input: { service, status: 'open' } },
    'incident.get': { roles: ['approver', 'operator', 'sre', 'viewer'], input: { service, id: 'no-such-incident' } },
    'incident.addAction': {
      roles: ['operator', 'sre', 'approver'],
      input: { service, id: 'no-such-incident', text: 'role table test' },
    },
    'incident.closeAction': {
      roles: ['operator', 'sre', 'approver'],
      input: { service, id: 'no-such-incident', actionId: 'a-1', resolution: 'role table test' },
    },
    'incident.assign': {
      roles: ['operator', 'sre', 'approver'],
      input: { service, id: 'no-such-incident', owner: 'sam' },
    },
    'incident.close': {
      roles: ['operator', 'sre', 'approver'],
      input: { service, id: 'no-such-incident', summary: 'role table test' },
    },
    'check.report': {
      roles: ['checker'],
      input: { service, releaseId: 'no-such-release', check: 'check-contract-production', status: 'pass' },
    },
    'alerts.alertmanager': {
      roles: ['alerter', 'sre'],
      input: {
        version: '4',
        status: 'resolved',
        receiver: 'release-engine',
        alerts: [
          { status: 'resolved', labels: { service, alertname: 'RoleTable' }, startsAt: new Date().toISOString() },
        ],
      },
    },
  };
}

const procedures = appRouter._def.procedures as unknown as Record<
  string,
  { _def: { type: 'query' | 'mutation' | 'subscription' } }
>;
const isStream = (path: string) => procedures[path]?._def.type === 'subscription';

describe('roles against procedures', () => {
  const engines = useEngines();

  it('every procedure: the roles that may call it get past auth, every other role gets 403 naming the role needed', async () => {
    const engine = await engines.start({ waves: [['a']] });
    const table = spec(engine);
    expect(Object.keys(table).sort()).toEqual(Object.keys(procedures).sort());

    const outcomes: string[] = [];
    const wrong: string[] = [];
    for (const [path, { roles, input }] of Object.entries(table)) {
      if (isStream(path)) continue;
      const method = procedures[path]?._def.type === 'query' ? 'GET' : 'POST';
      for (const [principal, held] of Object.entries(PRINCIPALS)) {
        const allowed = held.includes('admin') || held.some((r) => roles.includes(r));
        const { status, body } = await engine.rawCall(path, input, engine.tokens[principal], method);
        const refused = status === 403 && /may not do this: it needs the .* role/.test(body.error?.message ?? '');
        if (allowed === refused || status === 401 || status >= 500) {
          wrong.push(`${path} as ${principal} (${held.join('+')}): ${status} ${body.error?.message ?? ''}`);
        }
        if (refused) {
          const needed = body.error?.message.match(/needs the (.*) role/)?.[1]?.split(' or ') ?? [];
          expect(needed.sort(), `${path}: roles named in the refusal`).toEqual([...roles].sort());
        }
        outcomes.push(`${path} ${principal} ${status}`);
      }
    }
    expect(wrong).toEqual([]);
    console.log(`role table: ${outcomes.length} calls over HTTP, ${Object.keys(table).length} procedures`);
  }, 120_000);

  it('no token and an unknown token are 401 with a plain message, for every procedure', async () => {
    // Forty failed authentications in a row: lift the failed-auth rate limit (auth-rate-limit.test.ts covers it).
    const engine = await engines.start({ waves: [['a']], api: { rateLimit: { maxFailures: 1000, windowMs: 60_000 } } });
    for (const [path, { input }] of Object.entries(spec(engine))) {
      if (isStream(path)) continue;
      const method = procedures[path]?._def.type === 'query' ? 'GET' : 'POST';
      const none = await engine.rawCall(path, input, undefined, method);
      expect([path, none.status, none.body.error?.message]).toEqual([
        path,
        401,
        'send a bearer token: Authorization: Bearer <token>',
      ]);
      const unknown = await engine.rawCall(path, input, 'not-a-real-token', method);
      expect([path, unknown.status, unknown.body.error?.message]).toEqual([path, 401, 'the bearer token is not valid']);
    }
  });
});
