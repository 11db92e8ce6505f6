// A test double of AWS Systems Manager: a real HTTP server speaking SSM's wire protocol (AWS JSON 1.1), so tests
// drive it with the real @aws-sdk/client-ssm (request signing, serialisation, retries, error classes) instead of a
// stub of our own providers. It covers the Parameter Store and Run Command operations the release engine uses, and
// simulates EC2 instances that run the release engine's documents against their own state.
//
// Deliberately like the real service: dates are epoch seconds, errors are HTTP 400 with `__type`, pages are capped
// (10 parameters per GetParametersByPath page, and a full page always carries a NextToken, even when the next page
// is empty), names under the reserved aws/ssm prefixes are refused, tag targets resolve asynchronously (a command
// starts with no invocations), and a command that matches no instance simply succeeds with TargetCount 0.
// Its Parameter Store part is compared with moto_server in test/acceptance/ssm-config-store.test.ts.
//
// Documents installed into it (CreateDocument, UpdateDocument: what `relctl fleet ssm install` does) are executed as the
// SSM agent would: parameters checked against the document's allowedPattern and defaults, substituted into the
// aws:runShellScript lines, and the script run by a local /bin/sh in the instance's own root directory, its exit code,
// standard output and error becoming the invocation's. So a test proves the shipped documents work. Documents that were
// never installed fall back to a simulation of the same steps (for the driver's own tests of timing and faults).
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shippedSsmDocuments, type SsmDocument } from '../../providers/fleet/ssm-documents';
import type { InstanceStatus } from '../../providers/fleet/ssm-fleet';

/** One request the double received, as parsed; `error` is the error code it answered with, if any. */
export interface FakeSsmCall {
  operation: string;
  body: Record<string, unknown>;
  error?: string;
}

export interface FakeSsmOptions {
  /** Delay between the steps of a command (targets resolved, started, finished). */
  commandDelayMs?: number;
  /** The AWS region in ARNs. */
  region?: string;
}

/** A simulated EC2 instance as the test declares it. */
export interface FakeInstanceSpec {
  id: string;
  tags: Record<string, string>;
  /** A version already serving all traffic when the instance starts (simulated documents only). */
  serving?: { version: string; digest: string };
  /**
   * The instance's own directory (its RELEASE_ENGINE_ROOT) and environment, for installed documents, which run as
   * shell scripts there; default a new temporary directory and no variables but PATH.
   */
  root?: string;
  env?: Record<string, string>;
}

/** An instance's release state, as a test inspects it. */
export interface FakeInstanceState {
  id: string;
  tags: Record<string, string>;
  serving: string | undefined;
  weights: Record<string, number>;
  /** Running versions and their digests. */
  running: Record<string, string>;
  /** Releases on the instance's disk (kept after a version stops, so a revert can start it again). */
  releases: Record<string, string>;
}

class SsmError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

interface StoredParameter {
  name: string;
  type: string;
  value: string;
  version: number;
  lastModified: number;
}

interface SimInstance {
  id: string;
  tags: Record<string, string>;
  serving: string | undefined;
  weights: Record<string, number>;
  running: Map<string, { digest: string; healthy: boolean }>;
  releases: Map<string, string>;
  /** Faults the next documents will hit; `document` limits a fault to one document. */
  faults: { kind: 'fail' | 'timeout'; message: string; document: string | undefined }[];
  root: string;
  env: Record<string, string>;
}

interface StoredDocument {
  name: string;
  versions: { version: string; versionName: string | undefined; content: string; createdAt: number }[];
  defaultVersion: string;
}

type InvocationStatus = 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

interface SimInvocation {
  instanceId: string;
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  stdout: string;
  stderr: string;
  requestedAt: number;
  startedAt?: number;
  endedAt?: number;
}

interface SimCommand {
  id: string;
  documentName: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  targets: { Key: string; Values: string[] }[];
  comment: string;
  timeoutSeconds: number;
  requestedAt: number;
  /** False until tag targets are resolved (invocations appear then). */
  resolved: boolean;
  invocations: SimInvocation[];
  /** An installed document: run by the shell, not simulated. */
  script?: SsmDocument;
}

