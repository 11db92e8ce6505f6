// Audit events as the workflows describe them. The audit store (providers/audit) chains and stores them; ids are
// chosen by the writer so a retried append stores each event once.

export interface AuditEvent {
  /** '<workflowId>#<n>': unique, and the same on every retry. */
  id: string;
  at: string;
  /** Principal id, or 'engine'. */
  actor: string;
  action: string;
  service: string;
  releaseId?: string;
  gate?: string;
  region?: string;
  beforeVersion?: string;
  afterVersion?: string;
  reason?: string;
  details?: Record<string, string | number | boolean | null | string[]>;
}
