// Turns a release request and the service's catalog entry into the plan the release workflow executes: waves of
// regions, the canary steps of every region, the gates and their approval policy, and the freeze policy.
import { productionGatePolicy } from './approval';
import type { AnalysisPolicy } from './canary';
import { isProduction, type ServiceSpec, type SmokeTestSpec, type WatchSpec } from './catalog';
import { checkGateId, describeCheck, TICKET_CHECK, type PlannedCheck } from './check-request';
import { describePolicy, type EvidencePolicy } from './evidence';
import type { SequentialPolicy } from './sequential-judge';
import type { ChangeClass } from './release-request';
import type { Role } from './roles';
import { regionTaskQueue } from './names';

export interface WavePlan {
  index: number;
  environment: string;
  regions: { region: string; taskQueue: string }[];
}

export interface PlannedStep {
  percent: number;
  bakeSeconds: number;
}

/** A gate on the way: a human approval before a wave, or the automatic check when moving to the next environment. */
export interface GatePlan {
  id: string;
  /** evidence: the artifact's attestations judged against the environment's policy (a waiver if it allows one). */
  /** check: an external check another system runs (a human decides only if it times out and the policy asks). */
  kind: 'approval' | 'promotion' | 'evidence' | 'check';
  beforeWave: number;
  description: string;
  quorum: number;
  roles: Role[];
  timeoutSeconds: number;
  /** An evidence gate's policy and environment. */
  evidence?: { environment: string; policy: EvidencePolicy };
  /** An external check's request and policy (its gate's roles and timeout are those of the question at its timeout). */
  check?: PlannedCheck;
}

/** How the sequential judge looks during each bake (see CanarySpec). */
export interface SequentialCanaryPlan {
  policy: SequentialPolicy;
  lookSeconds: number;
  warmupSeconds: number;
  maxBakeFactor: number;
}

export interface ReleasePlan {
  service: string;
  version: string;
  releaseId: string;
  changeClass: ChangeClass;
  environments: string[];
  waves: WavePlan[];
  /** `sequential` absent: the fixed-window judge (plans made before it, or a catalog or request choosing it). */
  canary: { steps: PlannedStep[]; analysis: AnalysisPolicy; sequential?: SequentialCanaryPlan };
  smokeTest: SmokeTestSpec;
  waveBakeSeconds: number;
  /** Watching promoted regions (plans made before it: absent, the bake between waves is a plain timer). */
  watch?: WatchSpec;
  gates: GatePlan[];
  /** How long a gate opened during the release (an inconclusive analysis) waits for a human. */
  decisionTimeoutSeconds: number;
  /** Silence from a region's rollout, in seconds, after which the release says the region looks stalled. */
  stallAlertSeconds: number;
  freeze: { onFreeze: 'wait' | 'fail'; override: boolean };
  /** Only an artifact signed by a trusted key may be released. */
  signatureRequired: boolean;
  /** Environments with a database for the service's schema migrations, in promotion order. */
  databaseEnvironments: string[];
  /** Where the outcome is reported for the release's change ticket when it ends (absent: nowhere). */
  ticketReport?: { ticket: string; url: string; tokenEnv?: string };
}

export interface PlanRequest {
  service: string;
  version: string;
  releaseId: string;
  changeClass: ChangeClass;
  /** Overrides the bake of every canary step. */
  bakeSeconds?: number | undefined;
  /** Overrides the post-promotion watch window. */
  watchSeconds?: number | undefined;
  /** Overrides the catalog's choice of canary judge. */
  judge?: 'sequential' | 'fixed-window' | undefined;
  /** The change ticket the release carries out (its ITSM check and outcome report need it). */
  ticket?: string | undefined;
}

/** How a train plans its members' releases (issue 15). */
export interface TrainPlanning {
  /** Only these environments (a train in lockstep releases a member one environment at a time). */
  environments?: string[];
  /**
   * The train asks for the change class's approval, once, for all its members: the member asks nobody again. The
   * promotion gate into an environment is left out too when the member's release starts there (the train released
   * the member through the environment before, in a release of its own).
   */
  approvedByTrain: true;
}

