// The exec driver: a team's own deploy tooling (kubectl, helm, nomad, systemd, a script) as a fleet target. For each
// step the region agent runs the command the catalog names, never one from a request, and without a shell.
//
// The contract (README "Fleet drivers"):
// - in: JSON on stdin ({ step, service, region, version, digest, artifactUrl?, percent?, requestId, idempotencyKey })
//   and the same as RELEASE_* environment variables; only PATH, HOME, LANG, TZ and the variables the catalog lists in
//   `passEnv` come from the agent's own environment (its secrets stay with it);
// - out: the last non-empty line of stdout is a JSON object (what the step returns); the lines before it, and stderr,
//   are the step's log, trimmed into the error when the step fails;
// - exit 0: done; exit 2: refused, retrying cannot help (the release rolls back); anything else, a signal, or running
//   past `timeoutSeconds`: failed for now, the step is retried with the same idempotency key;
// - a repeated idempotency key must do nothing new: a step retried after the agent died mid-step sends the same key.
import { spawn } from 'node:child_process';
import type { ExecFleetSpec } from '../../domain/catalog';
import type { z } from 'zod';
import {
  type CallOptions,
  type DeployRequest,
  type DeployResult,
  type FleetCapabilities,
  FleetError,
  type FleetTarget,
  type RegionMetrics,
  type RegionRef,
  type RegionRunning,
  type RegionState,
  runningFromState,
  type StepOutput,
} from './fleet-target';

export type ExecFleetSettings = z.infer<typeof ExecFleetSpec>;
export type ExecStep = 'deploy' | 'setTraffic' | 'promote' | 'revert' | 'status' | 'metrics';

/** What a step's command is told. */
export interface ExecStepInput extends RegionRef {
  step: ExecStep;
  version?: string;
  digest?: string;
  percent?: number;
  requestId?: string;
  /** The same for every attempt of one step of one release: a repeat must not act twice. */
  idempotencyKey?: string;
  /** Deploy: where an instance can fetch the artifact (it checks the digest before unpacking). */
  artifactUrl?: string;
}

/** Variables every command gets from the agent's environment, whatever the catalog says. */
const BASE_ENV = ['PATH', 'HOME', 'LANG', 'TZ'];
/** How much of a command's output an error quotes. */
const OUTPUT_LIMIT = 2000;
/** After the timeout, SIGTERM; this long after it, SIGKILL. */
const KILL_GRACE_MS = 5000;

export interface ExecFleetOptions {
  /** The agent's environment (default process.env); only BASE_ENV and `passEnv` are passed on. */
  env?: NodeJS.ProcessEnv;
  /** Where `artifactUrl` comes from: a URL an instance can fetch the artifact from, checked against the digest. */
  artifactUrl?: (request: DeployRequest) => string | undefined;
}

export class ExecFleetTarget implements FleetTarget {
  readonly capabilities: FleetCapabilities;

  constructor(
    private readonly settings: ExecFleetSettings,
    private readonly options: ExecFleetOptions = {},
  ) {
    this.capabilities = { sameAgeBaseline: settings.sameAgeBaseline };
  }

  async deploy(request: DeployRequest, options?: CallOptions): Promise<DeployResult> {
    const artifactUrl = this.options.artifactUrl?.(request);
    const out = await this.run(
      {
        step: 'deploy',
        ...request,
        idempotencyKey: key(request.requestId, 'deploy', request, request.version),
        ...(artifactUrl ? { artifactUrl } : {}),
      },
      options,
    );
    return {
      previousVersion: optionalString(out, 'previousVersion', 'deploy'),
      alreadyRunning: out.alreadyRunning === true,
      ...said(out),
    };
  }

  async setTraffic(
    request: RegionRef & { version: string; percent: number; requestId: string },
    options?: CallOptions,
  ): Promise<StepOutput> {
    const out = await this.run(
      {
        step: 'setTraffic',
        ...request,
        idempotencyKey: key(request.requestId, 'setTraffic', request, `${request.version}@${request.percent}`),
      },
      options,
    );
    return said(out);
  }

  async promote(
    request: RegionRef & { version: string; requestId: string },
    options?: CallOptions,
  ): Promise<{ previousVersion: string | undefined } & StepOutput> {
    const out = await this.run(
      { step: 'promote', ...request, idempotencyKey: key(request.requestId, 'promote', request, request.version) },
      options,
    );
    return { previousVersion: optionalString(out, 'previousVersion', 'promote'), ...said(out) };
  }

  async revert(
    request: RegionRef & { version: string; requestId: string },
    options?: CallOptions,
  ): Promise<StepOutput> {
    const out = await this.run(
      { step: 'revert', ...request, idempotencyKey: key(request.requestId, 'revert', request, request.version) },
      options,
    );
    return said(out);
  }

  async state(ref: RegionRef, options?: CallOptions): Promise<RegionState> {
    const out = await this.run({ step: 'status', service: ref.service, region: ref.region }, options);
    const weights = out.weights ?? {};
    if (typeof weights !== 'object' || Array.isArray(weights)) throw badResult('status', 'weights must be an object');
    if (typeof out.url !== 'string') throw badResult('status', 'url must be a string (where the traffic enters)');
    return {
      service: ref.service,
      region: ref.region,
      stableVersion: optionalString(out, 'stableVersion', 'status'),
      weights: weights as Record<string, number>,
      instances: Array.isArray(out.instances) ? (out.instances as RegionState['instances']) : [],
      url: out.url,
    };
  }

  async running(ref: RegionRef, options?: CallOptions): Promise<RegionRunning> {
    return runningFromState(await this.state(ref, options));
  }

