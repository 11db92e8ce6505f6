// alerts.*: alerts from monitoring. alerts.alertmanager is Alertmanager's webhook receiver, reached over REST as
// POST /api/v1/alerts/alertmanager with the API's bearer token (http_config.authorization in Alertmanager).
//
// A firing alert for a service whose release is in its watch window rolls that release back (a signed `alert`
// update). Any other firing alert rolled nothing back, so it goes on the audit trail with the emergency rollback a
// person could run: an alert must never just vanish. Resolved alerts change nothing.
import { z } from 'zod';
import { findService } from '../../domain/catalog';
import { canonicalJson, sha256Hex } from '../../domain/signed-message';
import { alertRelease, getServiceState, recordAlert } from '../../workflows/lifecycle';
import type { ServiceState } from '../../workflows/messages';
import type { Context } from '../context';
import { translated } from '../errors';
import { requireRole, router } from '../trpc';

/** Label and annotation maps: Alertmanager sends strings only. */
const Labels = z.record(z.string(), z.string().max(8192));

/** One alert of an Alertmanager notification (webhook payload version 4); unknown fields are kept and ignored. */
export const AlertmanagerAlert = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels: Labels,
  annotations: Labels.default({}),
  startsAt: z.iso.datetime({ offset: true }),
  /** "0001-01-01T00:00:00Z" while the alert fires. */
  endsAt: z.iso.datetime({ offset: true }).optional(),
  generatorURL: z.string().max(8192).optional(),
  /** Alertmanager's hash of the labels; computed here from them when absent. */
  fingerprint: z
    .string()
    .regex(/^[0-9A-Za-z]{1,64}$/, 'must be up to 64 letters and digits, as Alertmanager sends it')
    .optional(),
});
export type AlertmanagerAlert = z.infer<typeof AlertmanagerAlert>;

/** Alertmanager's webhook body (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export const AlertmanagerWebhook = z.looseObject({
  version: z.literal('4', 'must be "4" (the Alertmanager webhook payload this endpoint reads)'),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().min(0).optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: Labels.default({}),
  commonLabels: Labels.default({}),
  commonAnnotations: Labels.default({}),
  externalURL: z.string().optional(),
  alerts: z.array(AlertmanagerAlert),
});

export type AlertOutcome = 'rolling-back' | 'recorded' | 'resolved' | 'unknown-service' | 'ignored';

export interface AlertAnswer {
  /** The alert's `service` label (absent when it has none). */
  service?: string;
  alertname: string;
  outcome: AlertOutcome;
  releaseId?: string;
  /** For a recorded alert: what a person can do about it. */
  suggestion?: string;
  /** Why the outcome, in words. */
  detail?: string;
  /** A repeat of an alert recorded before (Alertmanager resends firing alerts): recorded once. */
  alreadyRecorded?: boolean;
}

/** Text safe between double quotes in a shell command: the suggestion is meant to be pasted. */
function quotable(text: string): string {
  return text
    .replace(/["\\$`\n\r]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

/** The relctl command of an emergency rollback of `service` because of this alert. */
export function rollbackSuggestion(service: string, alertname: string, region?: string): string {
  const reason = quotable(`alert ${alertname}${region ? ` in ${region}` : ''} fired outside a release's watch window`);
  return `relctl rollback ${service} --reason "${reason}"`;
}

/** Handles one notification's alerts in order; a service's coordinator is asked once per notification. */
async function handleAlerts(
  ctx: Context & { principal: NonNullable<Context['principal']> },
  alerts: AlertmanagerAlert[],
): Promise<AlertAnswer[]> {
  const states = new Map<string, ServiceState>();
  // Releases an earlier alert of this notification already rolls back: later alerts need not knock again.
  const rollingBack = new Map<string, { releaseId: string; alertname: string }>();
  const answers: AlertAnswer[] = [];
  for (const alert of alerts) {
    const service = alert.labels.service;
    const alertname = alert.labels.alertname ?? '(unnamed alert)';
    const region = alert.labels.region;
    if (alert.status === 'resolved') {
      answers.push({ ...(service ? { service } : {}), alertname, outcome: 'resolved' });
      continue;
    }
    if (!service) {
      answers.push({
        alertname,
        outcome: 'ignored',
        detail: 'the alert has no service label, so it names no release; add labels.service to the alerting rule',
      });
      continue;
    }
    if (!findService(ctx.catalog, service)) {
      answers.push({
        service,
        alertname,
        outcome: 'unknown-service',
        detail: `there is no service "${service}" in the catalog`,
      });
      continue;
    }
    const already = rollingBack.get(service);
    if (already) {
      answers.push({
        service,
        alertname,
        outcome: 'rolling-back',
        releaseId: already.releaseId,
        detail: `release ${already.releaseId} already rolls back after alert ${already.alertname}`,
      });
      continue;
    }
    let state = states.get(service);
    if (!state) {
      state = await translated(() => getServiceState(ctx.temporal, service));
      states.set(service, state);
    }
    const reason = (alert.annotations.summary ?? alert.annotations.description)?.slice(0, 2000);
    const fingerprint = alert.fingerprint ?? sha256Hex(canonicalJson(alert.labels)).slice(0, 16);
    const alertFields = {
      by: ctx.principal.id,
      alertname,
      ...(region ? { region } : {}),
      ...(reason ? { reason } : {}),
      fingerprint,
      startsAt: alert.startsAt,
    };
    const active = state.active;
    let why: string;
    let releaseId: string | undefined;
    if (active?.kind === 'release') {
      releaseId = active.id;
      const delivery = await translated(() => alertRelease(ctx.temporal, service, active.id, alertFields, ctx.signer));
      if (delivery.rollingBack) {
        rollingBack.set(service, { releaseId: active.id, alertname });
        answers.push({ service, alertname, outcome: 'rolling-back', releaseId: active.id });
        continue;
      }
      why = delivery.why;
    } else if (active?.kind === 'rollback') {
      why = `emergency rollback ${active.id} of ${service} is already running`;
    } else {
      why = `no release of ${service} is in flight`;
    }
    const suggestion =
      active?.kind === 'rollback'
        ? `follow emergency rollback ${active.id} (rollback.get); run another only if it fails`
        : rollbackSuggestion(service, alertname, region);
    const { alreadyRecorded } = await translated(() =>
      recordAlert(
        ctx.temporal,
        { ...alertFields, service, why, suggestion, ...(releaseId ? { releaseId } : {}) },
        { signer: ctx.signer, taskQueue: ctx.releaseTaskQueue },
      ),
    );
    answers.push({
      service,
      alertname,
      outcome: 'recorded',
      ...(releaseId ? { releaseId } : {}),
      suggestion,
      detail: `${why}; the alert is on the audit trail`,
      ...(alreadyRecorded ? { alreadyRecorded } : {}),
    });
  }
  return answers;
}

export const alertsRouter = router({
  /**
   * Alertmanager's webhook (payload version 4). The SRE role may post too (an SRE may roll back anyway); the alerter
   * role exists so that the token in monitoring's config can do nothing else.
   */
  alertmanager: requireRole('alerter', 'sre')
    .input(AlertmanagerWebhook)
    .mutation(async ({ ctx, input }) => ({ alerts: await handleAlerts(ctx, input.alerts) })),
});
