// While no worker polls (it crashed, or is restarting), reads of a running release answer within 5 s with a 503
// saying so in plain words, instead of hanging until Temporal's "no poller seen" (about 30 s) and then a 500; once a
// worker polls again, the same read answers.
import { describe, expect, it } from 'vitest';
import { useEngines } from '../support/engine';

describe('worker away', () => {
  const engines = useEngines();

  it('release.get and service.get answer 503 within 5 s while no worker polls, and 200 once one does', async () => {
    const engine = await engines.start({ waves: [['a']], bakeSeconds: 120 });
    const { service } = engine;
    await engine.trpc('ci').release.start.mutate({ service, version: '1.1.0', releaseId: 'away' });
    await engine.waitForStatus('away', (s) => s.stage !== undefined);
    await engine.stopWorker();

    for (const [procedure, input] of [
      ['release.get', { service, releaseId: 'away' }],
      ['service.get', { service }],
    ] as const) {
      const started = Date.now();
      const res = await engine.rawCall(procedure, input, engine.tokens.viewer, 'GET');
      const seconds = (Date.now() - started) / 1000;
      expect(res.status, `${procedure}: ${JSON.stringify(res.body)}`).toBe(503);
      expect(res.body.error?.message).toMatch(
        /^the release worker (did not answer within 3.5s \(it is busy, or not polling: it may be restarting\)|is not polling \(it may be restarting\)|could not answer \(it may be shutting down or restarting\)), so .+ cannot be read now; try again shortly$/,
      );
      expect(seconds, procedure).toBeLessThan(5);
    }

    await engine.startInProcessWorker();
    const back = await engine.rawCall('release.get', { service, releaseId: 'away' }, engine.tokens.viewer, 'GET');
    expect(back.status).toBe(200);
  }, 180_000);
});