interface DocumentOutcome {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** The documents the simulated instances know when none was installed: the shipped ones' names and parameters. */
const SIMULATED: Record<string, SsmDocument> = shippedSsmDocuments();

const HISTORY_LIMIT = 100;
const TERMINAL = new Set<InvocationStatus>(['Success', 'Failed', 'TimedOut', 'Cancelled']);

const nowSeconds = () => Date.now() / 1000;
const isoOf = (seconds: number | undefined) => (seconds === undefined ? '' : new Date(seconds * 1000).toISOString());

export class FakeSsm {
  /** Every request received, oldest first (including refused and throttled ones). */
  readonly calls: FakeSsmCall[] = [];
  private readonly parameters = new Map<string, StoredParameter[]>();
  private readonly instances = new Map<string, SimInstance>();
  private readonly commands = new Map<string, SimCommand>();
  private readonly injected = new Map<string, { code: string; message: string; times: number }>();
  private readonly documents = new Map<string, StoredDocument>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly children = new Set<ReturnType<typeof spawn>>();
  private readonly scratch = mkdtempSync(join(tmpdir(), 'fake-ssm-'));
  private readonly delayMs: number;
  private readonly region: string;
  private url = '';

  private constructor(
    private readonly server: Server,
    options: FakeSsmOptions,
  ) {
    this.delayMs = options.commandDelayMs ?? 20;
    this.region = options.region ?? 'us-east-1';
  }

