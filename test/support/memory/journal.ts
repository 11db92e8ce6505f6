// One ordered record of what the in-memory providers changed (fleet, databases, artifacts), shared by all of them,
// so a test can say "the contract migration ran after production was promoted" across providers.

export interface JournalEntry {
  seq: number;
  at: string;
  /** Which provider: fleet, database, artifacts. */
  source: 'fleet' | 'database' | 'artifacts';
  /** What happened, in words, e.g. "promote hello-x/b-x to 1.1.0" or "production: apply 0002_drop (contract)". */
  what: string;
}

export class Journal {
  readonly entries: JournalEntry[] = [];

  add(source: JournalEntry['source'], what: string): JournalEntry {
    const entry = { seq: this.entries.length + 1, at: new Date().toISOString(), source, what };
    this.entries.push(entry);
    return entry;
  }

  /** Position of the first entry matching `pattern` (-1 when none), for ordering assertions. */
  indexOf(pattern: RegExp | string): number {
    return this.entries.findIndex((e) =>
      typeof pattern === 'string' ? e.what.includes(pattern) : pattern.test(e.what),
    );
  }
}
