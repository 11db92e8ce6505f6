// What a region's report means for the release: a pure function from one report (and the region's progress so far)
// to the changes the release makes (region progress, timeline, audit trail, notification, a decision to ask for).
// The release applies them in this order: change, note, audit, notify, decision.
import type { AuditFields } from './record';
import type { RegionProgress } from '../../domain/release-status';
import type { RegionEvent } from '../messages';
import type { ReleaseEventKind } from './activities';
import type { PendingDecision } from './run-state';

export interface RegionEventEffects {
  change: Partial<RegionProgress>;
  note?: string;
  audit?: { action: string; fields: AuditFields };
  notify?: { kind: ReleaseEventKind; extra: { region: string; reason: string } };
  decision?: PendingDecision;
}

/** The effects of `event` on a region that is at `progress`, in a release of `version`. */
export function regionEventEffects(event: RegionEvent, progress: RegionProgress, version: string): RegionEventEffects {
  const effects = effectsOf(event, progress, version);
  // What the fleet step said (the exec driver's command output, trimmed) goes on the timeline and the audit trail.
  const output = 'output' in event ? event.output : undefined;
  if (!output) return effects;
  return {
    ...effects,
    ...(effects.note ? { note: `${effects.note}; the fleet said: ${output}` } : {}),
    ...(effects.audit
      ? {
          audit: {
            ...effects.audit,
            fields: { ...effects.audit.fields, details: { ...effects.audit.fields.details, output } },
          },
        }
      : {}),
  };
}

function effectsOf(event: RegionEvent, progress: RegionProgress, version: string): RegionEventEffects {
  const { region } = event;
  const before = progress.previousVersion ? { beforeVersion: progress.previousVersion } : {};
  switch (event.kind) {
    case 'deployed':
      return {
        change: { status: 'canary' },
        note: `${region}: ${version} started at 0% of traffic`,
        audit: { action: 'region.canary-started', fields: { region, afterVersion: version, ...before } },
      };
    case 'traffic':
      return {
        change: { trafficPercent: event.percent, canaryStep: event.step },
        note: `${region}: ${event.percent}% of traffic on ${version}`,
        audit: { action: 'region.traffic-shifted', fields: { region, details: { percent: event.percent } } },
      };
    case 'verdict': {
      const { verdict } = event;
      const reasons = verdict.reasons.join('; ');
      return {
        change: { verdicts: [...progress.verdicts, { ...verdict, step: event.step, percent: event.percent }] },
        note: `${region}: analysis at ${event.percent}%: ${verdict.verdict} (${reasons})`,
        audit: {
          action: 'canary.analysed',
          fields: {
            region,
            reason: reasons,
            details: {
              verdict: verdict.verdict,
              percent: event.percent,
              canaryRequests: verdict.canary.requests,
              canaryErrors: verdict.canary.errors,
              baselineRequests: verdict.baseline.requests,
              baselineErrors: verdict.baseline.errors,
              // The sequential judge's verdicts also say when and against what they decided (older ones: absent).
              ...(verdict.judge
                ? {
                    judge: verdict.judge,
                    ...(verdict.baselineKind ? { baselineKind: verdict.baselineKind } : {}),
                    ...(verdict.looks !== undefined ? { looks: verdict.looks } : {}),
                    ...(verdict.decidedAfterSeconds !== undefined
                      ? { decidedAfterSeconds: verdict.decidedAfterSeconds }
                      : {}),
                  }
                : {}),
            },
          },
        },
        ...(verdict.verdict === 'fail'
          ? { notify: { kind: 'canary.failed', extra: { region, reason: reasons } } }
          : {}),
      };
    }
    case 'needs-decision':
      return {
        change: { status: 'needs-decision' },
        decision: { region, step: event.step, percent: event.percent, reasons: event.verdict.reasons },
      };
    case 'promoted':
      return {
        change: { status: 'smoke-testing', trafficPercent: 100 },
        note: `${region}: ${version} promoted to 100%`,
        audit: { action: 'region.promoted', fields: { region, afterVersion: version, ...before } },
      };
    case 'smoke-test':
      return {
        change: { smokeTest: { passed: event.passed, failures: event.failures, requests: event.requests } },
        note: `${region}: smoke test ${event.passed ? 'passed' : 'failed'} (${event.failures} of ${event.requests} failed)`,
        audit: {
          action: 'region.smoke-tested',
          fields: { region, details: { passed: event.passed, failures: event.failures, requests: event.requests } },
        },
      };
    case 'reverted':
      return {
        change: { status: 'reverted', trafficPercent: 0 },
        note: `${region}: back on ${event.to} (${event.reason})`,
        audit: {
          action: 'region.reverted',
          fields: { region, beforeVersion: version, afterVersion: event.to, reason: event.reason },
        },
      };
    default:
      return event satisfies never;
  }
}
