// The service catalog: which services exist, where they run, and in which order their regions are released.
import { z } from 'zod';
import { checkGateId, ExternalCheckSpec, TICKET_CHECK, TicketCheckSpec, TicketReportSpec } from './checks';
import { EvidencePolicy } from './evidence';
import { dependencyLevels } from './dependencies';
import { AnalysisPolicy } from './canary';
import { SequentialPolicy } from './sequential-judge';
import { EnvironmentName, RegionName, ServiceName } from './names';

const MAX_BAKE_SECONDS = 7 * 24 * 3600;
const BakeSeconds = z.number().int().min(0).max(MAX_BAKE_SECONDS);

export const CanaryStep = z.strictObject({
  /** Share of the region's traffic on the new version during this step. */
  percent: z.number().int().min(1).max(99),
  /** How long the step bakes before its analysis; defaults to the service's bakeSeconds. */
  bakeSeconds: BakeSeconds.optional(),
});
export type CanaryStep = z.infer<typeof CanaryStep>;

export const CanarySpec = z.strictObject({
  steps: z
    .array(CanaryStep)
    .min(1, 'needs at least one canary step')
    .refine((steps) => steps.every((s, i) => i === 0 || s.percent > (steps[i - 1]?.percent ?? 0)), {
      message: 'canary steps must increase their percent',
    })
    .default([{ percent: 10 }, { percent: 50 }]),
  /** The fixed-window judge's policy (judge "fixed-window", and releases planned before the sequential judge). */
  analysis: AnalysisPolicy.default(AnalysisPolicy.parse({})),
  /**
   * sequential: looks every lookSeconds during the bake and fails as soon as the evidence is strong, passes once the
   * bake is over and the evidence shows the canary within the policy, and extends the bake (up to maxBakeFactor times
   * its length) while it cannot tell yet. fixed-window: one look at the end of the bake (the judge before issue 11).
   */
  judge: z.enum(['sequential', 'fixed-window']).default('sequential'),
  sequential: SequentialPolicy.default(SequentialPolicy.parse({})),
  /** Seconds between two looks of the sequential judge. */
  lookSeconds: z.number().int().min(1).max(600).default(2),
  /** Seconds after each traffic shift that no judge counts (new instances warming up, connections moving). */
  warmupSeconds: z.number().int().min(0).max(600).default(3),
  /** A bake that has not shown enough evidence to pass goes on up to this many times its length, then asks a human. */
  maxBakeFactor: z.number().min(1).max(10).default(3),
});
export type CanarySpec = z.infer<typeof CanarySpec>;

/** Watching promoted regions: during the bake between waves, and for `seconds` once every wave is done. */
export const WatchSpec = z.strictObject({
  /** The post-promotion watch window; 0 watches only during waveBakeSeconds. Alerts roll back only inside it. */
  seconds: BakeSeconds.default(0),
  /** SLO: a promoted region whose error rate is shown (always-valid bound) to exceed this is rolled back. */
  maxErrorRate: z.number().gt(0).max(1).default(0.05),
  /** Also breached when the region's error rate is shown to exceed its rate before the release by this much. */
  maxErrorRateIncrease: z.number().gt(0).max(1).default(0.02),
  /** SLO: p95 latency (ms) a promoted region must stay under, checked on each look of enough requests. */
  maxP95Ms: z.number().positive().optional(),
  /** Chance, over the whole window, of rolling back a region that meets its SLO. */
  alpha: z.number().gt(0).lt(0.5).default(0.01),
  /** Seconds between two looks. */
  lookSeconds: z.number().int().min(1).max(600).default(2),
});
export type WatchSpec = z.infer<typeof WatchSpec>;

export const SmokeTestSpec = z.strictObject({
  /** Path requested through the region's router after promotion. */
  path: z
    .string()
    .regex(/^\/[^\s]*$/, 'must be a path starting with /')
    .default('/'),
  requests: z.number().int().min(1).max(1000).default(20),
  /** Failed requests tolerated (0: every request must succeed). */
  maxFailures: z.number().int().min(0).default(0),
});
export type SmokeTestSpec = z.infer<typeof SmokeTestSpec>;

