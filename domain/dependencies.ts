// What a release needs of other services: the catalog says which services a service depends on (`dependsOn`, the
// graph trains are ordered by), and an artifact's manifest may say which versions of them it requires (`requires`,
// semver ranges). A release whose requirements are not met where it is going is refused before anything starts.
import semver from 'semver';

/** One service's version in one region, as the ledger (or, failing it, the fleet) says. */
export interface RunningVersion {
  region: string;
  version: string | undefined;
}

export interface RequirementCheck {
  service: string;
  version: string;
  /** The manifest's `requires`: service -> semver range. */
  requires: Record<string, string>;
  /** The services the catalog says `service` depends on. */
  dependsOn: readonly string[];
  /** The environments the release goes through, in order. */
  environments: readonly string[];
  /**
   * What `dependency` runs in `environment`: one entry per region of it, or undefined when the dependency has no
   * such environment in the catalog.
   */
  running: (dependency: string, environment: string) => RunningVersion[] | undefined;
}

/** Whether `range` is a semver range this engine understands (">=1.4.0", "^2.1.0", "1.x || >=3.0.0"). */
export function isValidRange(range: string): boolean {
  return semver.validRange(range) !== null;
}

/**
 * Every requirement not met, in words ("checkout@2.0.0 needs payments >=1.4.0 in production, which runs 1.3.2"),
 * in the order of the environments; [] when all are met. A region that runs nothing known fails the requirement.
 */
export function unmetRequirements(check: RequirementCheck): string[] {
  const problems: string[] = [];
  const self = `${check.service}@${check.version}`;
  for (const [dependency, range] of Object.entries(check.requires)) {
    if (!check.dependsOn.includes(dependency)) {
      problems.push(
        `${self} requires ${dependency} ${range}, but the catalog does not list ${dependency} in ${check.service}'s dependsOn`,
      );
      continue;
    }
    for (const environment of check.environments) {
      const regions = check.running(dependency, environment);
      if (regions === undefined) {
        problems.push(`${self} needs ${dependency} ${range} in ${environment}, where the catalog has no ${dependency}`);
        continue;
      }
      const bad = regions.filter((r) => !r.version || !semver.satisfies(r.version, range, { includePrerelease: true }));
      if (bad.length === 0) continue;
      const versions = new Set(regions.map((r) => r.version ?? 'nothing known'));
      const where =
        versions.size === 1
          ? `which runs ${[...versions][0]}`
          : `where ${bad.map((r) => `${r.region} runs ${r.version ?? 'nothing known'}`).join(', ')}`;
      problems.push(`${self} needs ${dependency} ${range} in ${environment}, ${where}`);
    }
  }
  return problems;
}

/**
 * The services of `graph` in an order where each comes after everything it depends on, as levels (the services of one
 * level do not depend on each other and may go in parallel); a cycle is an error naming it.
 */
export function dependencyLevels(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const levels: string[][] = [];
  const placed = new Set<string>();
  const remaining = new Set(graph.keys());
  while (remaining.size > 0) {
    const level = [...remaining]
      .filter((s) => (graph.get(s) ?? []).every((d) => placed.has(d) || !graph.has(d)))
      .sort();
    if (level.length === 0)
      throw new Error(`the dependencies form a cycle: ${findCycle(graph, remaining).join(' -> ')}`);
    for (const s of level) {
      placed.add(s);
      remaining.delete(s);
    }
    levels.push(level);
  }
  return levels;
}

function findCycle(graph: ReadonlyMap<string, readonly string[]>, among: ReadonlySet<string>): string[] {
  const start = [...among].sort()[0] as string;
  const path: string[] = [];
  let at = start;
  while (!path.includes(at)) {
    path.push(at);
    at = (graph.get(at) ?? []).find((d) => among.has(d)) ?? start;
  }
  return [...path.slice(path.indexOf(at)), at];
}
