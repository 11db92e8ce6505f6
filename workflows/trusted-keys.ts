// The public keys the workflows trust for signed messages. They are compiled into the workflow bundle from the
// worker's configuration (workers/bundle.ts defines __ENGINE_DECISION_KEYS__), so they never come from workflow
// input, history or an activity result: whoever can write those cannot choose which keys are trusted.
import { verifyAuthorization, type MessageScope, type Verification } from '../domain/signed-message';
import { workflowInfo } from '@temporalio/workflow';

declare const __ENGINE_DECISION_KEYS__: Record<string, string> | undefined;

/** Key id -> raw ed25519 public key (hex); empty when the bundle was built without keys (nothing verifies). */
export function trustedKeys(): Record<string, string> {
  return typeof __ENGINE_DECISION_KEYS__ === 'undefined' ? {} : __ENGINE_DECISION_KEYS__;
}

/** Verifies a signed message for `workflowId` in this workflow's namespace, at time `at` (workflow time). */
export function verifySigned(
  workflowId: string,
  message: MessageScope['message'],
  fields: object | undefined,
  at: number,
): Verification {
  const scope = { namespace: workflowInfo().namespace, workflowId, message };
  return verifyAuthorization(trustedKeys(), scope, fields as Record<string, unknown> | undefined, at);
}
