/**
 * Catalogue versions: the catalogue (dialogs/*.yaml items, _connectors/_governance/_alerts, intents
 * and the intent model's hash) as immutable, numbered versions in PostgreSQL, exactly one current.
 *
 * Building blocks (each module documents its part):
 *
 *   snapshot.ts   CatalogueSnapshot (files + model ref), readFolderSnapshot, contentHash,
 *                 writeSnapshot (export), materialise (temporary folder), layoutPaths, pathsFromConfig
 *   validate.ts   validateFolder / validateSnapshot / readAndValidate → CatalogueDocuments or every error
 *                 (the service's own loaders), runbookIssues
 *   store.ts      CatalogueVersionStore: list, get, current, currentSummary, createDraft, publish,
 *                 rollback, discard, publishSnapshot, openRequestsByVersion; StoreOptions.beforeChange
 *                 (change-control hook) and onChange; CatalogueVersionError codes
 *   diff.ts       diffCatalogues / diffItem (structured, with `weakened` flags) and renderDiff (text)
 *   live.ts       LiveCatalogue (current(), view, at(n), refresh(), polling), versionOf
 *   boot.ts       start-up: initial import, folder vs database, CATALOGUE_SOURCE
 *   runbooks.ts   the items' `exceptions:` for fulfillers (manual tasks, triage, API)
 *   admin-routes.ts  /admin/api/catalogue: versions, diff, rollback
 *
 * A change-request flow builds on this as: import → createDraft (a draft is the proposed change) →
 * diffCatalogues(current, draft) for the impact (weakenedItems, restart-only parts via
 * restartNeededBetween, openRequestsByVersion for who is in flight) → approvals of the change →
 * publish(draft, {expectedCurrent: the version it was assessed against}) with beforeChange
 * enforcing "approved and outside a freeze window" → rollback when it goes wrong.
 * A dry run is validateSnapshot + diffCatalogues + LiveCatalogue.at(draft) (drafts are loadable).
 */
export * from './snapshot.js';
export * from './validate.js';
export * from './store.js';
export * from './diff.js';
export * from './live.js';
export * from './runbooks.js';
export { bootCatalogue, type CatalogueBoot, type BootOptions } from './boot.js';
export { catalogueAdminRouter, type CatalogueAdminDeps } from './admin-routes.js';
