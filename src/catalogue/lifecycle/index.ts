/**
 * Catalogue lifecycle: decommissioning items and organisational changes, on top of catalogue
 * versions (src/catalogue/versions/).
 *
 *   usage.ts         usage per item: requests per month (12 months), last used, open requests
 *   deprecations.ts  deprecate / cancel / list; removeDue (the LIFECYCLE_JOB) removes items after
 *                    their notice period in a new version (author "system")
 *   intake.ts        what intake does with retired items (classification → alternative or triage,
 *                    start buttons and submissions refused)
 *   edit.ts          YAML edits of a version's files: remove an item and its intents; reassign
 *   org.ts           bulk reassignment with preview (diff) and apply; re-routing approvals of leavers
 *   apply.ts         the single call site where a lifecycle draft becomes current (publish or change control)
 *   (src/http/lifecycle.routes.ts: the admin API, /admin/api/lifecycle; src/cli/lifecycle-commands.ts: the CLI)
 *   errors.ts        LifecycleError codes, who may do what
 */
import type { Catalogue } from '../loader.js';
import { changeRequester } from './apply.js';
import { DeprecationService, type LifecycleDeps, type RemovalOutcome } from './deprecations.js';
import { databaseGate, refusalOf, retirementOf, type IntakeGate } from './intake.js';
import { OrgService, type RerouteOutcome } from './org.js';
import { usageReport, type UsageReport } from './usage.js';

export * from './intake.js';
export * from './usage.js';
export * from './deprecations.js';
export * from './edit.js';
export * from './org.js';
export * from './apply.js';
export * from './errors.js';

export interface Lifecycle {
  gate: IntakeGate;
  deprecations: DeprecationService;
  org: OrgService;
  usage(o?: { item?: string }): Promise<UsageReport>;
  /** One pass of the LIFECYCLE_JOB: removes items whose notice period has passed. */
  removeDue(o?: { retry?: boolean }): Promise<RemovalOutcome[]>;
  /** One pass of the REROUTE_JOB: re-routes pending approvals of leavers. */
  rerouteApprovals(o?: { dryRun?: boolean; actor?: string; trusted?: boolean }): Promise<RerouteOutcome[]>;
  /** Why a new request for `itemId` is refused now (undefined: it is not). */
  intakeRefusal(itemId: string): Promise<IntakeRefusal | undefined>;
}

export interface IntakeRefusal { message: string; until: Date; alternative: string | null; deprecation: number }

/** Why `itemId` may not be requested now, in `catalogue` (undefined when it may). */
export async function intakeRefusalOf(gate: IntakeGate, catalogue: Catalogue, itemId: string): Promise<IntakeRefusal | undefined> {
  const map = await gate.retirements();
  const r = retirementOf(map, catalogue, itemId);
  if (!r) return undefined;
  const f = refusalOf(map, catalogue, r);
  return { message: f.text, until: r.until, alternative: f.alternative?.id ?? null, deprecation: r.deprecationId };
}

export function createLifecycle(deps: LifecycleDeps): Lifecycle {
  const d: LifecycleDeps = { ...deps, changes: deps.changes ?? changeRequester(deps) };
  const gate = databaseGate(d.db);
  const deprecations = new DeprecationService(d);
  const org = new OrgService(d);
  return {
    gate, deprecations, org,
    usage: (o = {}) => usageReport(d.db, { now: d.now(), catalogue: d.catalogue(), ...(o.item ? { item: o.item } : {}) }),
    removeDue: (o = {}) => deprecations.removeDue(o),
    rerouteApprovals: (o = {}) => org.rerouteApprovals(o),
    intakeRefusal: (itemId) => intakeRefusalOf(gate, d.catalogue(), itemId),
  };
}