  /** Starts the double on 127.0.0.1 with a free port. */
  static async start(options: FakeSsmOptions = {}): Promise<FakeSsm> {
    const holder: { fake?: FakeSsm } = {};
    const server = createServer((req, res) => void holder.fake?.handle(req, res));
    const fake = new FakeSsm(server, options);
    holder.fake = fake;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The endpoint to give the SDK client. */
  get endpoint(): string {
    return this.url;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const child of this.children) child.kill('SIGKILL');
    rmSync(this.scratch, { recursive: true, force: true });
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The calls of one operation, oldest first. */
  callsTo(operation: string): FakeSsmCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  /** The SendCommand calls for one document, oldest first. */
  commandsSent(documentName: string): FakeSsmCall[] {
    return this.callsTo('SendCommand').filter((c) => c.body.DocumentName === documentName && !c.error);
  }

  /** Registers a simulated instance (managed by SSM, with its tags). */
  addInstance(spec: FakeInstanceSpec): void {
    const instance: SimInstance = {
      id: spec.id,
      tags: { ...spec.tags },
      serving: undefined,
      weights: {},
      running: new Map(),
      releases: new Map(),
      faults: [],
      root: spec.root ?? join(this.scratch, spec.id),
      env: { ...spec.env },
    };
    mkdirSync(instance.root, { recursive: true });
    if (spec.serving) {
      instance.serving = spec.serving.version;
      instance.weights = { [spec.serving.version]: 100 };
      instance.running.set(spec.serving.version, { digest: spec.serving.digest, healthy: true });
      instance.releases.set(spec.serving.version, spec.serving.digest);
    }
    this.instances.set(spec.id, instance);
  }

  /** An instance's current release state. */
  instance(id: string): FakeInstanceState {
    const i = this.instances.get(id);
    if (!i) throw new Error(`the fake has no instance ${id}`);
    return {
      id: i.id,
      tags: { ...i.tags },
      serving: i.serving,
      weights: { ...i.weights },
      running: Object.fromEntries([...i.running].map(([v, r]) => [v, r.digest])),
      releases: Object.fromEntries(i.releases),
    };
  }

  /** Marks a running version of an instance (un)healthy, as its Status document will report. */
  setHealthy(id: string, version: string, healthy: boolean): void {
    const running = this.instances.get(id)?.running.get(version);
    if (!running) throw new Error(`instance ${id} does not run ${version}`);
    running.healthy = healthy;
  }

  /**
   * The next document run on `instanceId` (or the next run of `document` there) fails with `message` on standard
   * error and exit code 1.
   */
  failNext(instanceId: string, message: string, document?: string): void {
    this.mustHaveInstance(instanceId).faults.push({ kind: 'fail', message, document });
  }

  /** The next document run on `instanceId` (or the next run of `document` there) times out. */
  timeOutNext(instanceId: string, document?: string): void {
    this.mustHaveInstance(instanceId).faults.push({ kind: 'timeout', message: '', document });
  }

  /** The next `times` calls of `operation` are refused with ThrottlingException. */
  throttle(operation: string, times: number): void {
    this.failCalls(operation, 'ThrottlingException', 'Rate exceeded', times);
  }

  /** The next `times` calls of `operation` are refused with the error `code` (e.g. AccessDeniedException). */
  failCalls(operation: string, code: string, message: string, times = 1): void {
    this.injected.set(operation, { code, message, times });
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      // The client went away mid-request (an aborted call): nothing to answer.
      res.destroy();
      return;
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('AmazonSSM.') ? target.slice('AmazonSSM.'.length) : target;
    let body: Record<string, unknown> = {};
    const call: FakeSsmCall = { operation, body };
    this.calls.push(call);
    try {
      if (req.method !== 'POST' || req.url !== '/') throw new SsmError('UnknownOperationException', 'POST / only');
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1')) {
        throw new SsmError('UnknownOperationException', 'the content type must be application/x-amz-json-1.1');
      }
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256')) {
        throw new SsmError('UnrecognizedClientException', 'The security token included in the request is invalid.');
      }
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        throw new SsmError('SerializationException', 'the request body is not JSON');
      }
      call.body = body;
      const injected = this.injected.get(operation);
      if (injected && injected.times > 0) {
        injected.times -= 1;
        throw new SsmError(injected.code, injected.message);
      }
      const result = this.dispatch(operation, body);
      this.reply(res, 200, result);
    } catch (err) {
      const e = err instanceof SsmError ? err : new SsmError('InternalServerError', (err as Error).message, 500);
      call.error = e.code;
      this.reply(res, e.status, { __type: e.code, message: e.message });
    }
  }

  private reply(res: ServerResponse, status: number, body: unknown) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
    });
    res.end(text);
  }

  private dispatch(operation: string, body: Record<string, unknown>): unknown {
    switch (operation) {
      case 'PutParameter':
        return this.putParameter(body);
      case 'GetParameter':
        return this.getParameter(body);
      case 'GetParametersByPath':
        return this.getParametersByPath(body);
      case 'GetParameterHistory':
        return this.getParameterHistory(body);
      case 'DeleteParameter':
        return this.deleteParameter(body);
      case 'SendCommand':
        return this.sendCommand(body);
      case 'ListCommands':
        return this.listCommands(body);
      case 'ListCommandInvocations':
        return this.listCommandInvocations(body);
      case 'GetCommandInvocation':
        return this.getCommandInvocation(body);
      case 'CreateDocument':
        return this.createDocument(body);
      case 'UpdateDocument':
        return this.updateDocument(body);
      case 'DescribeDocument':
        return { Document: this.describeDocument(this.mustHaveDocument(body), body.DocumentVersion) };
      case 'GetDocument':
        return this.getDocument(body);
      case 'UpdateDocumentDefaultVersion':
        return this.updateDocumentDefaultVersion(body);
      default:
        throw new SsmError('UnknownOperationException', `the double does not implement ${operation}`);
    }
  }

  // ---- Parameter Store ----

  private putParameter(body: Record<string, unknown>) {
    const name = requiredString(body, 'Name');
    const value = requiredString(body, 'Value');
    if (value.length === 0) {
      throw new SsmError(
        'ValidationException',
        "1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    }
    validateName(name);
    const versions = this.parameters.get(name) ?? [];
    const latest = versions.at(-1);
    if (latest && body.Overwrite !== true) {
      throw new SsmError(
        'ParameterAlreadyExists',
        'The parameter already exists. To overwrite this request, set the overwrite option in the request to true.',
      );
    }
    const type = typeof body.Type === 'string' ? body.Type : latest?.type;
    if (!type) throw new SsmError('ValidationException', 'A parameter type is required when you create a parameter.');
    if (!['String', 'StringList', 'SecureString'].includes(type)) {
      throw new SsmError('ValidationException', `Type ${type} is not String, StringList or SecureString.`);
    }
    const version = (latest?.version ?? 0) + 1;
    versions.push({ name, type, value, version, lastModified: nowSeconds() });
    this.parameters.set(name, versions.slice(-HISTORY_LIMIT));
    return { Version: version, Tier: 'Standard' };
  }

  private parameterOut(p: StoredParameter, decrypt: boolean) {
    return {
      Name: p.name,
      Type: p.type,
      Value: p.type === 'SecureString' && !decrypt ? encrypted(p.value) : p.value,
      Version: p.version,
      LastModifiedDate: p.lastModified,
      ARN: `arn:aws:ssm:${this.region}:123456789012:parameter/${p.name.replace(/^\//, '')}`,
      DataType: 'text',
    };
  }

  private getParameter(body: Record<string, unknown>) {
    const name = requiredString(body, 'Name');
    const latest = this.parameters.get(name)?.at(-1);
    if (!latest) throw new SsmError('ParameterNotFound', `Parameter ${name} not found.`);
    return { Parameter: this.parameterOut(latest, body.WithDecryption === true) };
  }

  private getParametersByPath(body: Record<string, unknown>) {
    const path = requiredString(body, 'Path');
    if (!path.startsWith('/')) throw new SsmError('ValidationException', 'The parameter path must begin with /.');
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const max = pageSize(body, 10);
    const matching = [...this.parameters.keys()]
      .filter(
        (name) => name.startsWith(prefix) && (body.Recursive === true || !name.slice(prefix.length).includes('/')),
      )
      .sort();
    const scope = `path:${prefix}:${String(body.Recursive === true)}`;
    const start = readToken(body, scope);
    const page = matching.slice(start, start + max).flatMap((name) => this.parameters.get(name)?.slice(-1) ?? []);
    return {
      Parameters: page.map((p) => this.parameterOut(p, body.WithDecryption === true)),
      // Results are best effort: a full page does not know it is the last, so a caller must follow the token to an
      // empty page (moto_server behaves so too).
      NextToken: page.length === max ? writeToken(scope, start + max) : undefined,
    };
  }

  private getParameterHistory(body: Record<string, unknown>) {
    const name = requiredString(body, 'Name');
    const versions = this.parameters.get(name);
    if (!versions) throw new SsmError('ParameterNotFound', `Parameter ${name} not found.`);
    const max = pageSize(body, 50);
    const scope = `history:${name}`;
    const start = readToken(body, scope);
    return {
      Parameters: versions.slice(start, start + max).map((p) => ({
        ...this.parameterOut(p, body.WithDecryption === true),
        ARN: undefined,
        LastModifiedUser: 'arn:aws:iam::123456789012:user/release-engine',
        Labels: [],
        Tier: 'Standard',
        Policies: [],
      })),
      NextToken: start + max < versions.length ? writeToken(scope, start + max) : undefined,
    };
  }

  private deleteParameter(body: Record<string, unknown>) {
    const name = requiredString(body, 'Name');
    if (!this.parameters.delete(name)) throw new SsmError('ParameterNotFound', `Parameter ${name} not found.`);
    return {};
  }

  // ---- Run Command ----

  private sendCommand(body: Record<string, unknown>) {
    const documentName = requiredString(body, 'DocumentName');
    const installed = this.documents.get(documentName);
    const document = installed ? this.contentOf(installed, installed.defaultVersion) : SIMULATED[documentName];
    if (!document) throw new SsmError('InvalidDocument', `Document with name ${documentName} does not exist.`);
    const parameters = { ...((body.Parameters ?? {}) as Record<string, unknown>) };
    const declared = document.parameters;
    for (const [key, values] of Object.entries(parameters)) {
      const spec = declared[key];
      if (!spec) throw new SsmError('InvalidParameters', `Parameter "${key}" is not in the document.`);
      if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
        throw new SsmError('InvalidParameters', `Parameter "${key}" must be a list of strings.`);
      }
      for (const value of values) {
        if (spec.allowedPattern && !new RegExp(spec.allowedPattern).test(value)) {
          throw new SsmError(
            'InvalidParameters',
            `Parameter "${key}" has value "${value}" not matching "${spec.allowedPattern}".`,
          );
        }
      }
    }
    for (const [key, spec] of Object.entries(declared)) {
      if (key in parameters) continue;
      if (spec.default === undefined) throw new SsmError('InvalidParameters', `Parameter "${key}" is required.`);
      parameters[key] = [spec.default];
    }
    const instanceIds = Array.isArray(body.InstanceIds) ? body.InstanceIds.map(String) : [];
    const targets = Array.isArray(body.Targets) ? (body.Targets as { Key: string; Values: string[] }[]) : [];
    if (instanceIds.length === 0 && targets.length === 0) {
      throw new SsmError('ValidationException', 'Specify either InstanceIds or Targets.');
    }
    if (instanceIds.length > 0 && targets.length > 0) {
      throw new SsmError('ValidationException', 'Specify InstanceIds or Targets, not both.');
    }
    for (const id of instanceIds) {
      if (!this.instances.has(id)) throw new SsmError('InvalidInstanceId', `Instance ${id} is not managed by SSM.`);
    }
    for (const t of targets) {
      if (!t.Key.startsWith('tag:') && t.Key !== 'InstanceIds') {
        throw new SsmError(
          'ValidationException',
          `The double supports tag:<name> and InstanceIds targets, not ${t.Key}.`,
        );
      }
    }
    const command: SimCommand = {
      id: randomUUID(),
      documentName,
      parameters: parameters as Record<string, string[]>,
      instanceIds,
      targets,
      comment: typeof body.Comment === 'string' ? body.Comment : '',
      timeoutSeconds: typeof body.TimeoutSeconds === 'number' ? body.TimeoutSeconds : 3600,
      requestedAt: nowSeconds(),
      resolved: false,
      invocations: [],
      ...(installed ? { script: document } : {}),
    };
    this.commands.set(command.id, command);
    if (instanceIds.length > 0) {
      this.resolve(command, instanceIds);
    } else {
      // Like the real service, tag targets are resolved after SendCommand returns.
      this.later(() => this.resolve(command, this.matching(targets)));
    }
    return { Command: this.commandOut(command) };
  }

  private matching(targets: { Key: string; Values: string[] }[]): string[] {
    // Several targets must all match (AND); the values of one target are alternatives (OR).
    return [...this.instances.values()]
      .filter((i) =>
        targets.every((t) =>
          t.Key === 'InstanceIds' ? t.Values.includes(i.id) : t.Values.includes(i.tags[t.Key.slice(4)] ?? '\0'),
        ),
      )
      .map((i) => i.id);
  }

  private resolve(command: SimCommand, instanceIds: string[]) {
    command.resolved = true;
    command.invocations = instanceIds.map((instanceId) => ({
      instanceId,
      status: 'Pending',
      statusDetails: 'Pending',
      responseCode: -1,
      stdout: '',
      stderr: '',
      requestedAt: command.requestedAt,
    }));
    for (const invocation of command.invocations) {
      this.later(() => {
        invocation.status = 'InProgress';
        invocation.statusDetails = 'InProgress';
        invocation.startedAt = nowSeconds();
        this.later(() => this.execute(command, invocation));
      });
    }
  }

  private execute(command: SimCommand, invocation: SimInvocation) {
    const instance = this.instances.get(invocation.instanceId);
    invocation.endedAt = nowSeconds();
    const faultAt = instance?.faults.findIndex((f) => f.document === undefined || f.document === command.documentName);
    const fault = faultAt !== undefined && faultAt >= 0 ? instance?.faults.splice(faultAt, 1)[0] : undefined;
    if (!instance || fault?.kind === 'timeout') {
      invocation.status = 'TimedOut';
      invocation.statusDetails = 'ExecutionTimedOut';
      invocation.stderr = `failed to run commands: the command did not finish within ${command.timeoutSeconds}s`;
      return;
    }
    if (fault?.kind === 'fail') {
      this.finish(invocation, 1, '', fault.message);
      return;
    }
    if (command.script) {
      invocation.endedAt = undefined;
      this.runScript(instance, command, command.script, invocation);
      return;
    }
    const outcome: DocumentOutcome = runDocument(instance, command.documentName, command.parameters);
    this.finish(invocation, outcome.ok ? 0 : 1, outcome.stdout, outcome.stderr);
  }

  private finish(invocation: SimInvocation, code: number, stdout: string, stderr: string) {
    invocation.endedAt = nowSeconds();
    invocation.status = code === 0 ? 'Success' : 'Failed';
    invocation.statusDetails = invocation.status;
    invocation.responseCode = code;
    invocation.stdout = stdout;
    invocation.stderr = stderr;
  }

  /** As the SSM agent runs aws:runShellScript: parameters substituted, the lines as one script, /bin/sh, a timeout. */
  private runScript(instance: SimInstance, command: SimCommand, document: SsmDocument, invocation: SimInvocation) {
    const step = document.mainSteps[0];
    if (!step) {
      this.finish(invocation, 1, '', 'the document has no steps');
      return;
    }
    const lines = step.inputs.runCommand.map((line) =>
      line.replace(
        /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g,
        (whole, name: string) => command.parameters[name]?.join(',') ?? whole,
      ),
    );
    const file = join(this.scratch, `${command.id}-${instance.id}.sh`);
    writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o700 });
    const child = spawn('/bin/sh', [file], {
      cwd: instance.root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', RELEASE_ENGINE_ROOT: instance.root, ...instance.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const limit = Math.min(Number(step.inputs.timeoutSeconds) || 3600, command.timeoutSeconds) * 1000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limit);
    child.on('close', (code) => {
      clearTimeout(timer);
      this.children.delete(child);
      if (timedOut) {
        invocation.endedAt = nowSeconds();
        invocation.status = 'TimedOut';
        invocation.statusDetails = 'ExecutionTimedOut';
        invocation.stdout = stdout;
        invocation.stderr = `${stderr}failed to run commands: the command did not finish within ${limit / 1000}s`;
        return;
      }
      this.finish(invocation, code ?? 1, stdout, stderr);
    });
  }

  private later(fn: () => void) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, this.delayMs);
    this.timers.add(timer);
  }

  private commandStatus(command: SimCommand): string {
    if (!command.resolved) return 'Pending';
    const statuses = command.invocations.map((i) => i.status);
    if (!statuses.every((s) => TERMINAL.has(s)))
      return statuses.every((s) => s === 'Pending') ? 'Pending' : 'InProgress';
    if (statuses.includes('Failed')) return 'Failed';
    if (statuses.includes('TimedOut')) return 'TimedOut';
    if (statuses.includes('Cancelled')) return 'Cancelled';
    return 'Success';
  }

  private commandOut(command: SimCommand) {
    const done = command.invocations.filter((i) => TERMINAL.has(i.status));
    return {
      CommandId: command.id,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      Comment: command.comment,
      Parameters: command.parameters,
      InstanceIds: command.instanceIds,
      Targets: command.targets,
      RequestedDateTime: command.requestedAt,
      ExpiresAfter: command.requestedAt + command.timeoutSeconds,
      Status: this.commandStatus(command),
      StatusDetails: this.commandStatus(command),
      MaxConcurrency: '50',
      MaxErrors: '0',
      TargetCount: command.invocations.length,
      CompletedCount: done.length,
      ErrorCount: done.filter((i) => i.status === 'Failed').length,
      DeliveryTimedOutCount: 0,
      TimeoutSeconds: command.timeoutSeconds,
    };
  }

  private mustHaveCommand(body: Record<string, unknown>): SimCommand {
    const id = requiredString(body, 'CommandId');
    const command = this.commands.get(id);
    if (!command) throw new SsmError('InvalidCommandId', `Command ${id} does not exist.`);
    return command;
  }

  private listCommands(body: Record<string, unknown>) {
    if (typeof body.CommandId === 'string') return { Commands: [this.commandOut(this.mustHaveCommand(body))] };
    return { Commands: [...this.commands.values()].map((c) => this.commandOut(c)) };
  }

  private listCommandInvocations(body: Record<string, unknown>) {
    const command = this.mustHaveCommand(body);
    const max = pageSize(body, 50);
    const scope = `invocations:${command.id}`;
    const start = readToken(body, scope);
    const all = command.invocations.filter(
      (i) => typeof body.InstanceId !== 'string' || i.instanceId === body.InstanceId,
    );
    return {
      CommandInvocations: all.slice(start, start + max).map((i) => ({
        CommandId: command.id,
        InstanceId: i.instanceId,
        InstanceName: '',
        Comment: command.comment,
        DocumentName: command.documentName,
        DocumentVersion: '$DEFAULT',
        RequestedDateTime: i.requestedAt,
        Status: i.status,
        StatusDetails: i.statusDetails,
        CommandPlugins:
          body.Details === true
            ? [
                {
                  Name: 'runReleaseEngine',
                  Status: i.status,
                  StatusDetails: i.statusDetails,
                  ResponseCode: i.responseCode,
                  ResponseStartDateTime: i.startedAt,
                  ResponseFinishDateTime: i.endedAt,
                  // The real service caps Output at 2500 characters and appends standard error after a marker.
                  Output: `${i.stdout}${i.stderr ? `\n----------ERROR-------\n${i.stderr}` : ''}`.slice(0, 2500),
                },
              ]
            : [],
      })),
      NextToken: start + max < all.length ? writeToken(scope, start + max) : undefined,
    };
  }

  private getCommandInvocation(body: Record<string, unknown>) {
    const commandId = requiredString(body, 'CommandId');
    const instanceId = requiredString(body, 'InstanceId');
    const invocation = this.commands.get(commandId)?.invocations.find((i) => i.instanceId === instanceId);
    const command = this.commands.get(commandId);
    if (!command || !invocation) throw new SsmError('InvocationDoesNotExist', 'The command invocation does not exist.');
    return {
      CommandId: commandId,
      InstanceId: instanceId,
      Comment: command.comment,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      PluginName: 'runReleaseEngine',
      ResponseCode: invocation.responseCode,
      ExecutionStartDateTime: isoOf(invocation.startedAt),
      ExecutionElapsedTime: '',
      ExecutionEndDateTime: isoOf(invocation.endedAt),
      Status: invocation.status,
      StatusDetails: invocation.statusDetails,
      StandardOutputContent: invocation.stdout.slice(0, 24_000),
      StandardOutputUrl: '',
      StandardErrorContent: invocation.stderr.slice(0, 8_000),
      StandardErrorUrl: '',
    };
  }

  // ---- Documents ----

  private createDocument(body: Record<string, unknown>) {
    const name = requiredString(body, 'Name');
    const content = requiredString(body, 'Content');
    if (this.documents.has(name)) throw new SsmError('DocumentAlreadyExists', `Document ${name} already exists.`);
    if (body.DocumentType !== undefined && body.DocumentType !== 'Command') {
      throw new SsmError('InvalidDocumentType', 'The double stores Command documents only.');
    }
    parseDocument(content);
    const stored: StoredDocument = {
      name,
      versions: [{ version: '1', versionName: optionalString(body, 'VersionName'), content, createdAt: nowSeconds() }],
      defaultVersion: '1',
    };
    this.documents.set(name, stored);
    return { DocumentDescription: this.describeDocument(stored, '1') };
  }

  private updateDocument(body: Record<string, unknown>) {
    const stored = this.mustHaveDocument(body);
    const content = requiredString(body, 'Content');
    parseDocument(content);
    const latest = stored.versions.at(-1);
    if (
      body.DocumentVersion !== undefined &&
      body.DocumentVersion !== '$LATEST' &&
      body.DocumentVersion !== latest?.version
    ) {
      throw new SsmError('InvalidDocumentVersion', 'Only the latest version of a document can be updated.');
    }
    if (latest && sameContent(latest.content, content)) {
      throw new SsmError(
        'DuplicateDocumentContent',
        'The content of the association document matches another document.',
      );
    }
    const versionName = optionalString(body, 'VersionName');
    if (versionName && stored.versions.some((v) => v.versionName === versionName)) {
      throw new SsmError('DuplicateDocumentVersionName', `The version name ${versionName} is already used.`);
    }
    const version = String(stored.versions.length + 1);
    stored.versions.push({ version, versionName, content, createdAt: nowSeconds() });
    return { DocumentDescription: this.describeDocument(stored, version) };
  }

  private getDocument(body: Record<string, unknown>) {
    const stored = this.mustHaveDocument(body);
    const version = this.versionOf(stored, body.DocumentVersion);
    return {
      Name: stored.name,
      DocumentVersion: version.version,
      VersionName: version.versionName,
      Content: version.content,
      DocumentType: 'Command',
      DocumentFormat: 'JSON',
      Status: 'Active',
    };
  }

  private updateDocumentDefaultVersion(body: Record<string, unknown>) {
    const stored = this.mustHaveDocument(body);
    stored.defaultVersion = this.versionOf(stored, requiredString(body, 'DocumentVersion')).version;
    return { Description: { Name: stored.name, DefaultVersion: stored.defaultVersion } };
  }

  private describeDocument(stored: StoredDocument, requested: unknown) {
    const version = this.versionOf(stored, requested);
    const document = parseDocument(version.content);
    return {
      Name: stored.name,
      DocumentVersion: version.version,
      VersionName: version.versionName,
      DocumentType: 'Command',
      DocumentFormat: 'JSON',
      SchemaVersion: document.schemaVersion,
      Status: 'Active',
      CreatedDate: version.createdAt,
      Hash: createHash('sha256').update(version.content).digest('hex'),
      HashType: 'Sha256',
      DefaultVersion: stored.defaultVersion,
      LatestVersion: stored.versions.at(-1)?.version,
      Parameters: Object.entries(document.parameters).map(([Name, p]) => ({
        Name,
        Type: p.type,
        Description: p.description,
        DefaultValue: p.default,
      })),
    };
  }

  private mustHaveDocument(body: Record<string, unknown>): StoredDocument {
    const name = requiredString(body, 'Name');
    const stored = this.documents.get(name);
    if (!stored) throw new SsmError('InvalidDocument', `Document with name ${name} does not exist.`);
    return stored;
  }

  private versionOf(stored: StoredDocument, requested: unknown) {
    const wanted =
      requested === undefined || requested === '$DEFAULT'
        ? stored.defaultVersion
        : requested === '$LATEST'
          ? stored.versions.at(-1)?.version
          : typeof requested === 'string'
            ? requested
            : '';
    const found = stored.versions.find((v) => v.version === wanted);
    if (!found)
      throw new SsmError('InvalidDocumentVersion', `Document ${stored.name} has no version ${String(requested)}.`);
    return found;
  }

  private contentOf(stored: StoredDocument, version: string): SsmDocument {
    return parseDocument(this.versionOf(stored, version).content);
  }

  private mustHaveInstance(id: string): SimInstance {
    const instance = this.instances.get(id);
    if (!instance) throw new Error(`the fake has no instance ${id}`);
    return instance;
  }
}

