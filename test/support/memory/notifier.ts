// A notifier that keeps what it was asked to deliver, and can be made to fail like a webhook that is down.
import type { Notifier, ReleaseEvent } from '../../../providers/notify/notifier';

export class MemoryNotifier implements Notifier {
  /** Delivered events, in order. */
  readonly delivered: ReleaseEvent[] = [];
  /** Every attempt, delivered or not (a failing channel is tried a few times per event). */
  readonly attempts: ReleaseEvent[] = [];
  private down: string | undefined;

  /** From now on every delivery fails with `reason`; undefined brings the channel back. */
  setDown(reason: string | undefined): void {
    this.down = reason;
  }

  notify(event: ReleaseEvent): Promise<void> {
    this.attempts.push(event);
    if (this.down) return Promise.reject(new Error(this.down));
    this.delivered.push(event);
    return Promise.resolve();
  }

  kinds(releaseId: string): string[] {
    return this.delivered.filter((e) => e.releaseId === releaseId).map((e) => e.kind);
  }
}
