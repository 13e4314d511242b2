/**
 * Intake of deprecated (retiring) and removed items: what the conversation core and request
 * submission ask before offering, starting or storing an item.
 *
 * An item is RETIRED for intake when it has an `active` deprecation (from the moment it was
 * deprecated until it is removed), or a `removed` one while the current catalogue does not have
 * the item (an item re-introduced later under the same id is offered again). Retired items are:
 *  - not classified to: the classifier's answer is mapped to the item's alternative (followed
 *    through chains of retired alternatives), or to triage with a note when there is none: this is
 *    how the running intent model stops "predicting" a removed item before `errand train` drops it;
 *  - not started: `start:<item>` buttons and triage assignments are refused, naming the date and
 *    the alternative (with a button for it);
 *  - not submitted: RequestService.submit refuses them (API: 403 `ineligible`), so a dialog still
 *    open when the item was deprecated cannot submit it either.
 * Requests already submitted are pinned to their version and finish normally.
 */
import type { Catalogue } from '../loader.js';
import type { CatalogueItem } from '../schema.js';
import type { Queryable } from '../../db/database.js';
import type { Button } from '../../conversation/messages.js';

export interface Retirement {
  deprecationId: number;
  itemId: string;
  itemTitle: string;
  /** When the item is (was) removed from the catalogue. */
  until: Date;
  alternative: string | null;
  reason: string;
  status: 'active' | 'removed';
}

/** Where retirements come from (the database; tests may pass a fixed map). */
export interface IntakeGate {
  /** Every retirement by item id (active and removed deprecations). */
  retirements(): Promise<Map<string, Retirement>>;
}

/** Reads retirements from `catalogue_deprecations` (one small query per call: no cache to go stale across processes). */
export function databaseGate(db: Queryable): IntakeGate {
  return {
    async retirements() {
      const r = await db.query<{ id: string; item_id: string; item_title: string; until: Date; alternative: string | null; reason: string; status: 'active' | 'removed' }>(
        `SELECT DISTINCT ON (item_id) id, item_id, item_title, until, alternative, reason, status FROM catalogue_deprecations
         WHERE status IN ('active', 'removed') ORDER BY item_id, (status = 'active') DESC, id DESC`);
      return new Map(r.rows.map((x) => [x.item_id, {
        deprecationId: Number(x.id), itemId: x.item_id, itemTitle: x.item_title, until: x.until, alternative: x.alternative, reason: x.reason, status: x.status,
      }]));
    },
  };
}

/** The retirement that applies to `itemId` in `catalogue`, if any (see the module comment). */
export function retirementOf(map: Map<string, Retirement>, catalogue: Catalogue, itemId: string): Retirement | undefined {
  const r = map.get(itemId);
  if (!r) return undefined;
  if (r.status === 'removed' && catalogue.get(itemId)) return undefined; // re-introduced since
  return r;
}

/** Whether an item may be offered and started now. */
export function isOffered(map: Map<string, Retirement>, catalogue: Catalogue, itemId: string): boolean {
  return Boolean(catalogue.get(itemId)) && !retirementOf(map, catalogue, itemId);
}

/**
 * The item to use instead of a retired one: its alternative, followed through alternatives that
 * are retired themselves (at most 5 steps, no cycles); undefined when the chain ends without an
 * offered item.
 */
export function alternativeFor(map: Map<string, Retirement>, catalogue: Catalogue, itemId: string): CatalogueItem | undefined {
  const seen = new Set<string>([itemId]);
  let r = retirementOf(map, catalogue, itemId);
  for (let i = 0; r && i < 5; i++) {
    const alt = r.alternative;
    if (!alt || seen.has(alt)) return undefined;
    seen.add(alt);
    const next = retirementOf(map, catalogue, alt);
    if (!next) return catalogue.get(alt);
    r = next;
  }
  return undefined;
}

/** A date as people read it (UTC day). */
export const day = (d: Date): string => d.toISOString().slice(0, 10);

/** "X is being retired (removed on 2026-12-31)" / "X was retired on 2026-12-31". */
export function retiredPhrase(r: Retirement): string {
  return r.status === 'removed' ? `"${r.itemTitle}" was retired on ${day(r.until)}` : `"${r.itemTitle}" is being retired: it can no longer be requested and will be removed on ${day(r.until)}`;
}

/**
 * What a requester is told when they try to start or submit a retired item, with a button for the
 * alternative when there is one.
 */
export function refusalOf(map: Map<string, Retirement>, catalogue: Catalogue, r: Retirement): { text: string; buttons: Button[]; alternative: CatalogueItem | undefined } {
  const alt = alternativeFor(map, catalogue, r.itemId);
  return {
    text: `${retiredPhrase(r)}. ${alt ? `Please use "${alt.title}" instead.` : 'Tell me in your own words what you need, or ask the service desk.'}`,
    buttons: alt ? [{ id: `start:${alt.id}`, label: `Start ${alt.title}`, style: 'primary' }] : [],
    alternative: alt,
  };
}
