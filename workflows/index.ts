// Entry point of the workflow bundle: every workflow type the engine's workers run.
export { alertRecordWorkflow } from './alert-record';
export { auditReadWorkflow } from './audit-read';
export { emergencyRollbackWorkflow } from './emergency-rollback';
export { incidentNoteWorkflow } from './incident-note';
export { regionRolloutWorkflow } from './region-rollout';
export { releaseWorkflow } from './release';
export { serviceWorkflow } from './service';
export { trainWorkflow } from './train';
