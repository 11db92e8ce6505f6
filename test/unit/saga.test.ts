// The compensation stack's rules, without Temporal: reverse order, groups in parallel, and a human asked whenever a
// compensation fails or cannot run, never a silent skip.
import { describe, expect, it } from 'vitest';
import { Saga, type Compensation, type HumanDecision } from '../../workflows/saga';

function recorder(decisions: HumanDecision[] = []) {
  const log: string[] = [];
  return {
    log,
    hooks: {
      onStart: (c: Compensation) => log.push(`start ${c.name}`),
      onDone: (c: Compensation) => log.push(`done ${c.name}`),
      onLeft: (c: Compensation, why: string, handled: boolean) =>
        log.push(`left ${c.name} (${why}, handled: ${handled})`),
      askHuman: (c: Compensation, problem: string) => {
        log.push(`ask ${problem}`);
        return Promise.resolve(decisions.shift() ?? 'leave');
      },
    },
  };
}

const step = (name: string, group: string, run: () => Promise<void> = () => Promise.resolve()): Compensation => ({
  name,
  group,
  run,
});

describe('saga', () => {
  it('compensates in reverse order of registration', async () => {
    const saga = new Saga();
    const ran: string[] = [];
    for (const name of ['artifact', 'wave-0', 'wave-1']) {
      saga.add(step(name, name, () => Promise.resolve(void ran.push(name))));
    }
    const { hooks } = recorder();
    expect(await saga.compensate(hooks)).toBe(true);
    expect(ran).toEqual(['wave-1', 'wave-0', 'artifact']);
  });

  it('runs the compensations of one group in parallel, and finishes a group before the next', async () => {
    const saga = new Saga();
    const events: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    saga.add(step('a', 'wave-0', () => Promise.resolve(void events.push('a'))));
    saga.add(
      step('b', 'wave-1', async () => {
        events.push('b started');
        await gate;
        events.push('b finished');
      }),
    );
    saga.add(
      step('c', 'wave-1', () => {
        events.push('c started');
        release();
        return Promise.resolve();
      }),
    );
    const { hooks } = recorder();
    await saga.compensate(hooks);
    // c ran while b was still waiting (parallel: b could only finish because c ran), and a only after both.
    expect(events.indexOf('b started')).toBeLessThan(events.indexOf('b finished'));
    expect(events.indexOf('c started')).toBeLessThan(events.indexOf('b finished'));
    expect(events.at(-1)).toBe('a');
  });

  it('asks a human when a compensation fails: retry runs it again, leave records it undone', async () => {
    const saga = new Saga();
    let attempts = 0;
    saga.add(
      step('revert eu-1', 'wave-0', () =>
        ++attempts < 2 ? Promise.reject(new Error('fleet unreachable')) : Promise.resolve(),
      ),
    );
    saga.add(step('revert us-1', 'wave-1', () => Promise.reject(new Error('disk full'))));
    const { hooks, log } = recorder(['leave', 'retry']);
    expect(await saga.compensate(hooks)).toBe(false);
    expect(log).toEqual([
      'start revert us-1',
      'ask revert us-1 failed: disk full',
      'left revert us-1 (disk full, handled: false)',
      'start revert eu-1',
      'ask revert eu-1 failed: fleet unreachable',
      'start revert eu-1',
      'done revert eu-1',
    ]);
  });

  it('stops the rollback at an irreversible step a human leaves undone: nothing before it is undone', async () => {
    const saga = new Saga();
    const ran: string[] = [];
    saga.add(step('revert eu-1', 'wave-0', () => Promise.resolve(void ran.push('revert eu-1'))));
    saga.add({ ...step('undo contract migration 0004', 'migrations', () => Promise.resolve()), irreversible: true });
    const { hooks, log } = recorder(['leave']);
    expect(await saga.compensate(hooks)).toBe(false);
    expect(ran).toEqual([]);
    expect(log).toEqual([
      'ask undo contract migration 0004 cannot be undone automatically',
      'left undo contract migration 0004 (cannot be undone automatically, handled: false)',
      'left revert eu-1 (not run: the rollback stopped at "undo contract migration 0004", handled: false)',
    ]);
  });

  it('never runs an irreversible compensation: a human says whether it was handled', async () => {
    const saga = new Saga();
    let ran = false;
    const contract = step('undo contract migration 0004', 'migrations', () => Promise.resolve(void (ran = true)));
    saga.add({ ...contract, irreversible: true });
    const handled = recorder(['retry']);
    expect(await saga.compensate(handled.hooks)).toBe(true);
    expect(ran).toBe(false);
    expect(handled.log).toEqual([
      'ask undo contract migration 0004 cannot be undone automatically',
      'left undo contract migration 0004 (cannot be undone automatically, handled: true)',
    ]);
  });
});
