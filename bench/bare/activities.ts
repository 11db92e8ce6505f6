// The bare baseline's only activity: it does nothing. A tag names the place in the workflow it stands for, so the
// bare worker process can tell the bench how many workflows reached that place (e.g. "parked") without a query.

/** Counts of completed activities per tag, kept by the bare worker process. */
export type TagCounts = Map<string, number>;

export function createBareActivities({ counts }: { counts: TagCounts }) {
  return {
    /** Nothing; counts its tag. */
    noop(tag?: string): Promise<void> {
      if (tag) counts.set(tag, (counts.get(tag) ?? 0) + 1);
      return Promise.resolve();
    },
  };
}

export type BareActivities = ReturnType<typeof createBareActivities>;
