// The engine of the `workflow` test layer: the real workflows (the prebuilt bundle, on the shared dev server) and the
// real activity factories, run by the project's own createEngineWorkers on task queues of this test alone, with every
// provider in memory (test/support/memory-providers.ts). Releases are planned from a catalog entry and started
// through the service coordinator exactly as the API does; durations are short inputs (bakes of a second), never
// skipped time. Each test gets its own service, regions and task queues, and useWorkflowEngines() tears it all down.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, WorkflowNotFoundError } from '@temporalio/common';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterEach, inject } from 'vitest';
import { type ServiceSpec, ServiceCatalog } from '../../domain/catalog';
import { releaseWorkflowId, serviceWorkflowId } from '../../domain/names';
import { planRelease, type ReleasePlan } from '../../domain/plan';
import { ReleaseRequest } from '../../domain/release-request';
import type { ReleaseStatus } from '../../domain/release-status';
import type { Principal, Role } from '../../domain/roles';
import { DecisionSigner } from '../../providers/keys/decision-keys';
import { createEngineWorkers, runWorkers } from '../../workers/engine-workers';
import {
  decideGate,
  getReleaseStatus,
  getRollbackStatus,
  getServiceState,
  requestEmergencyRollback,
  controlRelease,
  startRelease,
} from '../../workflows/lifecycle';
import { recheckFreezeSignal, type RollbackStatus } from '../../workflows/messages';
import { createMemoryProviders, type PublishOptions } from './memory-providers';
import { quietRuntime } from './quiet-runtime';

/** The people of these tests and their roles (as the API would resolve their tokens). */
export const PEOPLE = {
  ci: ['pipeline'],
  // Starts and approves releases: separation of duties must still stop her approving her own.
  dana: ['pipeline', 'approver'],
  alice: ['approver'],
  bob: ['approver'],
  carol: ['approver'],
  olga: ['operator'],
  sam: ['sre', 'operator'],
  sid: ['sre'],
} satisfies Record<string, Role[]>;
export type Person = keyof typeof PEOPLE;

export interface EnvironmentOption {
  name: string;
  /** Waves of short region names (each gets the engine's suffix). */
  waves: string[][];
  database?: boolean;
  production?: boolean;
}

export interface WorkflowEngineOptions {
  /** Environments in promotion order; default one production environment with one region `a`. */
  environments?: EnvironmentOption[];
  /** Catalog fields of the service, over the short test defaults (bakeSeconds 1, one 50% canary step, ...). */
  service?: Record<string, unknown>;
  /** What every region runs before the test (default 1.0.0); null for nothing. */
  runs?: string | null;
  /** Versions published (signed, without migrations) before the test; publish() adds others. */
  versions?: string[];
  /** Short names of the regions whose agent runs from the start (default all); see startRegionAgent. */
  agents?: string[];
}

export interface StartOptions {
  releaseId?: string;
  changeClass?: 'standard' | 'normal' | 'emergency';
  by?: Person;
  reason?: string;
  queue?: boolean;
  bakeSeconds?: number;
  /** When this start creates the service's coordinator: the most releases it queues. */
  queueLimit?: number;
  /** When this start creates the service's coordinator: the history length at which it continues-as-new. */
  historyLimit?: number;
}

export type WorkflowEngine = Awaited<ReturnType<typeof startWorkflowEngine>>;