export const ApprovalSettings = z.strictObject({
  /** How long a human gate waits before it fails the release. */
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 24 * 3600)
    .default(24 * 3600),
  normalQuorum: z.number().int().min(1).max(10).default(1),
  emergencyQuorum: z.number().int().min(1).max(10).default(2),
});
export type ApprovalSettingsSpec = z.infer<typeof ApprovalSettings>;

/** A command the exec driver runs: the program and its arguments, run without a shell (no expansion, no pipes). */
export const ExecCommand = z
  .array(z.string().min(1, 'an argument may not be empty').max(4096))
  .min(1, 'a command is [program, ...arguments]')
  .max(64);

/** The demo fleet (fleetd): FLEET_URL and FLEET_TOKEN_FILE say where it is. */
export const LocalFleetSpec = z.strictObject({ driver: z.literal('local') });
/**
 * AWS Systems Manager Run Command, instances tagged Service and Region (AWS_REGION, FLEET_REGION_ENDPOINTS), running
 * the documents `relctl fleet ssm install` installs. Instances fetch each artifact by a short-lived URL: the engine's
 * own (ARTIFACT_URL_BASE), or, with `artifactBucket`, an S3 presigned URL of a copy the region agent puts there.
 */
export const SsmFleetSpec = z.strictObject({
  driver: z.literal('ssm'),
  artifactBucket: z
    .strictObject({
      bucket: z
        .string()
        .regex(
          /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
          'must be an S3 bucket name (3-63 lowercase letters, digits, dots, dashes)',
        ),
      prefix: z
        .string()
        .regex(/^([A-Za-z0-9._-]+\/)*$/, 'must be empty or end with / (letters, digits, dots, dashes, underscores)')
        .max(200)
        .default('release-engine/artifacts/'),
    })
    .optional(),
  /**
   * The hosts' hooks start a baseline of the stable version next to each canary (and route it the canary's share), so
   * the canary analysis compares instances of the same age; the metrics source must label it `baseline`.
   */
  sameAgeBaseline: z.boolean().default(false),
});
export type SsmFleetSpec = z.infer<typeof SsmFleetSpec>;
/**
 * The deploy tooling a team already has (kubectl, helm, nomad, systemd, a script): the region agent runs the command
 * the catalog names for each step, under the contract in README "Fleet drivers" (JSON in on stdin and the environment,
 * JSON out on stdout; exit 0 done, 2 refused, anything else retried).
 */
export const ExecFleetSpec = z.strictObject({
  driver: z.literal('exec'),
  commands: z.strictObject({
    deploy: ExecCommand,
    setTraffic: ExecCommand,
    promote: ExecCommand,
    revert: ExecCommand,
    status: ExecCommand,
    /** Optional: the region's request counters per version, for the canary analysis (else METRICS_SOURCE). */
    metrics: ExecCommand.optional(),
  }),
  /**
   * Longest a step's command may run before it is killed and the step retried; under the fleet step's own budget of
   * 10 minutes, so the engine stops the command before Temporal gives up on the attempt.
   */
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(540, 'must be at most 540 (a fleet step has 10 minutes; the command must end within them)')
    .default(300),
  /** The deploy command also starts a baseline of the stable version, and setTraffic routes it the canary's share. */
  sameAgeBaseline: z.boolean().default(false),
  /**
   * Variables of the region agent's environment the commands get (e.g. KUBECONFIG); besides these, only PATH, HOME,
   * LANG and TZ. The agent's own secrets are never passed on unless named here.
   */
  passEnv: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'))
    .max(50)
    .default([]),
});

/** Which driver deploys a service (or one of its environments): `"local"` alone is short for `{ "driver": "local" }`. */
export const FleetSpec = z.preprocess(
  (value) => (typeof value === 'string' ? { driver: value } : value),
  z.discriminatedUnion('driver', [LocalFleetSpec, SsmFleetSpec, ExecFleetSpec]),
);
export type FleetSpec = z.infer<typeof FleetSpec>;
export type FleetDriverName = FleetSpec['driver'];