// ---- the release engine's documents, as an instance runs them ----

function runDocument(
  instance: SimInstance,
  documentName: string,
  parameters: Record<string, string[]>,
): DocumentOutcome {
  const param = (name: string) => parameters[name]?.[0] ?? '';
  const ok = (stdout: string): DocumentOutcome => ({ ok: true, stdout, stderr: '' });
  const fail = (stderr: string): DocumentOutcome => ({ ok: false, stdout: '', stderr });
  const version = param('version');
  switch (documentName) {
    case 'ReleaseEngine-Deploy': {
      const digest = param('digest');
      const running = instance.running.get(version);
      if (running) {
        return running.digest === digest
          ? ok(`${version} already runs`)
          : fail(`${version} already runs with digest ${running.digest}, not ${digest}`);
      }
      instance.releases.set(version, digest);
      instance.running.set(version, { digest, healthy: true });
      if (instance.serving !== undefined) instance.weights[version] ??= 0;
      return ok(`started ${version} at 0% of the traffic`);
    }
    case 'ReleaseEngine-SetTraffic': {
      const percent = Number(param('percent'));
      if (!Number.isInteger(percent) || percent < 0 || percent > 100) return fail(`bad percent ${param('percent')}`);
      if (!instance.running.has(version)) return fail(`${version} is not running on this instance`);
      const stable = instance.serving;
      if (stable === undefined || stable === version) return fail(`${version} is already the stable version`);
      instance.weights = { [stable]: 100 - percent, [version]: percent };
      return ok(`${version} now gets ${percent}% of the traffic`);
    }
    case 'ReleaseEngine-Promote': {
      if (!instance.running.has(version)) return fail(`${version} is not running on this instance`);
      switchTo(instance, version);
      return ok(`${version} now serves all traffic`);
    }
    case 'ReleaseEngine-Revert': {
      if (!instance.running.has(version)) {
        const digest = instance.releases.get(version);
        if (!digest) return fail(`release ${version} is not on this instance; deploy it first`);
        instance.running.set(version, { digest, healthy: true });
      }
      switchTo(instance, version);
      return ok(`reverted to ${version}`);
    }
    case 'ReleaseEngine-Status': {
      const status: InstanceStatus = {
        serving: instance.serving ?? null,
        weights: { ...instance.weights },
        versions: Object.fromEntries(
          [...instance.running].map(([v, r]) => [v, { digest: r.digest, healthy: r.healthy }]),
        ),
      };
      return ok(`${JSON.stringify(status)}\n`);
    }
    default:
      return fail(`unknown document ${documentName}`);
  }
}

