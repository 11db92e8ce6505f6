// The `ssm` fleet target driver: runs a service's instances in a region through AWS Systems Manager Run Command.
// The instances are found by tags (Service, Region); each action is an SSM document the instances run.
//
// SendCommand has no idempotency token, so every mutating operation first runs the Status document and sends
// nothing when the desired state already holds: a retried activity never deploys, shifts or promotes twice.
// A command is followed by polling its invocations until every instance has finished; one failed instance fails the
// operation, naming the instance and its error.
//
// The documents ship with the engine (deploy/ssm/documents, installed by `relctl fleet ssm install`): a deploy gives
// the instances a short-lived URL of the artifact, and the Deploy document checks its digest before unpacking it.
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMServiceException,
  type CommandInvocation,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { Sha256Digest, Version } from '../../domain/names';
import {
  type CallOptions,
  type DeployRequest,
  type DeployResult,
  FleetError,
  type FleetTarget,
  type RegionMetrics,
  type RegionRef,
  type RegionRunning,
  type RegionState,
  type FleetCapabilities,
} from './fleet-target';

/** What the Status document prints on each instance (one JSON object on standard output). */
export const InstanceStatus = z.object({
  /** The version serving the stable share of traffic; null before anything was promoted. */
  serving: z.string().nullable(),
  /** Traffic share per version on this instance, in percent. */
  weights: z.record(z.string(), z.number()),
  /** Versions running on the instance. */
  versions: z.record(z.string(), z.object({ digest: z.string(), healthy: z.boolean() })),
});
export type InstanceStatus = z.infer<typeof InstanceStatus>;

export interface SsmDocumentNames {
  deploy: string;
  setTraffic: string;
  promote: string;
  revert: string;
  status: string;
}

export const DEFAULT_DOCUMENTS: SsmDocumentNames = {
  deploy: 'ReleaseEngine-Deploy',
  setTraffic: 'ReleaseEngine-SetTraffic',
  promote: 'ReleaseEngine-Promote',
  revert: 'ReleaseEngine-Revert',
  status: 'ReleaseEngine-Status',
};

export interface SsmFleetOptions {
  /** One client for every region, or one per region (AWS regions need their own clients). */
  client: SSMClient | ((region: string) => SSMClient);
  /** Tag names that place an instance (default Service and Region). */
  tags?: { service?: string; region?: string };
  documents?: Partial<SsmDocumentNames>;
  /** Where each region's traffic enters (e.g. a load balancer URL); state().url is '' for regions not listed. */
  endpoints?: Record<string, string>;
  /** How often a running command is polled (default 2000 ms). */
  pollIntervalMs?: number;
  /** SendCommand's TimeoutSeconds: how long SSM waits for an instance to pick the command up (default 600). */
  commandTimeoutSeconds?: number;
  /** How long to wait for a command before giving up with a retryable error (default 15 minutes). */
  maxWaitMs?: number;
  /**
   * Where instances fetch the artifact of a deploy: a short-lived URL (the engine's signed URL, or an S3 presigned
   * URL). The Deploy document checks the digest before unpacking. Without it, deploys are refused in words.
   */
  artifactUrl?: (request: DeployRequest) => string | undefined | Promise<string | undefined>;
  /** The hosts' hooks start a same-age baseline next to each canary (SsmFleetSpec.sameAgeBaseline). */
  sameAgeBaseline?: boolean;
}

interface InstanceOutcome {
  instanceId: string;
  status: string;
  stdout: string;
  stderr: string;
  details: string;
}

/** The Documents' requestId pattern: anything else (a test's free-form id) is left out, and the host sees "none". */
const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
const THROTTLING = new Set([
  'ThrottlingException',
  'TooManyUpdates',
  'RequestLimitExceeded',
  'TooManyRequestsException',
]);

