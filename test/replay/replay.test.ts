// Replays the recorded histories of every scenario with the current workflow code: a change that is not replay-safe
// (not behind patched()) fails here, before it can break releases in flight. A deliberately non-deterministic edit
// proves the check bites. Histories are kept in sets, test/fixtures/histories/<set>/<scenario>/ (recorded with
// RECORD_HISTORIES=<set>): v1 was recorded before the audit trail, migrations, notifications and config parity
// existed and stands for releases started by that older code; each later set covers the code paths added since.
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, inject, it } from 'vitest';

const HISTORIES = resolve(__dirname, '..', 'fixtures', 'histories');

interface Recorded {
  file: string;
  workflowId: string;
  type: string;
  history: ReturnType<typeof historyFromJSON>;
}

async function recordedHistories(): Promise<Recorded[]> {
  const recorded: Recorded[] = [];
  for (const set of (await readdir(HISTORIES)).sort()) {
    for (const scenario of (await readdir(join(HISTORIES, set))).sort()) {
      const dir = join(HISTORIES, set, scenario);
      for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
        const history = historyFromJSON(JSON.parse(await readFile(join(dir, file), 'utf8')));
        const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
        recorded.push({
          file: `${set}/${scenario}/${file}`,
          workflowId: file.replace(/\.json$/, '').replaceAll('__', '/'),
          type: started?.workflowType?.name ?? 'unknown',
          history,
        });
      }
    }
  }
  return recorded;
}

async function replay(bundle: { codePath: string } | { code: string }, histories: Recorded[]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const iterable = histories.map(({ workflowId, history }) => ({ workflowId, history }));
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, iterable)) results.push(result);
  return results;
}

describe('replay of recorded histories', () => {
  let histories: Recorded[];
  beforeAll(async () => {
    try {
      Runtime.install({
        logger: new DefaultLogger('ERROR'),
        // The native core logs at WARN by default (e.g. every non-determinism the replay test provokes on purpose).
        telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
      });
    } catch {
      // already installed in this process
    }
    histories = await recordedHistories();
  });

  it('covers every workflow type and replays cleanly with the current code', async () => {
    expect(new Set(histories.map((h) => h.type))).toEqual(
      new Set([
        'releaseWorkflow',
        'regionRolloutWorkflow',
        'serviceWorkflow',
        'emergencyRollbackWorkflow',
        'auditReadWorkflow',
      ]),
    );
    const results = await replay({ codePath: inject('workflowBundlePath') }, histories);
    const failures = results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error?.message}`);
    expect(failures).toEqual([]);
    expect(results).toHaveLength(histories.length);
    console.log(
      `replayed ${results.length} recorded histories from ${new Set(histories.map((h) => h.file.split('/').slice(0, 2).join('/'))).size} scenarios in ${new Set(histories.map((h) => h.file.split('/')[0])).size} sets`,
    );
  }, 120_000);

  it('fails on a change that is not replay-safe', async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath: resolve(__dirname, '..', 'fixtures', 'nondeterministic', 'workflows.ts'),
      logger: new DefaultLogger('ERROR'),
    });
    const releases = histories.filter((h) => h.type === 'releaseWorkflow');
    expect(releases.length).toBeGreaterThan(0);
    const results = await replay({ code }, releases);
    expect(results.map((r) => r.error?.constructor.name)).toEqual(releases.map(() => DeterminismViolationError.name));
  }, 120_000);
});