  async metrics(ref: RegionRef, options?: CallOptions): Promise<RegionMetrics> {
    if (!this.settings.commands.metrics) {
      throw new FleetError(
        `the exec fleet of ${ref.service} has no metrics command: add commands.metrics to the catalog, or set METRICS_SOURCE=prometheus`,
        false,
      );
    }
    const out = await this.run({ step: 'metrics', service: ref.service, region: ref.region }, options);
    if (typeof out.versions !== 'object' || out.versions === null) throw badResult('metrics', 'versions is missing');
    return {
      service: ref.service,
      region: ref.region,
      since: typeof out.since === 'string' ? out.since : new Date(0).toISOString(),
      versions: out.versions as RegionMetrics['versions'],
    };
  }

  /** Runs the step's command; its JSON result, or a FleetError that says what the command said. */
  async run(input: ExecStepInput, options: CallOptions = {}): Promise<Record<string, unknown>> {
    const command = this.settings.commands[input.step];
    if (!command) throw new FleetError(`the exec fleet has no ${input.step} command`, false);
    const [program, ...args] = command as [string, ...string[]];
    const what = `${input.step} of ${input.service} in ${input.region} (${program})`;
    const child = spawn(program, args, {
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: this.environment(input),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout = keepTail(stdout + chunk, 64_000)));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = keepTail(stderr + chunk, 64_000)));
    child.stdin.on('error', () => undefined); // a command that does not read its input is fine
    child.stdin.end(JSON.stringify(input));

    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, this.settings.timeoutSeconds * 1000);
    const onAbort = () => stop();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.on('error', (error) => resolve({ code: null, signal: null, error }));
      child.on('close', (code, signal) => resolve({ code, signal }));
    }).finally(() => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    });
    // The command has ended (however): no SIGKILL for it later.
    if (killer) clearTimeout(killer);

    // A failed step has no result: all of its output is its log.
    const log = () => trimmed([stderr.trim(), stdout.trim()].filter(Boolean).join('\n'));
    if (exit.error) {
      // Not found or not executable: retrying will not help until the catalog or the host is fixed.
      const code = (exit.error as NodeJS.ErrnoException).code;
      throw new FleetError(
        `${what} could not start: ${code ?? exit.error.message}`,
        code !== 'ENOENT' && code !== 'EACCES',
      );
    }
    if (timedOut)
      throw new FleetError(`${what} ran past ${this.settings.timeoutSeconds}s and was stopped; ${log()}`, true);
    if (options.signal?.aborted) throw new FleetError(`${what} was cancelled`, true);
    if (exit.code === 2) throw new FleetError(`${what} refused: ${log() || 'no output'}`, false);
    if (exit.code !== 0) {
      const how = exit.code === null ? `was killed (${exit.signal ?? 'signal'})` : `exited ${exit.code}`;
      throw new FleetError(`${what} ${how}: ${log() || 'no output'}`, true);
    }
    const lines = stdout.trim().split('\n');
    const last = lines.at(-1)?.trim() ?? '';
    // What the command said besides its result, for the timeline and the audit trail.
    const spoken = [stderr.trim(), lines.slice(0, -1).join('\n').trim()].filter(Boolean).join('\n');
    const withLog = (result: Record<string, unknown>) =>
      Object.defineProperty(result, LOG, { value: spoken ? trimmed(spoken, TIMELINE_LIMIT) : undefined });
    if (last === '') return withLog({});
    try {
      const parsed = JSON.parse(last) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return withLog(parsed as Record<string, unknown>);
    } catch {
      throw new FleetError(`${what} printed no JSON object on its last line: ${trimmed(last)}`, false);
    }
  }

  private environment(input: ExecStepInput): NodeJS.ProcessEnv {
    const from = this.options.env ?? process.env;
    const env: NodeJS.ProcessEnv = {};
    for (const name of [...BASE_ENV, ...this.settings.passEnv]) if (from[name] !== undefined) env[name] = from[name];
    const named: Record<string, string | number | undefined> = {
      RELEASE_STEP: input.step,
      RELEASE_SERVICE: input.service,
      RELEASE_REGION: input.region,
      RELEASE_VERSION: input.version,
      RELEASE_DIGEST: input.digest,
      RELEASE_TRAFFIC_PERCENT: input.percent,
      RELEASE_REQUEST_ID: input.requestId,
      RELEASE_IDEMPOTENCY_KEY: input.idempotencyKey,
      RELEASE_ARTIFACT_URL: input.artifactUrl,
    };
    for (const [name, value] of Object.entries(named)) if (value !== undefined) env[name] = String(value);
    return env;
  }
}

/** Where run() keeps a step's log on its result (not an enumerable field: the command's JSON stays as it printed it). */
const LOG = Symbol('log');
/** How much of a step's log goes on the timeline. */
const TIMELINE_LIMIT = 500;

function said(out: Record<string, unknown>): StepOutput {
  const log = (out as { [LOG]?: string })[LOG];
  return log ? { output: log } : {};
}

/** One step of one release in one region, the same on every attempt. */
function key(requestId: string, step: ExecStep, ref: RegionRef, what: string): string {
  return `${requestId}/${ref.service}/${ref.region}/${step}/${what}`;
}

function optionalString(out: Record<string, unknown>, field: string, step: ExecStep): string | undefined {
  const value = out[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badResult(step, `${field} must be a string or null`);
  return value;
}

function badResult(step: ExecStep, why: string): FleetError {
  return new FleetError(`the exec fleet's ${step} command printed a result the engine cannot use: ${why}`, false);
}

function keepTail(text: string, max: number): string {
  return text.length > max ? text.slice(-max) : text;
}

function trimmed(text: string, limit = OUTPUT_LIMIT): string {
  return text.length > limit ? `…${text.slice(-limit)}` : text;
}
