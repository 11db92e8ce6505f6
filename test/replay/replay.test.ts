// Replays the recorded histories of every scenario with the current workflow code, twice:
//  - with the bundle the workers run (global setup), which catches a change to the shape of the commands (a change
//    that is not replay-safe, not behind patched());
//  - payload-exact, with the same workflows bundled beside capture-interceptors.ts, which also compares what the code
//    sends (activity inputs, child inputs, signals, update results, the result or failure) with what the history
//    recorded. The order and content of activity inputs is a durable contract too: audit records are
//    `<workflowId>#<n>` and the store keeps an id it already has, so two audit() calls swapped in a later version
//    would misattribute the records of releases already running, and only this comparison sees it.
// Deliberately wrong edits (test/fixtures/nondeterministic, test/fixtures/reordered-audit) prove both checks bite.
//
// Histories are kept in sets, test/fixtures/histories/<set>/<scenario>/ (recorded with RECORD_HISTORIES=<set>): v1 was
// recorded before the audit trail, migrations, notifications and config parity existed and stands for releases
// started by that older code; each later set covers the code paths added since. All histories replay in one run
// (before the tests); one test per scenario then reports on its own, so a failure names its scenario.
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type InjectedSinks,
  type ReplayResult,
  type ReplayWorkerOptions,
} from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { bundleEngineWorkflows } from '../../workers/bundle';
import { recordedSetKeys } from '../support/history-keys';
import { SWAPPED_ACTIONS } from '../fixtures/reordered-audit/interceptors';
import type { CapturedCommand, ReplayCaptureSinks } from './capture-interceptors';
import { checkPayloads, recordedSends, type PayloadReport, type SentKind } from './payload-check';
import { quietRuntime } from '../support/quiet-runtime';

const ROOT = resolve(__dirname, '..', '..');
const HISTORIES = join(ROOT, 'test', 'fixtures', 'histories');
const CAPTURE = join(__dirname, 'capture-interceptors.ts');
const REORDERED_AUDIT = join(ROOT, 'test', 'fixtures', 'reordered-audit', 'interceptors.ts');
/** Per scenario (it only reads the replays' results). */
const SCENARIO_TIMEOUT = 10_000;
/** Bundling (webpack) plus replays of every release history. */
const FIXTURE_TIMEOUT = 300_000;

/** <set>/<scenario> folders, read when the file is collected so that each becomes a test of its own. */
const SCENARIOS = readdirSync(HISTORIES)
  .sort()
  .flatMap((set) =>
    readdirSync(join(HISTORIES, set), { withFileTypes: true })
      // Beside the scenarios, a set may hold the public keys its signed messages were made with.
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
      .map((scenario) => `${set}/${scenario}`),
  );

interface Recorded {
  /** <set>/<scenario>/<file>.json */
  file: string;
  scenario: string;
  /** The id the workflow ran under (the code reads it: audit ids, the release id its regions report to). */
  workflowId: string;
  type: string;
  history: ReturnType<typeof historyFromJSON>;
}

async function loadHistory(scenario: string, name: string): Promise<Recorded> {
  const history = historyFromJSON(JSON.parse(await readFile(join(HISTORIES, scenario, name), 'utf8')));
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  return {
    file: `${scenario}/${name}`,
    scenario,
    // File names have the engine's random suffix replaced (and a run number when a workflow continued-as-new); the
    // started event keeps the real id.
    workflowId: started?.workflowId || name.replace(/(~run\d+)?\.json$/, '').replaceAll('__', '/'),
    type: started?.workflowType?.name ?? 'unknown',
    history,
  };
}

async function recordedHistories(): Promise<Recorded[]> {
  const recorded: Recorded[] = [];
  for (const scenario of SCENARIOS) {
    const files = readdirSync(join(HISTORIES, scenario)).filter((f) => f.endsWith('.json'));
    for (const name of files.sort()) recorded.push(await loadHistory(scenario, name));
  }
  return recorded;
}

type Bundle = ReplayWorkerOptions['workflowBundle'];

