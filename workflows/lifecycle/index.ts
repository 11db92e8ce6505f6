// Client-side helpers for the engine's workflows: start a release through its service coordinator, decide on gates,
// pause/resume/abort, roll back, deliver and record alerts, and read state, with Temporal's errors turned into
// EngineErrors in plain words.
// Used by the API and tests; never bundled into workflow code (workflows/index.ts does not import it).
export * from './alerts';
export * from './checks';
export * from './decisions';
export * from './incidents';
export * from './reads';
export * from './starts';
export * from './trains';