/** FleetTarget on SSM Run Command: instances found by tags, one document per action. */
export class SsmFleetTarget implements FleetTarget {
  /**
   * Run Command deploys to a fixed set of instances: a baseline of the same age only where the hosts' hooks start one
   * (the catalog's sameAgeBaseline).
   */
  readonly capabilities: FleetCapabilities;
  private readonly documents: SsmDocumentNames;
  private readonly serviceTag: string;
  private readonly regionTag: string;
  private readonly pollIntervalMs: number;
  private readonly commandTimeoutSeconds: number;
  private readonly maxWaitMs: number;

  constructor(private readonly options: SsmFleetOptions) {
    this.documents = { ...DEFAULT_DOCUMENTS, ...options.documents };
    this.serviceTag = options.tags?.service ?? 'Service';
    this.regionTag = options.tags?.region ?? 'Region';
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.commandTimeoutSeconds = options.commandTimeoutSeconds ?? 600;
    this.maxWaitMs = options.maxWaitMs ?? 15 * 60_000;
    this.capabilities = { sameAgeBaseline: options.sameAgeBaseline ?? false };
  }

  async deploy(request: DeployRequest, options: CallOptions = {}): Promise<DeployResult> {
    const version = checked(Version, request.version, 'version');
    const digest = checked(Sha256Digest, request.digest, 'digest');
    const statuses = await this.statuses(request, options);
    const previousVersion = this.agreedState(request, statuses).stableVersion;
    const conflicts = statuses.filter((s) => {
      const running = s.status.versions[version];
      return running !== undefined && running.digest !== digest;
    });
    if (conflicts.length > 0) {
      const list = conflicts.map((s) => `${s.instanceId} runs ${s.status.versions[version]?.digest}`).join(', ');
      throw new FleetError(
        `${request.service}@${version} already runs in ${request.region} with another digest than ${digest} (${list})`,
        false,
      );
    }
    if (statuses.every((s) => s.status.versions[version] !== undefined)) {
      return { previousVersion, alreadyRunning: true };
    }
    const artifactUrl = await this.options.artifactUrl?.(request);
    if (!artifactUrl) {
      throw new FleetError(
        `the ssm driver has no URL the instances could fetch ${request.service}@${version} from: set ARTIFACT_URL_BASE on the workers (the API's address as instances reach it), or an artifact bucket in the catalog's ssm fleet`,
        false,
      );
    }
    const outcomes = await this.run(
      request,
      this.documents.deploy,
      { version: [version], digest: [digest], artifactUrl: [artifactUrl] },
      request.requestId,
      options,
    );
    // What the hosts said (fetched, digest checked, started) goes on the timeline and the audit trail.
    const output = outcomes
      .map((o) => `${o.instanceId}: ${o.stdout.trim().split('\n').join('; ')}`)
      .join('\n')
      .slice(0, 500);
    return { previousVersion, alreadyRunning: false, ...(output ? { output } : {}) };
  }