/** Starts workers for a fresh service on the shared dev server, with in-memory providers. */
export async function startWorkflowEngine(options: WorkflowEngineOptions = {}) {
  quietRuntime();
  const suffix = randomBytes(4).toString('hex');
  const service = `svc-${suffix}`;
  const region = (short: string) => `${short}-${suffix}`;
  const environments = (options.environments ?? [{ name: 'production', waves: [['a']] }]).map((env) => ({
    name: env.name,
    database: env.database ?? false,
    ...(env.production !== undefined ? { production: env.production } : {}),
    waves: env.waves.map((wave) => wave.map(region)),
  }));
  const regions = environments.flatMap((env) => env.waves.flat());
  const [spec] = ServiceCatalog.parse({
    services: [
      {
        name: service,
        bakeSeconds: 1,
        // These tests drive the release logic with programmed windows, one per analysis: the fixed-window judge
        // takes one window per step. The sequential judge's own tests choose it (test/workflow/canary-judging).
        canary: { steps: [{ percent: 50 }], analysis: { minRequests: 10 }, judge: 'fixed-window' },
        smokeTest: { requests: 3 },
        approvals: { timeoutSeconds: 120 },
        // Long enough that a busy machine never flags a healthy region; the stall test sets its own.
        stallAlertSeconds: 60,
        signing: { required: true },
        environments,
        ...options.service,
      },
    ],
  }).services as [ServiceSpec];

  const providers = createMemoryProviders();
  await providers.start();
  providers.trustSigningKey(service);
  const initial = options.runs === undefined ? '1.0.0' : (options.runs ?? undefined);
  for (const name of regions) providers.fleet.addRegion(service, name, initial);
  for (const version of options.versions ?? ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '2.0.0']) {
    await providers.publish(service, version);
  }

  const address = inject('temporalAddress');
  const codePath = inject('workflowBundlePath');
  const signer = DecisionSigner.fromPem(inject('decisionSigningKeyPem'), 'default');
  const trustedKeys = inject('trustedDecisionKeys');
  const releaseTaskQueue = `releases-${suffix}`;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address });
  const running: { workers: Worker[]; run: Promise<void> }[] = [];

  async function serve(regionsServed: string[], withReleases: boolean) {
    const workers = await createEngineWorkers({
      connection: nativeConnection,
      trustedKeys,
      ...(withReleases ? { releaseTaskQueue, releaseDeps: providers.releaseDeps } : {}),
      regions: regionsServed,
      regionDeps: providers.regionDeps,
      workflowBundle: { codePath },
      identity: `workflow-test-${suffix}`,
    });
    running.push({ workers, run: runWorkers(workers) });
  }
  try {
    await serve(options.agents ? options.agents.map(region) : regions, true);
  } catch (err) {
    await Promise.allSettled([providers.close(), nativeConnection.close(), connection.close()]);
    throw err;
  }

  const principal = (who: Person): Principal => ({ id: who, roles: [...PEOPLE[who]] });
  let releaseCount = 0;
  let rollbackCount = 0;

  async function status(releaseId: string): Promise<ReleaseStatus> {
    const found = await getReleaseStatus(client, service, releaseId);
    if (!found) throw new Error(`there is no release ${releaseId} of ${service}`);
    return found;
  }

  /** Polls the release's status until `predicate` holds; on timeout, says where the release was and what it did. */
  async function waitFor(
    releaseId: string,
    predicate: (s: ReleaseStatus) => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<ReleaseStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: ReleaseStatus | undefined;
    for (;;) {
      last = (await getReleaseStatus(client, service, releaseId).catch(() => last)) ?? last;
      if (last && predicate(last)) return last;
      if (Date.now() > deadline) throw new Error(describeWait(releaseId, what, timeoutMs, last));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const engine = {
    suffix,
    service,
    spec,
    regions,
    releaseTaskQueue,
    client,
    /** Signs as the API does. */
    signer,
    providers,
    fleet: providers.fleet,
    metrics: providers.metrics,
    artifacts: providers.artifacts,
    audit: providers.audit,
    notifier: providers.notifier,
    ledger: providers.ledger,
    calendar: providers.calendar,
    journal: providers.journal,
    /** The full name of a region from its short name ('a' -> 'a-1f2e3d4c'). */
    region,
    /** The database of one of the service's environments. */
    database: (environment: string) => providers.databases.of(service, environment),
    /** The version a region runs now (its stable version in the fleet). */
    runs: (short: string) => providers.fleet.inspect(service, region(short)).stableVersion,
    publish: (version: string, publishOptions?: PublishOptions) => providers.publish(service, version, publishOptions),
    setConfig: (environment: string, key: string) => providers.setConfig(service, environment, key),

    /** Plans the release from the catalog entry and starts it through the service coordinator, as the API does. */
    async start(version: string, start: StartOptions = {}): Promise<{ releaseId: string; plan: ReleasePlan }> {
      const request = ReleaseRequest.parse({
        service,
        version,
        releaseId: start.releaseId ?? `r${++releaseCount}`,
        changeClass: start.changeClass ?? 'standard',
        ...(start.reason ? { reason: start.reason } : {}),
        ...(start.bakeSeconds !== undefined ? { bakeSeconds: start.bakeSeconds } : {}),
        queue: start.queue ?? false,
      });
      const releaseId = request.releaseId ?? '';
      const plan = planRelease({ ...request, releaseId }, spec);
      await startRelease(
        client,
        { plan, requestedBy: start.by ?? 'ci', ...(request.reason ? { reason: request.reason } : {}) },
        {
          signer,
          taskQueue: releaseTaskQueue,
          queue: request.queue,
          ...(start.queueLimit !== undefined ? { queueLimit: start.queueLimit } : {}),
          ...(start.historyLimit !== undefined ? { historyLimit: start.historyLimit } : {}),
        },
      );
      return { releaseId, plan };
    },

    approve: (releaseId: string, gate: string, who: Person, comment?: string) =>
      decideGate(
        client,
        service,
        releaseId,
        'approve',
        {
          gate,
          principal: principal(who),
          ...(comment ? { comment } : {}),
        },
        signer,
      ),
    reject: (releaseId: string, gate: string, who: Person, comment: string) =>
      decideGate(client, service, releaseId, 'reject', { gate, principal: principal(who), comment }, signer),
    pause: (releaseId: string, by: Person, reason?: string) =>
      controlRelease(client, service, releaseId, { kind: 'pause', by, ...(reason ? { reason } : {}) }, signer),
    resume: (releaseId: string, by: Person) =>
      controlRelease(client, service, releaseId, { kind: 'resume', by }, signer),
    abort: (releaseId: string, by: Person, reason: string) =>
      controlRelease(client, service, releaseId, { kind: 'abort', by, reason }, signer),

    /** Asks the coordinator for an emergency rollback of the service (every region, or the short names given). */
    async rollback(by: Person, reason: string, rollback: { regions?: string[]; rollbackId?: string } = {}) {
      const rollbackId = rollback.rollbackId ?? `rb${++rollbackCount}`;
      const started = await requestEmergencyRollback(
        client,
        { service, rollbackId, regions: rollback.regions?.map(region) ?? regions, reason, requestedBy: by },
        { signer, taskQueue: releaseTaskQueue },
      );
      return { rollbackId, ...started };
    },

    status,
    waitFor,
    serviceState: () => getServiceState(client, service),

    /** Waits until the gate is open for decisions. */
    waitForGate: (releaseId: string, gate: string, timeoutMs?: number) =>
      waitFor(
        releaseId,
        (s) => s.gates.find((g) => g.id === gate)?.status === 'waiting',
        `gate ${gate} to open`,
        timeoutMs,
      ),

    /**
     * Waits until the release has its outcome and has closed (its last audit records and notifications are written
     * after the outcome is set), and returns its final status.
     */
    async waitForOutcome(releaseId: string, timeoutMs = 30_000): Promise<ReleaseStatus> {
      const final = await waitFor(releaseId, (s) => s.outcome !== undefined, 'an outcome', timeoutMs);
      await client.workflow
        .getHandle(releaseWorkflowId(service, releaseId))
        .result()
        .catch(() => undefined);
      return final;
    },

    /** Waits until the emergency rollback has finished. */
    async waitForRollback(rollbackId: string, timeoutMs = 30_000): Promise<RollbackStatus> {
      const deadline = Date.now() + timeoutMs;
      let last: RollbackStatus | undefined;
      for (;;) {
        last = (await getRollbackStatus(client, service, rollbackId).catch(() => last)) ?? last;
        if (last?.finishedAt) return last;
        if (Date.now() > deadline) {
          const timeline = last?.timeline.map((e) => `  ${e.message}`).join('\n') ?? '  (no status yet)';
          throw new Error(
            `rollback ${rollbackId} did not finish within ${timeoutMs}ms; it is at stage ${last?.stage}:\n${timeline}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },

    /** Who had each decision accepted into the release's history (refused ones never enter it). */
    async acceptedDecisions(releaseId: string): Promise<string[]> {
      const history = await client.workflow.getHandle(releaseWorkflowId(service, releaseId)).fetchHistory();
      return (history.events ?? []).flatMap((e) => {
        const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
        const [payload] = accepted?.acceptedRequest?.input?.args?.payloads ?? [];
        if (!accepted || !payload) return [];
        const decision = defaultPayloadConverter.fromPayload<{ principal: { id: string } }>(payload);
        return [`${accepted.acceptedRequest?.input?.name}:${decision.principal.id}`];
      });
    },

    /**
     * Tells the release the calendar changed (the signal the calendar API's recheckFreezes sends to every waiting
     * release; sent to this release only, so tests running side by side never wake each other's), again until it has
     * noticed: a recheck that arrives while the release is still writing its freeze-wait audit record is lost (a
     * known bug; see release-freeze.test.ts).
     */
    async calendarChanged(releaseId: string, timeoutMs = 10_000): Promise<ReleaseStatus> {
      const handle = client.workflow.getHandle(releaseWorkflowId(service, releaseId));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // A release that went on after the previous signal may have finished already (e.g. failed at once).
        const closed = await handle.signal(recheckFreezeSignal).then(
          () => false,
          (err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return true;
            throw err;
          },
        );
        const now = await status(releaseId);
        if (closed) return now;
        if (now.stage !== 'waiting-for-freeze') return now;
        if (Date.now() > deadline) throw new Error(describeWait(releaseId, 'the calendar change', timeoutMs, now));
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },

    /** Starts the agent of a region that had none, as a region agent process would. */
    startRegionAgent: (short: string) => serve([region(short)], false),

    async close() {
      // Nothing this test started may keep running on the shared server: close every open workflow of the service.
      const ids = [
        `WorkflowId = "${serviceWorkflowId(service)}"`,
        ...['release', 'region-rollout', 'rollback'].map((kind) => `WorkflowId STARTS_WITH "${kind}/${service}/"`),
      ].join(' OR ');
      const open: string[] = [];
      for await (const execution of client.workflow.list({ query: `(${ids}) AND ExecutionStatus = "Running"` })) {
        open.push(execution.workflowId);
      }
      await Promise.all(
        open.map((id) =>
          client.workflow
            .getHandle(id)
            .terminate('the test is over')
            .catch(() => undefined),
        ),
      );
      await providers.close();
      for (const { workers } of running)
        for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all(running.map(({ run }) => run.catch(() => undefined)));
      await nativeConnection.close();
      await connection.close();
    },
  };
  return engine;
}

function describeWait(releaseId: string, what: string, timeoutMs: number, last: ReleaseStatus | undefined): string {
  if (!last) return `waited ${timeoutMs}ms for ${what}, but release ${releaseId} never answered its status query`;
  const gates = last.gates.map((g) => `${g.id} (${g.status})`).join(', ') || 'none';
  const timeline = last.timeline.map((e) => `  ${e.message}`).join('\n');
  return (
    `waited ${timeoutMs}ms for ${what}; release ${releaseId} is at stage ${last.stage}` +
    `${last.paused ? ' (paused)' : ''}, gates: ${gates}; timeline:\n${timeline}`
  );
}

/**
 * One engine per test, closed after it: `const engines = useWorkflowEngines();` in a describe block, then
 * `const engine = await engines.start({...})` in the test.
 */
export function useWorkflowEngines() {
  const started: WorkflowEngine[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((engine) => engine.close()));
  });
  return {
    start: async (options: WorkflowEngineOptions = {}) => {
      const engine = await startWorkflowEngine(options);
      started.push(engine);
      return engine;
    },
  };
}