async function replay(workflowBundle: Bundle, histories: Recorded[]): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const iterable = histories.map(({ workflowId, history }) => ({ workflowId, history }));
  for await (const result of Worker.runReplayHistories({ workflowBundle }, iterable)) results.push(result);
  return results;
}

/**
 * Replays with a bundle that holds capture-interceptors.ts and returns, per history, the commands its code sent.
 * Histories replay one at a time and sink calls run before the replay of a history is reported, so everything the
 * sink received since the previous result belongs to this one.
 */
async function replayCapturing(workflowBundle: Bundle, histories: Recorded[]) {
  let current: CapturedCommand[] = [];
  let workflowIds = new Set<string>();
  const sinks: InjectedSinks<ReplayCaptureSinks> = {
    replayCapture: {
      commands: {
        fn: (info, commands: CapturedCommand[]) => {
          workflowIds.add(info.workflowId);
          current.push(...commands);
        },
        callDuringReplay: true,
      },
    },
  };
  const iterable = histories.map(({ workflowId, history }) => ({ workflowId, history }));
  const replayed: { result: ReplayResult; commands: CapturedCommand[] }[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle, sinks }, iterable)) {
    if (workflowIds.size > 1 || (workflowIds.size === 1 && !workflowIds.has(result.workflowId))) {
      throw new Error(`commands of ${[...workflowIds].join(', ')} arrived with the replay of ${result.workflowId}`);
    }
    replayed.push({ result, commands: current });
    current = [];
    workflowIds = new Set();
  }
  return replayed;
}

/** A run that failed in its first workflow task (a release, rollback or rollout refused to act). */
function refusedAtStart(h: Recorded): boolean {
  const events = h.history.events ?? [];
  const completed = events.filter((e) => e.workflowTaskCompletedEventAttributes).length;
  return completed === 1 && events.at(-1)?.workflowExecutionFailedEventAttributes !== undefined;
}

function replayFailures(histories: Recorded[], results: ReplayResult[]): string[] {
  return results.flatMap((r, i) => (r.error ? [`${histories[i]?.file}: ${r.error.message}`] : []));
}

/** The workflows bundled beside extra interceptor modules, built as the workers build theirs (failure converter). */
async function bundleWith(interceptorModules: string[]): Promise<string> {
  const { code } = await bundleEngineWorkflows({
    trustedKeys: recordedSetKeys(),
    interceptorModules,
    logger: new DefaultLogger('ERROR'),
  });
  return code;
}

/** Replays payload-exact and compares; fails if a replay itself fails. */
async function payloadReports(code: string, histories: Recorded[]): Promise<PayloadReport[]> {
  const replayed = await replayCapturing({ code }, histories);
  const results = replayed.map((r) => r.result);
  expect(replayFailures(histories, results)).toEqual([]);
  expect(replayed).toHaveLength(histories.length);
  return histories.map((h, i) => checkPayloads(h.file, h.history, replayed[i]?.commands ?? []));
}

const KIND_NAMES: Record<SentKind, string> = {
  activity: 'activity inputs',
  child: 'child workflow starts',
  signal: 'signals',
  update: 'update results',
  result: 'results',
};

function summary(reports: PayloadReport[]): string {
  const total = (kind: SentKind) => reports.reduce((sum, r) => sum + r.compared[kind], 0);
  const compared = (Object.keys(KIND_NAMES) as SentKind[]).map((k) => `${total(k)} ${KIND_NAMES[k]}`).join(', ');
  const encryptedItems = reports.reduce((sum, r) => sum + r.encryptedItems, 0);
  const encryptedPayloads = reports.reduce((sum, r) => sum + r.encryptedPayloads, 0);
  const open = reports.filter((r) => r.open);
  const beyond = open.reduce((sum, r) => sum + r.beyondHistory, 0);
  return (
    `${reports.length} histories; compared ${compared}; ` +
    `${encryptedItems} not compared because their recorded payloads are encrypted (${encryptedPayloads} payloads); ` +
    `${open.length} histories end with the workflow still running (no result to compare; ${beyond} commands sent past their end)`
  );
}

