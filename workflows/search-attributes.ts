// Search attributes of a release, registered on the server (dev stack and tests) and kept current by the workflow,
// so operators can filter releases in the Temporal UI: ReleaseService="hello" AND ReleaseStage="deploying".
import { defineSearchAttributeKey, type SearchAttributePair, SearchAttributeType } from '@temporalio/common';
import type { ReleasePlan } from '../domain/plan';

export const ReleaseService = defineSearchAttributeKey('ReleaseService', SearchAttributeType.KEYWORD);
export const ReleaseVersion = defineSearchAttributeKey('ReleaseVersion', SearchAttributeType.KEYWORD);
export const ReleaseStage = defineSearchAttributeKey('ReleaseStage', SearchAttributeType.KEYWORD);
export const ReleaseChangeClass = defineSearchAttributeKey('ReleaseChangeClass', SearchAttributeType.KEYWORD);
export const ReleaseRegions = defineSearchAttributeKey('ReleaseRegions', SearchAttributeType.KEYWORD_LIST);
export const ReleaseRequestedBy = defineSearchAttributeKey('ReleaseRequestedBy', SearchAttributeType.KEYWORD);
/** The train a release belongs to, and the train's own id on the train's workflow (issue 15). */
export const ReleaseTrain = defineSearchAttributeKey('ReleaseTrain', SearchAttributeType.KEYWORD);
/** The change ticket a release carries out (issue 16): ReleaseTicket = "CHG-1234". */
export const ReleaseTicket = defineSearchAttributeKey('ReleaseTicket', SearchAttributeType.KEYWORD);

/** Every custom search attribute the engine uses, for registration on the server. */
export const RELEASE_SEARCH_ATTRIBUTES = [
  ReleaseService,
  ReleaseVersion,
  ReleaseStage,
  ReleaseChangeClass,
  ReleaseRegions,
  ReleaseRequestedBy,
  ReleaseTrain,
  ReleaseTicket,
] as const;

/** The search attributes a release starts with; ReleaseStage is kept current by the release itself. */
export function releaseSearchAttributes(plan: ReleasePlan, requestedBy: string, stage: string): SearchAttributePair[] {
  return [
    { key: ReleaseService, value: plan.service },
    { key: ReleaseVersion, value: plan.version },
    { key: ReleaseStage, value: stage },
    { key: ReleaseChangeClass, value: plan.changeClass },
    { key: ReleaseRegions, value: plan.waves.flatMap((w) => w.regions.map((r) => r.region)) },
    { key: ReleaseRequestedBy, value: requestedBy },
  ];
}
