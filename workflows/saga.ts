// The compensation stack of a release. Each step registers its compensation before it runs; on failure they run
// in reverse order, and compensations of the same group (the regions of one wave) run in parallel. A compensation
// that fails, or that cannot run safely, is never silently dropped: a human is asked what to do. A human who leaves
// an irreversible step undone also stops the rollback there: undoing what came before it (e.g. putting old code back
// on a schema a contract migration changed) would not be safe either.

export interface Compensation {
  name: string;
  /** Consecutive compensations with the same group run in parallel (e.g. the regions of one wave). */
  group: string;
  /** Cannot be undone automatically (e.g. after a contract migration): ask a human instead of running it. */
  irreversible?: boolean;
  run: () => Promise<void>;
}

/** What a human decided about a compensation: try it again, or leave it undone (handled or to be handled by hand). */
export type HumanDecision = 'retry' | 'leave';

export interface SagaHooks {
  onStart(compensation: Compensation): void;
  onDone(compensation: Compensation): void;
  /** The compensation did not run: `handledByHuman` when a person said they took care of it. */
  onLeft(compensation: Compensation, reason: string, handledByHuman: boolean): void;
  askHuman(compensation: Compensation, problem: string): Promise<HumanDecision>;
}

export class Saga {
  private readonly entries: Compensation[] = [];

  get size(): number {
    return this.entries.length;
  }

  add(compensation: Compensation): void {
    this.entries.push(compensation);
  }

  /** Runs every compensation in reverse; true when all of them ran. Call it inside a non-cancellable scope. */
  async compensate(hooks: SagaHooks): Promise<boolean> {
    let allRan = true;
    const groups: Compensation[][] = [];
    for (const entry of [...this.entries].reverse()) {
      const last = groups[groups.length - 1];
      if (last && last[0]?.group === entry.group) last.push(entry);
      else groups.push([entry]);
    }
    this.entries.length = 0;
    for (const [index, group] of groups.entries()) {
      const results = await Promise.all(group.map((compensation) => this.runOne(compensation, hooks)));
      allRan &&= results.every((r) => r === 'ran');
      const stopAt = group.find((_, i) => results[i] === 'stopped');
      if (stopAt) {
        for (const rest of groups.slice(index + 1).flat()) {
          hooks.onLeft(rest, `not run: the rollback stopped at "${stopAt.name}"`, false);
        }
        return false;
      }
    }
    return allRan;
  }

  private async runOne(compensation: Compensation, hooks: SagaHooks): Promise<'ran' | 'left' | 'stopped'> {
    if (compensation.irreversible) {
      const decision = await hooks.askHuman(compensation, `${compensation.name} cannot be undone automatically`);
      hooks.onLeft(compensation, 'cannot be undone automatically', decision === 'retry');
      return decision === 'retry' ? 'ran' : 'stopped';
    }
    for (;;) {
      hooks.onStart(compensation);
      try {
        await compensation.run();
        hooks.onDone(compensation);
        return 'ran';
      } catch (err) {
        const problem = `${compensation.name} failed: ${innermostMessage(err)}`;
        if ((await hooks.askHuman(compensation, problem)) === 'leave') {
          hooks.onLeft(compensation, innermostMessage(err), false);
          return 'left';
        }
      }
    }
  }
}

/** The innermost message of a failure chain (an ActivityFailure or ChildWorkflowFailure wraps the real error). */
export function innermostMessage(err: unknown): string {
  let current: unknown = err;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message || String(err) : String(current);
}
