// The evidence gate (issue 16): before a release enters an environment whose policy asks for evidence, the
// artifact's attestations (scans, tests, performance, licenses) are judged against it. Evidence that fails fails the
// release before anything changes there, naming the rule and the first findings, unless the policy allows a waiver:
// then the release waits for one by the roles it names, with a reason, which goes on the audit trail.
import { patched } from '@temporalio/workflow';
import type { GatePlan } from '../../domain/plan';
import { releaseFailure } from '../failures';
import { releaseActivities } from './activities';
import { askForWaiver } from './gates';
import type { ReleaseRun } from './run-state';

/** Patch id of evidence gates (plans before them have none; the patch marks the new path in history). */
export const EVIDENCE_GATE_PATCH = 'evidence-gate';

/** Judges the evidence gates of the plan that come before wave `beforeWave` and were not judged yet. */
export async function judgeEvidenceBefore(run: ReleaseRun, beforeWave: number): Promise<void> {
  for (const planned of run.plan.gates.filter((g) => g.kind === 'evidence' && g.beforeWave === beforeWave)) {
    await judgeEvidenceGate(run, planned);
  }
}

/** One evidence gate: passes, fails the release, or waits for a waiver (once per gate, whoever calls it first). */
export async function judgeEvidenceGate(run: ReleaseRun, planned: GatePlan): Promise<void> {
  const { plan } = run;
  const evidence = planned.evidence;
  if (!evidence || run.evidenceJudged.has(planned.id) || !patched(EVIDENCE_GATE_PATCH)) return;
  run.evidenceJudged.add(planned.id);
  const { environment, policy } = evidence;
  const verdict = await releaseActivities.judgeEvidence.executeWithOptions(
    { summary: `judge the attestations of ${plan.service}@${plan.version} against the ${environment} policy` },
    [{ service: plan.service, version: plan.version, policy }],
  );
  for (const why of verdict.ignored) run.note(`evidence for ${environment}: ${why}`);
  const failed = verdict.failures.map((f) => `${f.rule}: ${f.message}`);
  run.audit('evidence.judged', {
    ...(failed.length > 0 ? { reason: failed.join('; ') } : {}),
    details: {
      environment,
      passed: failed.length === 0,
      counted: verdict.counted,
      findings: verdict.failures.flatMap((f) => f.findings).slice(0, 50),
      ignored: verdict.ignored,
    },
  });
  if (failed.length === 0) {
    run.note(
      `gate ${planned.id} passed: ${planned.description} (attested: ${verdict.counted.join(', ') || 'nothing asked'})`,
    );
    return;
  }
  const why = `the evidence for ${environment} fails its policy: ${failed.join('; ')}`;
  if (!planned.timeoutSeconds) {
    await run.record.flush();
    throw releaseFailure('EvidenceFailed', why);
  }
  const { outcome, decision } = await askForWaiver(
    run,
    planned,
    'evidence',
    `${why}; a waiver by ${planned.roles.join(' or ')}, with a reason, lets the release go on`,
  );
  if (outcome === 'approved' && decision) {
    run.note(`${decision.by} waived the evidence for ${environment}: ${decision.comment ?? ''}`);
    run.audit('evidence.waived', {
      actor: decision.by,
      gate: planned.id,
      ...(decision.comment ? { reason: decision.comment } : {}),
      details: {
        environment,
        rules: verdict.failures.map((f) => f.rule),
        findings: verdict.failures.flatMap((f) => f.findings).slice(0, 50),
      },
    });
    await run.record.flush();
    return;
  }
  throw releaseFailure(
    'EvidenceFailed',
    `${why}; ${outcome === 'rejected' ? `${decision?.by ?? 'someone'} refused a waiver${decision?.comment ? `: ${decision.comment}` : ''}` : `nobody waived it within ${planned.timeoutSeconds}s`}`,
  );
}
