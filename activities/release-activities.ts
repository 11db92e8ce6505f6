// Orchestrator activities: run on the release task queue, next to the workflow.
import { ApplicationFailure } from '@temporalio/activity';
import type { ArtifactRecord } from '../domain/artifact';
import type { ArtifactStore } from '../providers/artifacts/artifact-store';
import type { VersionLedger } from '../providers/config-store/version-ledger';
import { translateErrors } from './errors';

export interface ReleaseActivityDeps {
  artifacts: ArtifactStore;
  ledger: VersionLedger;
}

export function createReleaseActivities({ artifacts, ledger }: ReleaseActivityDeps) {
  return {
    /** Finds `service@version` in the artifact store and checks its bytes against the digest. */
    async resolveArtifact(input: { service: string; version: string }): Promise<ArtifactRecord> {
      return translateErrors(async () => {
        const record = await artifacts.resolve(input.service, input.version);
        if (!record) {
          throw ApplicationFailure.nonRetryable(
            `there is no artifact ${input.service}@${input.version} in the artifact store`,
            'ArtifactNotFound',
          );
        }
        await artifacts.read(record.digest);
        return record;
      });
    },

    /** Records in the version ledger that a region now runs a version. Safe to repeat. */
    async recordRegionVersion(input: {
      service: string;
      region: string;
      version: string;
      digest: string;
      releaseId: string;
      recordedAt: string;
    }): Promise<void> {
      const { service, region, ...entry } = input;
      await ledger.record(service, region, entry);
    },
  };
}

export type ReleaseActivities = ReturnType<typeof createReleaseActivities>;
