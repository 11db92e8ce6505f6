// Reporting a release's or rollback's end to its service coordinator, when the coordinator asked for it. A coordinator
// learns of its children's ends from Temporal; one that continued-as-new while busy is no longer their parent, so it
// asks each workflow it carried over (reportEndSignal) to tell it when it ends (lineEntryEndedSignal).
import { getExternalWorkflowHandle, log, patched, setHandler } from '@temporalio/workflow';
import { serviceWorkflowId } from '../domain/workflow-ids';
import { lineEntryEndedSignal, reportEndSignal } from './messages';

/** Workflows that never received reportEndSignal replay as before: the report is only sent when it was asked for. */
const REPORT_END_PATCH = 'report-end-to-coordinator';

/**
 * Installs the handler for the coordinator's request; the returned function, awaited as the workflow's last act,
 * sends the report if it was asked for. It is awaited: Temporal does not deliver a signal whose sender closes in the
 * same workflow task. The coordinator, told, waits a moment for the workflow to close before it believes it.
 */
export function reportEndWhenAsked(service: string, workflowId: string): () => Promise<void> {
  let asked = false;
  setHandler(reportEndSignal, () => {
    asked = true;
  });
  return async () => {
    if (!asked || !patched(REPORT_END_PATCH)) return;
    try {
      await getExternalWorkflowHandle(serviceWorkflowId(service)).signal(lineEntryEndedSignal, { workflowId });
    } catch (err) {
      // The coordinator looks now and then anyway.
      log.warn('could not tell the coordinator this workflow ended', { error: String(err) });
    }
  };
}
