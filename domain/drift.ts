// Drift: a region that runs something other than what the version ledger says, i.e. a change made by some path other
// than a release (a direct call to the fleet, a hand-run command). A release refuses to start on a drifted region until
// an SRE acknowledges that exact observed state; a different change after the acknowledgement is drift again.

/** What the fleet says a region runs (a fleet target's `running()`), or why it cannot tell. */
export type ObservedRegion =
  | {
      known: true;
      stableVersion: string | undefined;
      /** Share of traffic per version, only versions that get some. */
      traffic: Record<string, number>;
      /** Every version with instances in the region, sorted (serving or not). */
      deployed: string[];
      /** When the fleet last changed the region, if it keeps a log. */
      changedAt?: string;
    }
  | { known: false; reason: string };

/** The ledger's word on a region. */
export interface LedgerView {
  version: string;
  releaseId: string;
  recordedAt: string;
}

/** An SRE's acknowledgement of one observed state of one region. */
export interface DriftAcknowledgement {
  fingerprint: string;
  ledgerVersion: string;
  runs: string;
  by: string;
  reason: string;
  at: string;
}

export type RegionDrift =
  | { status: 'in-sync'; version: string }
  | {
      status: 'drifted';
      ledgerVersion: string;
      /** In words: "1.3.0 on 100% of traffic (stable 1.0.0)". */
      runs: string;
      /** When the fleet last changed the region, if it knows. */
      since: string | null;
      /** Identifies this exact observed state; an acknowledgement names it. */
      fingerprint: string;
      acknowledged: DriftAcknowledgement | null;
    }
  | { status: 'unknown'; reason: string };

const byVersion = ([a]: [string, number], [b]: [string, number]) => a.localeCompare(b);

/** The observed state in words: which versions serve traffic, the stable one, and any deployed without traffic. */
export function describeRunning(observed: Extract<ObservedRegion, { known: true }>): string {
  const serving = Object.entries(observed.traffic).sort(byVersion);
  const [only] = serving;
  const parts: string[] = [];
  if (serving.length === 1 && only && only[0] === observed.stableVersion) parts.push(only[0]);
  else {
    parts.push(
      serving.length === 0
        ? 'no version on any traffic'
        : serving.map(([v, p]) => `${v} on ${p}% of traffic`).join(', '),
    );
    parts.push(`(stable ${observed.stableVersion ?? 'none'})`);
  }
  const idle = observed.deployed.filter((v) => !(v in observed.traffic));
  if (idle.length > 0) parts.push(`plus ${idle.join(', ')} deployed without traffic`);
  return parts.join(' ');
}

/** A stable string for the observed state against the ledger entry it was compared with. */
export function driftFingerprint(ledger: LedgerView, observed: Extract<ObservedRegion, { known: true }>): string {
  return JSON.stringify({
    ledger: [ledger.version, ledger.releaseId],
    stable: observed.stableVersion ?? null,
    traffic: Object.entries(observed.traffic).sort(byVersion),
    deployed: [...observed.deployed].sort(),
  });
}

/**
 * Compares a region's ledger entry with what it runs. In sync when only the ledger's version runs, as the stable
 * version with all the traffic; drifted otherwise; unknown when either side cannot say.
 */
export function regionDrift(
  ledger: LedgerView | undefined,
  observed: ObservedRegion,
  lastAck?: DriftAcknowledgement,
): RegionDrift {
  if (!observed.known) return { status: 'unknown', reason: observed.reason };
  if (!ledger) {
    return {
      status: 'unknown',
      reason: 'the version ledger has no entry for this region yet (its first release records what it finds)',
    };
  }
  const only = (v: string) => observed.traffic[v] === 100 && observed.deployed.every((d) => d === v);
  if (observed.stableVersion === ledger.version && only(ledger.version)) {
    return { status: 'in-sync', version: ledger.version };
  }
  const fingerprint = driftFingerprint(ledger, observed);
  return {
    status: 'drifted',
    ledgerVersion: ledger.version,
    runs: describeRunning(observed),
    since: observed.changedAt ?? null,
    fingerprint,
    acknowledged: lastAck?.fingerprint === fingerprint ? lastAck : null,
  };
}

/** One line for a person: "ledger says 1.0.0, runs 1.3.0 on 100% of traffic (stable 1.0.0) since ...". */
export function describeDrift(region: string, drift: Extract<RegionDrift, { status: 'drifted' }>): string {
  return `${region}: the version ledger says ${drift.ledgerVersion}, the region runs ${drift.runs}${
    drift.since ? ` (changed ${drift.since})` : ''
  }`;
}

/** The refusal of a release over unacknowledged drift, naming each region and what to do. */
export function driftRefusal(
  service: string,
  drifted: { region: string; drift: Extract<RegionDrift, { status: 'drifted' }> }[],
): string {
  const names = drifted.map((d) => d.region).join(', ');
  const lines = drifted.map((d) => `  ${describeDrift(d.region, d.drift)}`).join('\n');
  const first = drifted[0]?.region ?? '<region>';
  return (
    `regions: ${names} of ${service} run something the version ledger does not record (changed outside a release), ` +
    `so this release will not start there:\n${lines}\n` +
    `Find out who changed it. Then either put it back (relctl rollback ${service} --reason ...), or have an SRE ` +
    `accept what runs now: relctl service ack-drift ${service} ${first} --reason "..." (once per region), and start ` +
    'the release again.'
  );
}