/** Serves all traffic from `version` and stops every other version (their releases stay on disk). */
function switchTo(instance: SimInstance, version: string) {
  instance.serving = version;
  instance.weights = { [version]: 100 };
  for (const v of [...instance.running.keys()]) if (v !== version) instance.running.delete(v);
}

// ---- helpers ----

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  return typeof body[key] === 'string' ? body[key] : undefined;
}

function parseDocument(content: string): SsmDocument {
  let document: SsmDocument;
  try {
    document = JSON.parse(content) as SsmDocument;
  } catch {
    throw new SsmError('InvalidDocumentContent', 'The content of the document is not valid JSON.');
  }
  if (document.schemaVersion !== '2.2' || !Array.isArray(document.mainSteps)) {
    throw new SsmError('InvalidDocumentSchemaVersion', 'The double takes schemaVersion 2.2 Command documents.');
  }
  for (const step of document.mainSteps) {
    if (step.action !== 'aws:runShellScript') {
      throw new SsmError(
        'InvalidDocumentContent',
        `The double runs aws:runShellScript steps only, not ${String(step.action)}.`,
      );
    }
  }
  return { ...document, parameters: document.parameters ?? {} };
}

function sameContent(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return a === b;
  }
}

function requiredString(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (typeof value !== 'string') throw new SsmError('ValidationException', `${key} is required.`);
  return value;
}

