// What workflows need of the release stages at run time, free of zod (workers/bundle.ts).
import type { ReleaseStage } from './release-status';

/** Stages after which nothing more happens to the release. */
export function isFinalStage(stage: ReleaseStage): boolean {
  return stage === 'succeeded' || stage === 'failed' || stage === 'rolled-back' || stage === 'aborted';
}