  async setTraffic(
    request: RegionRef & { version: string; percent: number; requestId: string },
    options: CallOptions = {},
  ): Promise<void> {
    const version = checked(Version, request.version, 'version');
    const { percent } = request;
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new FleetError(`traffic must be a whole percentage from 0 to 100, not ${percent}`, false);
    }
    const statuses = await this.statuses(request, options);
    this.requireRunning(request, version, statuses);
    if (statuses.every((s) => s.status.serving === version)) {
      throw new FleetError(`${request.service}@${version} is already the stable version in ${request.region}`, false);
    }
    if (statuses.every((s) => (s.status.weights[version] ?? 0) === percent)) return;
    await this.run(
      request,
      this.documents.setTraffic,
      { version: [version], percent: [String(percent)] },
      request.requestId,
      options,
    );
  }

  async promote(
    request: RegionRef & { version: string; requestId: string },
    options: CallOptions = {},
  ): Promise<{ previousVersion: string | undefined }> {
    const version = checked(Version, request.version, 'version');
    const statuses = await this.statuses(request, options);
    if (statuses.every((s) => settledOn(s.status, version))) return { previousVersion: undefined };
    this.requireRunning(request, version, statuses);
    // What the instances not yet on `version` serve; after a partial promote some already serve it.
    const others = new Set(statuses.filter((s) => s.status.serving !== version).map((s) => s.status.serving));
    const previousVersion = others.size === 1 ? ([...others][0] ?? undefined) : undefined;
    await this.run(request, this.documents.promote, { version: [version] }, request.requestId, options);
    return { previousVersion };
  }

  async revert(request: RegionRef & { version: string; requestId: string }, options: CallOptions = {}): Promise<void> {
    const version = checked(Version, request.version, 'version');
    const statuses = await this.statuses(request, options);
    if (statuses.every((s) => settledOn(s.status, version))) return;
    // An instance that no longer runs `version` starts it again from the release it keeps on disk.
    await this.run(request, this.documents.revert, { version: [version] }, request.requestId, options);
  }

  /**
   * The region as its instances report it. When they disagree on the stable version or the traffic split (a command
   * that failed on some of them), this throws rather than pick one: a revert to a known version reconciles them.
   */
  async state(ref: RegionRef, options: CallOptions = {}): Promise<RegionState> {
    const statuses = await this.statuses(ref, options);
    const { stableVersion, weights } = this.agreedState(ref, statuses);
    return {
      service: ref.service,
      region: ref.region,
      stableVersion,
      weights,
      instances: statuses.flatMap((s) =>
        Object.entries(s.status.versions).map(([version, v]) => ({ version, port: 0, healthy: v.healthy })),
      ),
      url: this.options.endpoints?.[ref.region] ?? '',
    };
  }

  /**
   * Unknown: telling what a region runs means a Run Command on every instance, too slow and too noisy for each
   * `service get` and `release start`. So SSM fleets get no drift check.
   */
  running(_ref: RegionRef, _options?: CallOptions): Promise<RegionRunning> {
    return Promise.resolve({
      known: false,
      reason:
        'the ssm fleet driver cannot tell what a region runs without running a command on its instances, so there is no drift check for it',
    });
  }

  metrics(_ref: RegionRef, _options?: CallOptions): Promise<RegionMetrics> {
    return Promise.reject(new FleetError('metrics for SSM fleets come from the metrics source (Prometheus)', false));
  }

  // ---- internals ----

  private client(region: string): SSMClient {
    const { client } = this.options;
    return typeof client === 'function' ? client(region) : client;
  }

  private where({ service, region }: RegionRef): string {
    return `${this.serviceTag}=${service}, ${this.regionTag}=${region}`;
  }

  /** Runs the Status document on the region's instances and parses what each printed. */
  private async statuses(ref: RegionRef, options: CallOptions) {
    const outcomes = await this.run(ref, this.documents.status, {}, undefined, options);
    return outcomes.map((o) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(o.stdout);
      } catch {
        parsed = undefined;
      }
      const status = InstanceStatus.safeParse(parsed);
      if (!status.success) {
        throw new FleetError(
          `${this.documents.status} on ${o.instanceId} printed something that is not a status: ${firstLine(o.stdout) || '(nothing)'}`,
          false,
        );
      }
      return { instanceId: o.instanceId, status: status.data };
    });
  }

  /** The stable version and weights every instance agrees on; a FleetError when they disagree. */
  private agreedState(ref: RegionRef, statuses: { instanceId: string; status: InstanceStatus }[]) {
    const describe = (s: InstanceStatus) =>
      `${s.serving ?? 'nothing'} stable, ${
        Object.entries(s.weights)
          .filter(([, w]) => w > 0)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([v, w]) => `${v} ${w}%`)
          .join(' ') || 'no traffic'
      }`;
    const groups = new Map<string, string[]>();
    for (const s of statuses) groups.set(describe(s.status), [...(groups.get(describe(s.status)) ?? []), s.instanceId]);
    if (groups.size > 1) {
      const detail = [...groups].map(([d, ids]) => `${ids.join(', ')}: ${d}`).join('; ');
      throw new FleetError(
        `the instances of ${ref.service} in ${ref.region} disagree (${detail}); revert the region to one version`,
        false,
      );
    }
    const first = statuses[0]?.status;
    const weights: Record<string, number> = {};
    for (const s of statuses) for (const v of Object.keys(s.status.weights)) weights[v] = first?.weights[v] ?? 0;
    return { stableVersion: first?.serving ?? undefined, weights };
  }

  private requireRunning(ref: RegionRef, version: string, statuses: { instanceId: string; status: InstanceStatus }[]) {
    const missing = statuses.filter((s) => s.status.versions[version] === undefined).map((s) => s.instanceId);
    if (missing.length > 0) {
      throw new FleetError(
        `${ref.service}@${version} is not deployed in ${ref.region} (not on ${missing.join(', ')})`,
        false,
      );
    }
  }

  /** Sends `document` to the region's instances and waits until each has finished; throws if any did not succeed. */
  private async run(
    ref: RegionRef,
    document: string,
    parameters: Record<string, string[]>,
    requestId: string | undefined,
    options: CallOptions,
  ): Promise<InstanceOutcome[]> {
    const client = this.client(ref.region);
    const { signal } = options;
    parameters = {
      service: [ref.service],
      ...parameters,
      ...(requestId && REQUEST_ID.test(requestId) ? { requestId: [requestId] } : {}),
    };
    const sent = await this.call(`send ${document}`, signal, () =>
      client.send(
        new SendCommandCommand({
          DocumentName: document,
          Targets: [
            { Key: `tag:${this.serviceTag}`, Values: [ref.service] },
            { Key: `tag:${this.regionTag}`, Values: [ref.region] },
          ],
          Parameters: parameters,
          TimeoutSeconds: this.commandTimeoutSeconds,
          // The request id in the comment ties the command in SSM's history to the release that sent it.
          Comment: (requestId ? `release-engine ${requestId}` : 'release-engine').slice(0, 100),
        }),
        { abortSignal: signal },
      ),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new FleetError(`SSM accepted ${document} but returned no command id`, true);
    const invocations = await this.waitFor(client, commandId, document, signal);
    if (invocations.length === 0) throw new FleetError(`no instances tagged ${this.where(ref)}`, false);

    const outcomes = await Promise.all(
      invocations.map(async (inv): Promise<InstanceOutcome> => {
        const instanceId = inv.InstanceId ?? '?';
        // Output is needed from Status and Deploy, and from instances that did not succeed (their standard error).
        if (document !== this.documents.status && document !== this.documents.deploy && inv.Status === 'Success') {
          return { instanceId, status: 'Success', stdout: '', stderr: '', details: inv.StatusDetails ?? '' };
        }
        const out = await this.call(`read the output of ${document} on ${instanceId}`, signal, () =>
          client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }), {
            abortSignal: signal,
          }),
        );
        return {
          instanceId,
          status: out.Status ?? inv.Status ?? 'Failed',
          stdout: out.StandardOutputContent ?? '',
          stderr: out.StandardErrorContent ?? '',
          details: out.StatusDetails ?? inv.StatusDetails ?? '',
        };
      }),
    );
    const failed = outcomes.filter((o) => o.status !== 'Success');
    if (failed.length > 0) {
      const what = failed
        .map((o) => {
          // A document ends with its reason (the documents' `fail`), after whatever its tools said before.
          const reason = lastLine(o.stderr) || (o.status === 'TimedOut' ? 'timed out' : o.details || o.status);
          return `${o.instanceId} ${o.status === 'TimedOut' ? 'timed out' : o.status.toLowerCase()}: ${reason}`;
        })
        .join('; ');
      // A timed-out instance may finish next time; a document that ran and failed (or a cancelled command) will not.
      const retryable = failed.every((o) => o.status === 'TimedOut');
      throw new FleetError(
        `${document} did not succeed on ${failed.length} of ${outcomes.length} instances of ${ref.service} in ${ref.region}: ${what}`,
        retryable,
      );
    }
    return outcomes;
  }

  /** Polls the command's invocations until all are finished; [] when the command matched no instance. */
  private async waitFor(
    client: SSMClient,
    commandId: string,
    document: string,
    signal: AbortSignal | undefined,
  ): Promise<CommandInvocation[]> {
    const deadline = Date.now() + this.maxWaitMs;
    for (;;) {
      const invocations = await this.invocations(client, commandId, document, signal);
      if (invocations.length > 0 && invocations.every((i) => TERMINAL.has(i.Status ?? ''))) return invocations;
      if (invocations.length === 0) {
        // Tag targets resolve after SendCommand returns, so no invocation yet may mean "not yet" or "no instance":
        // the command's own status tells them apart.
        const listed = await this.call(`look up ${document} command ${commandId}`, signal, () =>
          client.send(new ListCommandsCommand({ CommandId: commandId }), { abortSignal: signal }),
        );
        const status = listed.Commands?.[0]?.Status ?? '';
        if (TERMINAL.has(status)) return this.invocations(client, commandId, document, signal);
      }
      if (Date.now() > deadline) {
        throw new FleetError(
          `${document} command ${commandId} was still running after ${Math.round(this.maxWaitMs / 1000)}s`,
          true,
        );
      }
      await sleep(this.pollIntervalMs, signal);
    }
  }

  private async invocations(
    client: SSMClient,
    commandId: string,
    document: string,
    signal: AbortSignal | undefined,
  ): Promise<CommandInvocation[]> {
    const all: CommandInvocation[] = [];
    let NextToken: string | undefined;
    do {
      const page = await this.call(`poll ${document} command ${commandId}`, signal, () =>
        client.send(new ListCommandInvocationsCommand({ CommandId: commandId, NextToken }), { abortSignal: signal }),
      );
      all.push(...(page.CommandInvocations ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return all;
  }

  /** Runs one SDK call; a cancelled caller gets its signal's reason, anything else a FleetError. */
  private async call<T>(what: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      signal?.throwIfAborted();
      throw toFleetError(what, err);
    }
  }
}

/** Maps an SDK error (after the SDK's own retries) to a FleetError that says whether retrying can help. */
export function toFleetError(what: string, err: unknown): FleetError {
  if (err instanceof FleetError) return err;
  if (err instanceof SSMServiceException) {
    const attempts = err.$metadata.attempts;
    if (THROTTLING.has(err.name) || err.$retryable?.throttling) {
      return new FleetError(
        `SSM kept throttling the request to ${what}${attempts ? ` (${attempts} attempts)` : ''}: ${err.message}`,
        true,
      );
    }
    if (err.$fault === 'server') return new FleetError(`SSM failed to ${what}: ${err.name}: ${err.message}`, true);
    // Access denied, unrecognised credentials, an unknown document, bad parameters: the same request fails again.
    return new FleetError(`SSM refused to ${what}: ${err.name}: ${err.message}`, false);
  }
  // No answer from SSM at all (network, DNS, credentials not found): possibly transient.
  const e = err as Error;
  return new FleetError(`could not reach SSM to ${what}: ${e.message}`, true);
}

/** True when `version` serves all traffic and nothing else runs: the state promote and revert aim for. */
function settledOn(status: InstanceStatus, version: string): boolean {
  return (
    status.serving === version &&
    (status.weights[version] ?? 0) === 100 &&
    Object.keys(status.versions).every((v) => v === version)
  );
}

function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  // Values end up as document parameters run on instances, so anything unexpected is refused before sending.
  if (!result.success)
    throw new FleetError(`bad ${what} ${JSON.stringify(value)}: ${result.error.issues[0]?.message}`, false);
  return result.data;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.trim() ?? '';
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
