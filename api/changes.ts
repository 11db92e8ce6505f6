// "Something about the releases changed": the stream the console's inbox and release list listen to, so they reload
// when a release starts, moves to another stage or ends, or when someone decides, pauses or aborts through the API.
//
// Two sources, shared by every listener of this API process:
// - the API's own changes: every decision, pause, resume, abort and start goes through the API (it is the only door),
//   which announces it the moment the workflow has taken it;
// - what the workflows do by themselves (a canary opens a gate, a wave ends, a release finishes): Temporal has no
//   change feed for visibility, so while at least one listener is connected the API reads the running releases and
//   their stage once every few seconds (one visibility read for all listeners together) and announces differences.
//   Nobody listening, no reads. The browser itself never polls.
import type { Client } from '@temporalio/client';
import { ReleaseStage } from '../workflows/search-attributes';
import { releaseListQuery } from './visibility';

export interface ReleaseChange {
  service: string;
  releaseId: string;
  /** The stage visibility shows now; absent for a change the API announced, or a release that just ended. */
  stage?: string;
}

export interface ReleaseChangesOptions {
  /** How often the running releases are read while someone listens (default 3 s). */
  intervalMs?: number;
  /** Running releases looked at, at most, per read (default 500). */
  max?: number;
}

type Listener = (changes: ReleaseChange[]) => void;

export class ReleaseChanges {
  private readonly listeners = new Set<Listener>();
  /** Running releases by workflow id, with their stage, as of the last read (undefined before the first). */
  private seen: Map<string, ReleaseChange> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The read in progress, if any (close() waits for it). */
  private reading: Promise<void> | undefined;
  private closed = false;
  private readonly intervalMs: number;
  private readonly max: number;

  constructor(
    private readonly temporal: Client,
    options: ReleaseChangesOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 3000;
    this.max = options.max ?? 500;
  }

  /** Announces a change the API made (a decision, a control message, a start). */
  announce(service: string, releaseId: string): void {
    this.emit([{ service, releaseId }]);
  }

  /** Changes as they happen, until `signal` aborts. */
  async *subscribe(signal: AbortSignal | undefined): AsyncGenerator<{ changes: ReleaseChange[] }> {
    const queue: ReleaseChange[][] = [];
    let wake: (() => void) | undefined;
    const listener: Listener = (changes) => {
      queue.push(changes);
      wake?.();
    };
    const onAbort = () => wake?.();
    this.listeners.add(listener);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.schedule();
    try {
      while (!signal?.aborted) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        yield { changes: queue.splice(0).flat() };
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    }
  }

  /** Stops reading until someone listens again; listeners stay until their requests end. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.seen = undefined;
  }

  /**
   * Stops for good and waits for a read in progress, so the API can close its Temporal connection afterwards: a read
   * the Temporal client is retrying when its connection closes would throw from the client's retry timer.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    await this.reading;
  }

  private emit(changes: ReleaseChange[]): void {
    if (changes.length === 0) return;
    for (const listener of this.listeners) listener(changes);
  }

  private schedule(): void {
    if (this.closed || this.timer || this.listeners.size === 0) return;
    this.timer = setTimeout(
      () => {
        this.reading ??= this.look().finally(() => {
          this.reading = undefined;
          this.timer = undefined;
          this.schedule();
        });
      },
      this.seen ? this.intervalMs : 0,
    );
    this.timer.unref();
  }

  private async look(): Promise<void> {
    try {
      const now = new Map<string, ReleaseChange>();
      const query = releaseListQuery({ outcome: 'running' });
      for await (const info of this.temporal.workflow.list({ query, pageSize: this.max })) {
        const [, service = '', releaseId = ''] = info.workflowId.split('/');
        const stage = info.typedSearchAttributes.get(ReleaseStage);
        now.set(info.workflowId, { service, releaseId, ...(stage ? { stage } : {}) });
        if (now.size >= this.max) break;
      }
      const before = this.seen;
      this.seen = now;
      if (before) {
        const changes: ReleaseChange[] = [];
        for (const [id, change] of now) if (before.get(id)?.stage !== change.stage) changes.push(change);
        for (const [id, gone] of before)
          if (!now.has(id)) changes.push({ service: gone.service, releaseId: gone.releaseId });
        this.emit(changes);
      }
    } catch {
      // Temporal busy or away: the next read tries again; the pages keep what they show.
    }
  }
}
