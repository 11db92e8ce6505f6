// Reading the audit trail on behalf of the API. The trail lives where the orchestrator writes it (PostgreSQL, or an
// embedded PGlite that only the worker's process can open), so the API asks through Temporal: this short workflow
// runs one read activity on the orchestrator and returns its answer. Every read of the audit trail is therefore
// itself on record (who asked, when, for what), which is what an auditor wants of an audit trail.
import { proxyActivities } from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities';
import type { AuditReadInput, AuditReadResult } from './messages';
import { quickStep } from './profiles';

const { listAudit, verifyAudit } = proxyActivities<ReleaseActivities>(quickStep);

export async function auditReadWorkflow(input: AuditReadInput): Promise<AuditReadResult> {
  if (input.request.kind === 'verify') return { kind: 'verify', verification: await verifyAudit() };
  return { kind: 'list', records: await listAudit(input.request.filter) };
}