export const EnvironmentSpec = z.strictObject({
  name: EnvironmentName,
  /** Production environments get the human approval gate of normal and emergency changes. */
  production: z.boolean().optional(),
  /**
   * The environment has a database the service's schema migrations run against (DATABASE_URL_<SERVICE>_<ENV>, or an
   * embedded PGlite): expand migrations before its first wave, contract migrations when the release is done.
   */
  database: z.boolean().default(false),
  /** Waves of regions: waves run in order, the regions of one wave in parallel. */
  waves: z.array(z.array(RegionName).min(1, 'a wave needs at least one region')).min(1, 'needs at least one wave'),
  /** This environment's fleet, when it differs from the service's (e.g. exec in production, local in staging). */
  fleet: FleetSpec.optional(),
  /** The evidence a release must show before it enters this environment, instead of the service's (issue 16). */
  evidence: EvidencePolicy.optional(),
});
export type EnvironmentSpec = z.infer<typeof EnvironmentSpec>;

export const ServiceSpec = z
  .strictObject({
    name: ServiceName,
    description: z.string().max(500).optional(),
    /** Which fleet driver deploys this service, unless an environment names its own. */
    fleet: FleetSpec.default({ driver: 'local' }),
    /** Default bake of each canary step, in seconds, when neither the step nor the release sets one. */
    bakeSeconds: BakeSeconds.default(30),
    /** Optional bake between two waves, after the earlier wave finished. */
    waveBakeSeconds: BakeSeconds.default(0),
    canary: CanarySpec.default(CanarySpec.parse({})),
    watch: WatchSpec.default(WatchSpec.parse({})),
    smokeTest: SmokeTestSpec.default(SmokeTestSpec.parse({})),
    approvals: ApprovalSettings.default(ApprovalSettings.parse({})),
    /** Whether the service only releases artifacts signed by a key it trusts (TRUSTED_KEYS_FILE). */
    signing: z.strictObject({ required: z.boolean().default(false) }).default({ required: false }),
    /** A region that reports no progress for its longest bake plus this long is flagged: is its agent running? */
    stallAlertSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(600),
    /** What a release does when it meets a freeze window: wait for its end, or fail. */
    onFreeze: z.enum(['wait', 'fail']).default('wait'),
    /**
     * Change tickets (issue 16): the change classes whose releases must name one (release.start's `ticket`), and the
     * shape a ticket reference has in the ticketing system (a regular expression), checked at the API.
     */
    changeTickets: z
      .strictObject({
        requiredFor: z.array(z.enum(['standard', 'normal', 'emergency'])).default(['normal', 'emergency']),
        pattern: z
          .string()
          .max(200)
          .refine(
            (p) => {
              try {
                new RegExp(p);
                return true;
              } catch {
                return false;
              }
            },
            { message: 'must be a regular expression' },
          )
          .optional(),
        /** An external check (ITSM) that the release's ticket is approved and its window open, before anything changes. */
        check: TicketCheckSpec.optional(),
        /** Where the release's outcome is posted for its ticket when it ends. */
        reportTo: TicketReportSpec.optional(),
      })
      .optional(),
    /** Environments in promotion order (e.g. staging, then production). */
    environments: z.array(EnvironmentSpec).min(1, 'needs at least one environment'),
    /**
     * The services this one calls: a train releases them first. An artifact's manifest says which versions of them it
     * requires (`requires`), checked where the release is going.
     */
    dependsOn: z.array(ServiceName).max(50).default([]),
    /**
     * The evidence (attestations: scans, tests, performance, licenses) a release must show before it enters each
     * environment (an environment may set its own): judged by a gate before anything changes there (issue 16).
     */
    evidence: EvidencePolicy.optional(),
    /**
     * Checks other systems run before a release enters an environment (a contract-test suite, a security review),
     * asked through a webhook and answered by callback or polled (issue 16).
     */
    checks: z.array(ExternalCheckSpec).max(10).default([]),
  })
  .superRefine((service, ctx) => {
    const environments = new Set(service.environments.map((env) => env.name));
    const names = new Set<string>();
    const gateIds = new Map<string, string>(
      service.changeTickets?.check
        ? [[checkGateId(TICKET_CHECK, service.environments[0]?.name ?? ''), TICKET_CHECK]]
        : [],
    );
    service.checks.forEach((check, c) => {
      if (names.has(check.name)) {
        ctx.addIssue({ code: 'custom', message: `check ${check.name} is listed twice`, path: ['checks', c, 'name'] });
      }
      names.add(check.name);
      // Gate ids are check-<name>-<environment>: two pairs must not spell the same one (a-b before c, a before b-c).
      for (const env of check.environments ?? service.environments.slice(0, 1).map((x) => x.name)) {
        const id = checkGateId(check.name, env);
        const other = gateIds.get(id);
        if (other !== undefined && other !== check.name) {
          ctx.addIssue({
            code: 'custom',
            message: `check ${check.name} before ${env} and check ${other} have the same gate id ${id}; rename one`,
            path: ['checks', c, 'name'],
          });
        }
        gateIds.set(id, check.name);
      }
      check.environments?.forEach((env, e) => {
        if (!environments.has(env)) {
          ctx.addIssue({
            code: 'custom',
            message: `check ${check.name} runs before ${env}, which is not an environment of ${service.name}`,
            path: ['checks', c, 'environments', e],
          });
        }
      });
    });
    service.dependsOn.forEach((dependency, i) => {
      if (dependency === service.name) {
        ctx.addIssue({
          code: 'custom',
          message: `service ${service.name} cannot depend on itself`,
          path: ['dependsOn', i],
        });
      }
    });
    const seen = new Set<string>();
    service.environments.forEach((env, e) =>
      env.waves.forEach((wave, w) =>
        wave.forEach((region, r) => {
          if (seen.has(region)) {
            ctx.addIssue({
              code: 'custom',
              message: `region ${region} appears more than once in service ${service.name}`,
              path: ['environments', e, 'waves', w, r],
            });
          }
          seen.add(region);
        }),
      ),
    );
  });