/** Computes the plan of releasing `request` to `service`. */
export function planRelease(request: PlanRequest, service: ServiceSpec, train?: TrainPlanning): ReleasePlan {
  if (request.service !== service.name) {
    throw new Error(`plan for ${request.service} was given the catalog entry of ${service.name}`);
  }
  const waves: WavePlan[] = [];
  const gates: GatePlan[] = [];
  const policy = train ? undefined : productionGatePolicy(request.changeClass, service.approvals);
  let productionGated = false;
  const environments = train?.environments
    ? service.environments.filter((env) => train.environments?.includes(env.name))
    : service.environments;
  environments.forEach((env, e) => {
    const firstWave = waves.length;
    if (e > 0) {
      const previous = environments[e - 1]?.name ?? '';
      gates.push({
        id: `promote-to-${env.name}`,
        kind: 'promotion',
        beforeWave: firstWave,
        description: `every region of ${previous} passed its smoke test, and ${env.name} has the config keys ${previous} has, before ${env.name} starts`,
        quorum: 0,
        roles: [],
        timeoutSeconds: 0,
      });
    }
    const evidence = env.evidence ?? service.evidence;
    if (evidence) {
      gates.push({
        id: `evidence-${env.name}`,
        kind: 'evidence',
        beforeWave: firstWave,
        description: `the attestations of ${service.name}@${request.version} meet the ${env.name} policy (${describePolicy(evidence)})`,
        quorum: 1,
        roles: evidence.waiverRoles,
        timeoutSeconds: evidence.waiverWaitSeconds,
        evidence: { environment: env.name, policy: evidence },
      });
    }
    for (const check of checksBefore(service, request, env.name, e === 0)) {
      gates.push({
        id: checkGateId(check.name, env.name),
        kind: 'check',
        beforeWave: firstWave,
        description: describeCheck(check),
        quorum: 1,
        roles: check.askRoles,
        timeoutSeconds: check.askWaitSeconds,
        check,
      });
    }
    if (policy && isProduction(env) && !productionGated) {
      productionGated = true;
      gates.push({
        id: `${env.name}-approval`,
        kind: 'approval',
        beforeWave: firstWave,
        description: `${policy.quorum} approval${policy.quorum > 1 ? 's' : ''} before the first ${env.name} wave (${request.changeClass} change)`,
        ...policy,
      });
    }
    for (const regions of env.waves) {
      waves.push({
        index: waves.length,
        environment: env.name,
        regions: regions.map((region) => ({ region, taskQueue: regionTaskQueue(region) })),
      });
    }
  });
  const steps = service.canary.steps.map((step) => ({
    percent: step.percent,
    bakeSeconds: request.bakeSeconds ?? step.bakeSeconds ?? service.bakeSeconds,
  }));
  return {
    service: service.name,
    version: request.version,
    releaseId: request.releaseId,
    changeClass: request.changeClass,
    environments: environments.map((env) => env.name),
    waves,
    canary: {
      steps,
      analysis: service.canary.analysis,
      ...((request.judge ?? service.canary.judge) === 'sequential'
        ? {
            sequential: {
              policy: service.canary.sequential,
              lookSeconds: service.canary.lookSeconds,
              warmupSeconds: service.canary.warmupSeconds,
              maxBakeFactor: service.canary.maxBakeFactor,
            },
          }
        : {}),
    },
    smokeTest: service.smokeTest,
    waveBakeSeconds: service.waveBakeSeconds,
    watch: { ...service.watch, seconds: request.watchSeconds ?? service.watch.seconds },
    gates,
    decisionTimeoutSeconds: service.approvals.timeoutSeconds,
    // The sequential judge may extend a bake (maxBakeFactor) after its warm-up: silence that long is not a stall.
    stallAlertSeconds:
      Math.max(...steps.map((s) => s.bakeSeconds), 0) *
        ((request.judge ?? service.canary.judge) === 'sequential' ? service.canary.maxBakeFactor : 1) +
      ((request.judge ?? service.canary.judge) === 'sequential' ? service.canary.warmupSeconds : 0) +
      service.stallAlertSeconds,
    freeze: { onFreeze: service.onFreeze, override: request.changeClass === 'emergency' },
    signatureRequired: service.signing.required,
    databaseEnvironments: environments.filter((env) => env.database).map((env) => env.name),
    ...(request.ticket && service.changeTickets?.reportTo
      ? { ticketReport: { ticket: request.ticket, ...service.changeTickets.reportTo } }
      : {}),
  };
}

/**
 * The external checks before `environment`: the service's that name it (or, naming none, the first environment), and
 * before the first, the ITSM validation of the release's ticket when the ticket policy asks for one.
 */
function checksBefore(service: ServiceSpec, request: PlanRequest, environment: string, first: boolean): PlannedCheck[] {
  const { ticket } = request;
  const ticketCheck = service.changeTickets?.check;
  const specs = [
    ...(first && ticket && ticketCheck ? [{ ...ticketCheck, name: TICKET_CHECK, ticket }] : []),
    ...service.checks.filter((c) => (c.environments ? c.environments.includes(environment) : first)),
  ];
  return specs.map(({ environments: _, ...spec }: { environments?: string[] } & Omit<PlannedCheck, 'environment'>) => ({
    ...spec,
    environment,
  }));
}