function validateName(name: string) {
  // As moto_server and the service refuse them: /aws/... is reserved, and no name may start with aws or ssm.
  const bare = name.replace(/^\//, '').toLowerCase();
  if (bare.startsWith('aws') || bare.startsWith('ssm')) {
    const hierarchical = name.split('/').length > 2;
    if (hierarchical && name.toLowerCase().startsWith('/aws')) {
      throw new SsmError('AccessDeniedException', `No access to reserved parameter name: ${name}.`);
    }
    throw new SsmError(
      'ValidationException',
      'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).',
    );
  }
  if (name.includes('/') && !name.startsWith('/')) {
    throw new SsmError(
      'ValidationException',
      'Parameter name: a hierarchical name must begin with a forward slash (/).',
    );
  }
  if (name.includes('//') || name.endsWith('/')) {
    throw new SsmError('ValidationException', `Parameter name ${name} is not a valid hierarchy.`);
  }
}

function pageSize(body: Record<string, unknown>, max: number): number {
  if (body.MaxResults === undefined) return max;
  const n = body.MaxResults;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
    throw new SsmError('ValidationException', `MaxResults must be between 1 and ${max}.`);
  }
  return n;
}

function writeToken(scope: string, offset: number): string {
  return Buffer.from(JSON.stringify({ scope, offset })).toString('base64');
}

function readToken(body: Record<string, unknown>, scope: string): number {
  if (body.NextToken === undefined) return 0;
  try {
    if (typeof body.NextToken !== 'string') throw new Error('not a string');
    const token = JSON.parse(Buffer.from(body.NextToken, 'base64').toString('utf8')) as {
      scope: string;
      offset: number;
    };
    if (token.scope === scope && Number.isInteger(token.offset)) return token.offset;
  } catch {
    // not a token of ours
  }
  throw new SsmError('InvalidNextToken', 'The specified token is not valid.');
}

/** An opaque stand-in for a ciphertext: what SSM returns for a SecureString read without decryption. */
function encrypted(value: string): string {
  return `AQICAH${createHash('sha256').update(value).digest('base64')}`;
}