/**
 * At most `count` of `items`, evenly spread (first and last included): the harness's own tests need releases of every
 * era, not every release, and each replay of the whole set costs minutes of the suite on a two-core machine.
 */
function spread<T>(items: T[], count: number): T[] {
  if (items.length <= count) return items;
  return Array.from({ length: count }, (_, i) => items[Math.round((i * (items.length - 1)) / (count - 1))] as T);
}

/** How many release histories the harness's own tests (a nondeterministic change, swapped audits) replay. */
const HARNESS_SAMPLE = 30;

/** Recorded appendAudit batches holding both swapped actions: what the reordered-audit fixture changes. */
function holdsSwappedPair(history: Recorded['history']): boolean {
  return recordedSends(history).sends.some((sent) => {
    if (!sent.label.startsWith('activity appendAudit ')) return false;
    const [batch] = (sent.value as { args: unknown[] }).args as { action: string }[][];
    return SWAPPED_ACTIONS.every((action) => batch?.some((event) => event.action === action));
  });
}

describe('replay of recorded histories', () => {
  let histories: Recorded[];
  let captureBundle: string;
  const reports: PayloadReport[] = [];

  // Every history is replayed once, in one replay run (a replay worker per scenario cost more than the replays
  // themselves), payload-exact: with the workers' bundle plus the capturing interceptor, which only observes the
  // commands, so a nondeterministic change fails here as it would in a plain replay. Each scenario's test then reports
  // on its own histories.
  let captured: Map<Recorded, Awaited<ReturnType<typeof replayCapturing>>[number]>;

  beforeAll(async () => {
    quietRuntime();
    [histories, captureBundle] = await Promise.all([recordedHistories(), bundleWith([CAPTURE])]);
    const capturedResults = await replayCapturing({ code: captureBundle }, histories);
    captured = new Map(histories.map((h, i) => [h, capturedResults[i] as (typeof capturedResults)[number]]));
  }, 900_000);

  afterAll(() => {
    if (reports.length > 0) console.log(`payload-exact replay: ${summary(reports)}`);
  });

  it('covers every workflow type', () => {
    expect(new Set(histories.map((h) => h.type))).toEqual(
      new Set([
        'releaseWorkflow',
        'regionRolloutWorkflow',
        'serviceWorkflow',
        'emergencyRollbackWorkflow',
        'auditReadWorkflow',
        'alertRecordWorkflow',
        'trainWorkflow',
        'incidentNoteWorkflow',
      ]),
    );
    console.log(
      `${histories.length} recorded histories from ${SCENARIOS.length} scenarios in ${new Set(SCENARIOS.map((s) => s.split('/')[0])).size} sets`,
    );
  });

  for (const scenario of SCENARIOS) {
    it(
      `${scenario}: replays with the current code, sending what was recorded`,
      () => {
        const own = histories.filter((h) => h.scenario === scenario);
        expect(own.length).toBeGreaterThan(0);
        const replayed = own.map((h) => captured.get(h));
        expect(replayed.every((r) => r !== undefined)).toBe(true);
        const ok = replayed as NonNullable<(typeof replayed)[number]>[];
        expect(
          replayFailures(
            own,
            ok.map((r) => r.result),
          ),
        ).toEqual([]);
        const checked = own.map((h, i) => checkPayloads(h.file, h.history, ok[i]?.commands ?? []));
        reports.push(...checked);
        const problems = checked.flatMap((r) => r.problems);
        if (problems.length > 0) assert.fail(`payload-exact replay of ${scenario}:\n${problems.join('\n')}`);
      },
      SCENARIO_TIMEOUT,
    );
  }

  it(
    'fails on a change that is not replay-safe',
    async () => {
      const { code } = await bundleWorkflowCode({
        workflowsPath: resolve(__dirname, '..', 'fixtures', 'nondeterministic', 'workflows.ts'),
        logger: new DefaultLogger('ERROR'),
      });
      // Releases refused at start (started directly on Temporal) fail in their first task, before the code that
      // the fixture changes: they have nothing to diverge from.
      const releases = spread(
        histories.filter((h) => h.type === 'releaseWorkflow' && !refusedAtStart(h)),
        HARNESS_SAMPLE,
      );
      expect(releases.length).toBeGreaterThan(0);
      const results = await replay({ code }, releases);
      expect(results.map((r) => r.error?.constructor.name)).toEqual(releases.map(() => DeterminismViolationError.name));
    },
    FIXTURE_TIMEOUT,
  );

  it(
    'fails payload-exact on two audit() calls swapped, which plain replay lets through',
    async () => {
      const [reordered, reorderedCapturing] = await Promise.all([
        bundleWith([REORDERED_AUDIT]),
        bundleWith([REORDERED_AUDIT, CAPTURE]),
      ]);
      const releases = spread(
        histories.filter((h) => h.type === 'releaseWorkflow'),
        HARNESS_SAMPLE,
      );
      const affected = releases.filter((h) => holdsSwappedPair(h.history)).map((h) => h.file);
      // v1 releases predate the audit trail; the later sets have releases whose first batch holds both events.
      expect(affected.length).toBeGreaterThan(0);
      expect(affected.length).toBeLessThan(releases.length);

      const plain = await replay({ code: reordered }, releases);
      expect(replayFailures(releases, plain)).toEqual([]);

      const checked = await payloadReports(reorderedCapturing, releases);
      const failed = checked.filter((r) => r.problems.length > 0);
      expect(failed.map((r) => r.file)).toEqual(affected);
      for (const report of failed) {
        expect(report.problems[0]).toMatch(
          /^\S+\.json, event \d+ \(ActivityTaskScheduled\) activity appendAudit \(id \d+\): the replay sent a different input\n {2}first difference at args\[0\]\[\d+\]\.action: recorded "release\.requested", replayed "artifact\.verified"/,
        );
      }
      console.log(
        `reordered audit: plain replay passed all ${releases.length} release histories sampled; payload-exact failed the ${failed.length} whose audit batch holds both events, e.g.\n${failed[0]?.problems[0]}`,
      );
    },
    FIXTURE_TIMEOUT,
  );

  it(
    'counts encrypted recorded payloads as not compared, never as matching',
    async () => {
      // A recorded release with its audit batches and result sealed as the payload codec seals them (the key gone).
      // Only payloads the workflow sends are sealed: those it reads (its input, activity results) would stop the
      // replay itself, which then fails as any other replay failure.
      const original = histories.find((h) => h.type === 'releaseWorkflow' && holdsSwappedPair(h.history));
      if (!original) throw new Error('no recorded release with an audit batch');
      const sealed = await loadHistory(original.scenario, original.file.split('/').at(-1) ?? '');
      let sealedItems = 0;
      let sealedPayloads = 0;
      for (const event of sealed.history.events ?? []) {
        const scheduled = event.activityTaskScheduledEventAttributes;
        const payloads =
          scheduled?.activityType?.name === 'appendAudit'
            ? scheduled.input?.payloads
            : event.workflowExecutionCompletedEventAttributes?.result?.payloads;
        if (!payloads?.length) continue;
        sealedItems++;
        for (const payload of payloads) {
          payload.metadata = { encoding: Buffer.from('binary/encrypted'), 'encryption-key-id': Buffer.from('gone') };
          payload.data = Buffer.from('sealed, and the key is gone');
          sealedPayloads++;
        }
      }
      expect(sealedItems).toBeGreaterThan(1);

      const [clear] = await payloadReports(captureBundle, [original]);
      const [report] = await payloadReports(captureBundle, [sealed]);
      if (!clear || !report) throw new Error('no report');
      expect(report.problems).toEqual([]);
      expect(report.encryptedItems).toBe(sealedItems);
      expect(report.encryptedPayloads).toBe(sealedPayloads);
      const comparedIn = (r: PayloadReport) => Object.values(r.compared).reduce((a, b) => a + b, 0);
      expect(comparedIn(report)).toBe(comparedIn(clear) - sealedItems);
      expect(summary([report])).toContain(`${sealedItems} not compared because their recorded payloads are encrypted`);
    },
    FIXTURE_TIMEOUT,
  );
});
