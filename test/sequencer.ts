// Runs the test files longest first, whatever their layer: vitest's own order runs the projects one after the other
// (by name: acceptance, replay, unit, workflow) and, on a clean clone with no timing cache, leaves the workflow
// layer's minute-long files for the end, where a few of them run alone on a pool of four. Longest first keeps the
// pool full until the end. The expected seconds come from a CI run (test/durations.json); a file not listed counts
// as its layer's typical file. Refresh the list when files are added or become much slower.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const measured = (
  JSON.parse(readFileSync(new URL('./durations.json', import.meta.url), 'utf8')) as {
    seconds: Record<string, number>;
  }
).seconds;

const TYPICAL: Record<string, number> = { acceptance: 30, workflow: 40, replay: 120, unit: 1 };

export default class LongestFirst extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const expected = (spec: TestSpecification) =>
      measured[`${spec.project.name}:${relative(process.cwd(), spec.moduleId)}`] ?? TYPICAL[spec.project.name] ?? 30;
    return Promise.resolve([...files].sort((a, b) => expected(b) - expected(a)));
  }
}
