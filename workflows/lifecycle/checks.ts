// Delivers an external check's result (check.report) to the release waiting for it, signed by the API, and turns
// the release's refusals into EngineErrors in its words.
import type { Client } from '@temporalio/client';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { EngineError } from '../../domain/errors';
import type { DecisionSigner } from '../../providers/keys/decision-keys';
import { checkReportUpdate, type CheckReportInput } from '../messages';
import { runningRelease } from './decisions';
import { needingWorker, refusalOf, WRITE_DEADLINE_MS } from './worker-calls';

export async function reportCheck(
  client: Client,
  service: string,
  releaseId: string,
  report: Omit<CheckReportInput, 'authorization'>,
  signer: DecisionSigner,
): Promise<{ check: string; status: 'passed' | 'failed' }> {
  const handle = await runningRelease(client, service, releaseId);
  try {
    return await needingWorker(
      client,
      WRITE_DEADLINE_MS,
      (why) =>
        `${why}: the result of check ${report.check} for release ${releaseId} was not confirmed and may have been recorded; report it again (a second report of a recorded check is refused with 409, which then means it was taken)`,
      () => handle.executeUpdate(checkReportUpdate, { args: [signer.sign(handle.workflowId, 'check', report)] }),
    );
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const refusal = refusalOf(err);
      const code =
        refusal.type === 'CheckNotWaiting'
          ? 'CHECK_NOT_WAITING'
          : refusal.type === 'NotAReporter' || refusal.type === 'Unauthorized'
            ? 'CHECK_REPORT_FORBIDDEN'
            : 'CHECK_NOT_WAITING';
      throw new EngineError(code, refusal.message);
    }
    throw err;
  }
}
