// The coordinator's line carried over continue-as-new (workflows/service.ts). A coordinator that is never idle (a
// busy service, releases queued back to back) still continues-as-new when its history grows long, taking its line
// with it. Temporal reports a child's end only to the run that started it, so the new run follows the workflows it
// carried itself: it asks each to report its end (reportEndSignal), and looks, with an activity that describes them,
// whenever one reports, whenever a signal to one fails, and now and then in case one was terminated (a terminated
// workflow reports nothing). Nothing it is told is trusted: only what Temporal says of the workflow.
import { condition, getExternalWorkflowHandle, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities';
import type { CarriedEntry } from './messages';
import { reportEndSignal } from './messages';
import { quickStep } from './profiles';
import { innermostMessage } from './saga';
import type { Entry } from './service-line';

/** Coordinators from before replay as they were: continue-as-new only when idle. */
export const BUSY_CONTINUE_PATCH = 'continue-as-new-while-busy';
/** The first unprompted look at the carried workflows; each look that finds nothing doubles the wait, up to LAST. */
const FIRST_LOOK_MS = 10_000;
const LAST_LOOK_MS = 30 * 60_000;
/** How long a look prompted by an end report waits for the workflow to close (it reports just before it does). */
const REPORTED_END_WAIT_MS = 10_000;

const lookup = proxyActivities<ReleaseActivities>(quickStep);

/** What of an entry goes over continue-as-new. */
export function carry(entry: Entry): CarriedEntry {
  const { kind, id, workflowId, requestedBy, version, admitted } = entry;
  return { kind, id, workflowId, requestedBy, ...(version !== undefined ? { version } : {}), admitted };
}

/** Follows the entries a run was handed until every one has ended. */
export class CarriedLine {
  /** Workflow ids to look at: reported ended, or a signal to them failed. */
  private readonly suspects = new Set<string>();

  private readonly handedOver: number;
  private readonly firstLength = workflowInfo().historyLength;

  constructor(private readonly entries: Entry[]) {
    this.handedOver = entries.length;
  }

  /**
   * Whether a busy run may continue-as-new: once its line has moved (a request joined it, or an entry ended), or its
   * history has grown well past what taking over the line cost (unprompted looks while a release waits at a gate for
   * weeks). Never in a loop, however low the history limit and however long the line it was handed.
   */
  moved(historyLimit: number): boolean {
    return (
      this.entries.length > this.handedOver ||
      this.entries.some((e) => e.done) ||
      workflowInfo().historyLength - this.firstLength > Math.max(historyLimit, 4 * this.handedOver + 50)
    );
  }

  /** The line as handed over: its entries reach the workflows through external handles. */
  static receive(carried: readonly CarriedEntry[]): Entry[] {
    return carried.map((c) => ({ ...c, done: false, carried: true, handle: getExternalWorkflowHandle(c.workflowId) }));
  }

  /** A carried workflow may have ended: look at it soon. Unknown ids (and anything malformed) are ignored. */
  suspect(workflowId: unknown): void {
    if (typeof workflowId === 'string' && this.following().some((e) => e.workflowId === workflowId)) {
      this.suspects.add(workflowId);
    }
  }

  /** Asks each carried workflow to report its end, then looks whenever there is reason to, until none is left. */
  async follow(): Promise<void> {
    for (const entry of this.following()) {
      // A failed signal means the workflow has most likely closed already (between the two runs).
      (entry.handle as ReturnType<typeof getExternalWorkflowHandle>)
        .signal(reportEndSignal)
        .catch(() => this.suspect(entry.workflowId));
    }
    let wait = FIRST_LOOK_MS;
    while (this.following().length > 0) {
      const prompted = await condition(() => this.suspects.size > 0 || this.following().length === 0, wait);
      if (this.following().length === 0) return;
      const ids = prompted ? [...this.suspects] : this.following().map((e) => e.workflowId);
      this.suspects.clear();
      if (!prompted) wait = Math.min(wait * 2, LAST_LOOK_MS);
      let closed: string[];
      try {
        closed = await lookup.closedWorkflows.executeWithOptions(
          { summary: `which of ${ids.length} carried-over workflow(s) have ended` },
          // Told it ended, the workflow is closing: give it a moment.
          [{ workflowIds: ids, ...(prompted ? { waitMs: REPORTED_END_WAIT_MS } : {}) }],
        );
      } catch (err) {
        // Temporal could not be asked: the next unprompted look asks again.
        log.warn('could not look at the carried-over workflows', { error: innermostMessage(err) });
        continue;
      }
      for (const entry of this.following()) {
        if (closed.includes(entry.workflowId)) {
          entry.done = true;
          log.info(`${entry.kind} ${entry.id} (carried over) has ended`);
        }
      }
    }
  }

  private following(): Entry[] {
    return this.entries.filter((e) => e.carried && !e.done);
  }
}
