// Entry point of the workflow bundle: every workflow type the orchestrator worker runs.
export { releaseWorkflow } from './release';
