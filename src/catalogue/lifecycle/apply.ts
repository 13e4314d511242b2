/**
 * THE single place where a lifecycle change (an item removed after its deprecation, an
 * organisational reassignment) becomes current. Everything in src/catalogue/lifecycle/ builds a
 * DRAFT version through the version store and hands it here.
 *
 * 1. The draft is published through CatalogueVersionStore.publish with `expectedCurrent` = the
 *    version it was built from (a draft holds the whole catalogue: publishing it over a newer
 *    version would silently undo that version's changes, so a moved current version makes it
 *    `stale`: it is discarded and the caller rebuilds on the new current version).
 * 2. The store's beforeChange hook is change control (src/catalogue/change/guard.ts). Where it is on,
 *    it refuses a publish without an approved change request (CHANGE_CONTROL): the draft then gets
 *    a change request (ChangeService.create: diff, impact, dry run, approvals in chat) and the
 *    outcome is `change-request`; the change publishes the draft once approved, and the lifecycle
 *    job notices that on its next run. Where change control is off, step 1 simply publishes.
 * 3. Any other refusal (a freeze window, nobody to approve, a failed dry run, ...) keeps the draft
 *    and says why (`kept-as-draft`).
 */
import type { Database } from '../../db/database.js';
import type { Logger } from '../../log.js';
import { CatalogueVersionError, type CatalogueVersionStore, type PublishResult, type VersionSummary } from '../versions/store.js';

export type ApplyOutcome =
  | { kind: 'published'; draft: number; result: PublishResult }
  /** The current version moved since the draft was built: it was discarded; rebuild on the new one. */
  | { kind: 'stale'; draft: number; message: string }
  /** Change control: a change request for the draft waits for its approvals. */
  | { kind: 'change-request'; draft: number; ref: string; status: string; message: string }
  /** Refused and no change request could be opened: the draft is kept, `message` says why. */
  | { kind: 'kept-as-draft'; draft: number; message: string; code?: string };

/** Opens change requests for drafts and reports on them (src/catalogue/change). */
export interface ChangeRequester {
  create(i: { draft: number; author: string; reason: string; system: boolean }): Promise<{ ref: string; status: string }>;
  /** The newest change request of a draft. */
  ofDraft(draft: number): Promise<{ ref: string; status: string; closedReason: string | null } | undefined>;
}

/** The change-request service of src/catalogue/change, loaded on first use. */
export function changeRequester(o: { db: Database; store: CatalogueVersionStore; now: () => Date; log?: Logger; extraOperations?: () => Iterable<string> }): ChangeRequester {
  const service = (async () => {
    const { ChangeService } = await import('../change/service.js');
    return new ChangeService({ db: o.db, store: o.store, now: o.now, ...(o.log ? { log: o.log } : {}), ...(o.extraOperations ? { extraOperations: o.extraOperations } : {}) });
  })();
  service.catch(() => undefined);
  return {
    async create(i) {
      const v = await (await service).create(i);
      return { ref: v.change.ref, status: v.change.status };
    },
    async ofDraft(draft) {
      const r = await o.db.query<{ ref: string; status: string; closed_reason: string | null }>(
        'SELECT ref, status, closed_reason FROM change_requests WHERE draft_version = $1 ORDER BY created_at DESC LIMIT 1', [draft]);
      return r.rows[0] ? { ref: r.rows[0].ref, status: r.rows[0].status, closedReason: r.rows[0].closed_reason } : undefined;
    },
  };
}

export async function applyDraft(store: CatalogueVersionStore, draft: VersionSummary, meta: { author: string; reason: string; system: boolean }, changes?: ChangeRequester): Promise<ApplyOutcome> {
  const cur = await store.currentSummary();
  if ((cur?.number ?? null) !== draft.basedOn) return discardStale(store, draft, meta.author, `the current version moved to v${cur?.number ?? '-'} while the change was prepared on v${draft.basedOn ?? '-'}`);
  try {
    // ── the direct publish (change control off, or it lets this change through) ──
    const result = await store.publish(draft.number, { author: meta.author, reason: meta.reason, expectedCurrent: draft.basedOn });
    return { kind: 'published', draft: draft.number, result };
  } catch (e) {
    if (e instanceof CatalogueVersionError && e.code === 'CONFLICT' && (await store.currentSummary())?.number !== draft.basedOn) return discardStale(store, draft, meta.author, e.message);
    if (e instanceof CatalogueVersionError && e.code === 'CHANGE_CONTROL' && changes) {
      // ── CHANGE-CONTROL CALL SITE: the draft becomes a change request ──
      try {
        const c = await changes.create({ draft: draft.number, author: meta.author, reason: meta.reason, system: meta.system });
        return { kind: 'change-request', draft: draft.number, ref: c.ref, status: c.status, message: c.status === 'pending-approval' ? `${c.ref} waits for approval` : `${c.ref} is ${c.status}` };
      } catch (ce) {
        return { kind: 'kept-as-draft', draft: draft.number, message: `${e.message}; opening a change request failed: ${(ce as Error).message}`, code: (ce as { code?: string }).code ?? e.code };
      }
    }
    return { kind: 'kept-as-draft', draft: draft.number, message: (e as Error).message, ...(e instanceof CatalogueVersionError ? { code: e.code } : {}) };
  }
}

async function discardStale(store: CatalogueVersionStore, draft: VersionSummary, author: string, message: string): Promise<ApplyOutcome> {
  await store.discard(draft.number, { author, reason: `stale: ${message}` }).catch(() => undefined);
  return { kind: 'stale', draft: draft.number, message };
}
