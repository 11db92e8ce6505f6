// The walking skeleton, end to end: a pipeline starts a release over HTTP, the workflow deploys every region of the
// real local fleet in wave order through the region task queues, bakes, records the versions, and reports.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPaths } from '../../providers/data-paths';
import {
  ReleaseChangeClass,
  ReleaseRegions,
  ReleaseRequestedBy,
  ReleaseService,
  ReleaseStage,
  ReleaseVersion,
} from '../../workflows/search-attributes';
import { hitRouter, startTestEngine, type TestEngine } from '../support/engine';

describe('walking skeleton: release over HTTP to the local fleet', () => {
  let engine: TestEngine;

  beforeAll(async () => {
    engine = await startTestEngine({ record: 'walking-skeleton', waves: [['a'], ['b', 'c']], bakeSeconds: 2 });
  });
  afterAll(async () => {
    await engine?.close();
  });

  it('deploys every region in wave order, bakes, records the version, and reports success', async () => {
    const [a, b, c] = engine.regions as [string, string, string];
    const { service } = engine;
    const api = engine.trpc('ci');
    const started = await api.release.start.mutate({ service, version: '1.1.0', releaseId: 'skeleton-1' });
    expect(started).toMatchObject({
      releaseId: 'skeleton-1',
      workflowId: `release/${service}/skeleton-1`,
      alreadyStarted: false,
    });

    const status = await engine.waitForOutcome('skeleton-1');
    expect(status.outcome?.result).toBe('succeeded');
    expect(status.stage).toBe('succeeded');
    expect(status.requestedBy).toBe('ci');
    expect(status.regions.map((r) => [r.region, r.wave, r.status, r.previousVersion, r.trafficPercent])).toEqual([
      [a, 0, 'succeeded', '1.0.0', 100],
      [b, 1, 'succeeded', '1.0.0', 100],
      [c, 1, 'succeeded', '1.0.0', 100],
    ]);

    // The fleet itself now serves the new version everywhere.
    for (const router of engine.routers) expect(await hitRouter(router.url)).toContain(`${service}@1.1.0`);

    // Wave order, and the bake honoured: region a baked 2s at 50% before its promotion; wave 2 started after it.
    const events = await engine.fleetEvents('skeleton-1');
    const at = (event: string, region: string) =>
      Date.parse(events.find((e) => e.event === event && e.region === region)?.at ?? '');
    expect(at('promote', a) - at('traffic', a)).toBeGreaterThanOrEqual(2000);
    expect(at('deploy', b)).toBeGreaterThan(at('promote', a));
    expect(at('deploy', c)).toBeGreaterThan(at('promote', a));

    // The version ledger records the new version per region, after the version found there.
    for (const region of engine.regions) {
      expect(await engine.ledger.current(service, region)).toMatchObject({ version: '1.1.0', releaseId: 'skeleton-1' });
      expect((await engine.ledger.history(service, region)).map((e) => e.version)).toEqual(['1.0.0', '1.1.0']);
    }

    // Operators find it in the Temporal UI by its search attributes.
    const description = await engine.client.workflow.getHandle(`release/${service}/skeleton-1`).describe();
    const attrs = description.typedSearchAttributes;
    expect(attrs.get(ReleaseService)).toBe(service);
    expect(attrs.get(ReleaseVersion)).toBe('1.1.0');
    expect(attrs.get(ReleaseStage)).toBe('succeeded');
    expect(attrs.get(ReleaseChangeClass)).toBe('standard');
    expect(attrs.get(ReleaseRegions)).toEqual([a, b, c]);
    expect(attrs.get(ReleaseRequestedBy)).toBe('ci');
    expect(await description.staticSummary()).toContain(`${service}@1.1.0`);
  });

  it('returns the same release when the same release id is started twice, and deploys once', async () => {
    const api = engine.trpc('ci');
    const { service } = engine;
    const first = await api.release.start.mutate({ service, version: '1.0.0', releaseId: 'twice-1' });
    const second = await api.release.start.mutate({ service, version: '1.0.0', releaseId: 'twice-1' });
    expect(first.alreadyStarted).toBe(false);
    expect(second).toMatchObject({ workflowId: first.workflowId, alreadyStarted: true });
    expect((await engine.waitForOutcome('twice-1')).outcome?.result).toBe('succeeded');
    const third = await api.release.start.mutate({ service, version: '1.0.0', releaseId: 'twice-1' });
    expect(third).toMatchObject({ workflowId: first.workflowId, alreadyStarted: true });

    const deploys = (await engine.fleetEvents('twice-1')).filter((e) => e.event === 'deploy');
    expect(deploys.map((e) => e.region).sort()).toEqual([...engine.regions].sort());

    await expect(api.release.start.mutate({ service, version: '1.2.0', releaseId: 'twice-1' })).rejects.toThrow(
      new RegExp(`release twice-1 of ${service} already exists for version 1\\.0\\.0, not 1\\.2\\.0`),
    );
  });

  it('fails a release whose artifact bytes were tampered with, before touching any region', async () => {
    const { service } = engine;
    const record = await engine.artifacts.resolve(service, '1.2.0');
    const blob = join(dataPaths(join(engine.dir, 'data')).artifacts, 'blobs', 'sha256', record!.digest.slice(7));
    const bytes = await readFile(blob);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    await writeFile(blob, bytes);

    await engine.trpc('ci').release.start.mutate({ service, version: '1.2.0', releaseId: 'tampered-1' });
    const status = await engine.waitForOutcome('tampered-1');
    expect(status.outcome?.result).toBe('failed');
    expect(status.outcome?.reason).toContain(`artifact ${record!.digest} is corrupt`);
    expect(status.regions.every((r) => r.status === 'pending')).toBe(true);
    expect(await engine.fleetEvents('tampered-1')).toEqual([]);
    expect(await readdir(join(dataPaths(join(engine.dir, 'data')).fleet, 'releases', service))).not.toContainEqual(
      expect.stringMatching(/^1\.2\.0-/),
    );
  });

  describe('bad input gets a clear 4xx and starts nothing', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['a version that is not semver', { version: 'banana', releaseId: 'bad-1' }, /version/],
      ['an unknown field', { version: '1.1.0', releaseId: 'bad-2', colour: 'red' }, /colour/],
      ['a bake given as text', { version: '1.1.0', releaseId: 'bad-3', bakeSeconds: 'ten' }, /bakeSeconds/],
      ['a missing version', { releaseId: 'bad-4' }, /version/],
      ['a release id with a slash', { version: '1.1.0', releaseId: 'bad/5' }, /releaseId/],
      ['an unknown change class', { version: '1.1.0', releaseId: 'bad-6', changeClass: 'yolo' }, /changeClass/],
      ['an emergency without a reason', { version: '1.1.0', releaseId: 'bad-8', changeClass: 'emergency' }, /reason/],
    ];
    it.each(cases)('%s: 400 naming the field', async (_name, fields, field) => {
      const res = await engine.rawCall('release.start', { service: engine.service, ...fields }, engine.tokens.ci);
      expect(res.status).toBe(400);
      expect(res.body.error?.message).toMatch(field);
      expect(res.body.error?.message).not.toMatch(/at .*\.ts:\d+/); // no stack trace
      await expect(
        engine.client.workflow.getHandle(`release/${engine.service}/${String(fields.releaseId)}`).describe(),
      ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    });

    it('refuses an unknown service and a version with no artifact, naming them', async () => {
      const unknownService = await engine.rawCall(
        'release.start',
        { service: 'nope', version: '1.0.0' },
        engine.tokens.ci,
      );
      expect(unknownService.status).toBe(400);
      expect(unknownService.body.error?.message).toMatch(
        new RegExp(`service: there is no service "nope".*known services: ${engine.service}`),
      );
      const unknownVersion = await engine.rawCall(
        'release.start',
        { service: engine.service, version: '9.9.9', releaseId: 'bad-7' },
        engine.tokens.ci,
      );
      expect(unknownVersion.status).toBe(400);
      expect(unknownVersion.body.error?.message).toContain(`version: there is no artifact ${engine.service}@9.9.9`);
      await expect(
        engine.client.workflow.getHandle(`release/${engine.service}/bad-7`).describe(),
      ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    });

    it('answers 401 without a valid token and 403 naming the role for the wrong principal', async () => {
      const input = { service: engine.service, version: '1.1.0', releaseId: 'auth-1' };
      const none = await engine.rawCall('release.start', input);
      expect(none.status).toBe(401);
      const wrong = await engine.rawCall('release.start', input, 'not-a-token');
      expect(wrong.status).toBe(401);
      expect(wrong.body.error?.message).toMatch(/bearer token is not valid/);
      const viewer = await engine.rawCall('release.start', input, engine.tokens.viewer);
      expect(viewer.status).toBe(403);
      expect(viewer.body.error?.message).toMatch(/needs the pipeline role/);
      await expect(
        engine.client.workflow.getHandle(`release/${engine.service}/auth-1`).describe(),
      ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    });

    it('answers 404 for a release that does not exist', async () => {
      const res = await engine.rawCall(
        'release.get',
        { service: engine.service, releaseId: 'never' },
        engine.tokens.viewer,
        'GET',
      );
      expect(res.status).toBe(404);
      expect(res.body.error?.message).toBe(`there is no release never of ${engine.service}`);
    });
  });
});