export type ServiceSpec = z.infer<typeof ServiceSpec>;

export const ServiceCatalog = z.strictObject({ services: z.array(ServiceSpec) }).superRefine((catalog, ctx) => {
  const seen = new Set<string>();
  catalog.services.forEach((service, i) => {
    if (seen.has(service.name)) {
      ctx.addIssue({
        code: 'custom',
        message: `service ${service.name} is listed twice`,
        path: ['services', i, 'name'],
      });
    }
    seen.add(service.name);
  });
  catalog.services.forEach((service, i) =>
    service.dependsOn.forEach((dependency, d) => {
      if (!seen.has(dependency)) {
        ctx.addIssue({
          code: 'custom',
          message: `service ${service.name} depends on ${dependency}, which is not in the catalog`,
          path: ['services', i, 'dependsOn', d],
        });
      }
    }),
  );
  try {
    dependencyLevels(new Map(catalog.services.map((s) => [s.name, s.dependsOn])));
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message, path: ['services'] });
  }
});
export type ServiceCatalog = z.infer<typeof ServiceCatalog>;

/** Every region a service runs in, in release order. */
export function serviceRegions(service: ServiceSpec): string[] {
  return service.environments.flatMap((env) => env.waves.flat());
}

/** Every region named anywhere in the catalog, each once. */
export function catalogRegions(catalog: ServiceCatalog): string[] {
  return [...new Set(catalog.services.flatMap(serviceRegions))];
}

/** Whether an environment counts as production (explicit flag, else its name). */
export function isProduction(env: EnvironmentSpec): boolean {
  return env.production ?? env.name === 'production';
}

export function findService(catalog: ServiceCatalog, name: string): ServiceSpec | undefined {
  return catalog.services.find((service) => service.name === name);
}

/** The fleet that deploys `region` of `service`: its environment's, else the service's. */
export function fleetSpecFor(service: ServiceSpec, region: string): FleetSpec {
  const environment = service.environments.find((env) => env.waves.some((wave) => wave.includes(region)));
  return environment?.fleet ?? service.fleet;
}
