// Search attributes of a release, registered on the server (dev stack and tests) and kept current by the workflow,
// so operators can filter releases in the Temporal UI: ReleaseService="hello" AND ReleaseStage="deploying".
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ReleaseService = defineSearchAttributeKey('ReleaseService', SearchAttributeType.KEYWORD);
export const ReleaseVersion = defineSearchAttributeKey('ReleaseVersion', SearchAttributeType.KEYWORD);
export const ReleaseStage = defineSearchAttributeKey('ReleaseStage', SearchAttributeType.KEYWORD);
export const ReleaseChangeClass = defineSearchAttributeKey('ReleaseChangeClass', SearchAttributeType.KEYWORD);
export const ReleaseRegions = defineSearchAttributeKey('ReleaseRegions', SearchAttributeType.KEYWORD_LIST);
export const ReleaseRequestedBy = defineSearchAttributeKey('ReleaseRequestedBy', SearchAttributeType.KEYWORD);

/** Every custom search attribute the engine uses, for registration on the server. */
export const RELEASE_SEARCH_ATTRIBUTES = [
  ReleaseService,
  ReleaseVersion,
  ReleaseStage,
  ReleaseChangeClass,
  ReleaseRegions,
  ReleaseRequestedBy,
] as const;
