/**
 * Change management of the catalogue (on top of src/catalogue/versions): publishing a draft and
 * rolling back are change requests with an impact assessment, a dry run of every changed item,
 * approvals in chat by the owners (plus security, plus an admin for emergencies), freeze windows
 * and scheduled publishes; the version store's beforeChange (guard.ts) refuses everything else.
 *
 *   model.ts       stored shapes (migration 021)
 *   repository.ts  SQL: change requests, approvals, freezes, the change-control switch
 *   impact.ts      the impact assessment (touched items, in flight, 30-day volume, risk, weaker controls)
 *   samples.ts     sample answers (from the schema, pattern hints, dialogs/_samples.yaml) and scenarios
 *   dry-run.ts     the dry run: dialog validation + workflow against rolled-back local actions and
 *                  the http connector's own mappings (recorded responses), nothing sent to backends
 *   approvers.ts   who must approve
 *   guard.ts       the store hook: approved, current, due, outside freezes (folder mode: auto-approved)
 *   render.ts      approval cards and `errand change show`
 *   service.ts     ChangeService: create, decide, cancel, publish (now / scheduled), freezes
 */
export * from './model.js';
export { ChangeService, ChangeError, CHANGE_PUBLISH_JOB, type ChangeServiceDeps, type CreateInput, type ChangeView, type DecideOutcome } from './service.js';
export { changeControlGuard, defaultChangeControl, describeFreeze, type Guard } from './guard.js';
export { armChangeControl, isArmed } from './repository.js';
export { dryRun, type DryRunResult, type DryRunItem, type DryRunOptions } from './dry-run.js';
export { assessImpact, governanceChanges, type ImpactAssessment, type TouchedItem } from './impact.js';
export { renderChange, approvalCard, dryRunLines } from './render.js';
export { sampleAnswer, scenariosOf, stringsMatching, hintExamples, samplesOf, SAMPLES_PATH } from './samples.js';
