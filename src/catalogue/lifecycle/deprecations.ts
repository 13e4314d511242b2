/**
 * Deprecating catalogue items (table `catalogue_deprecations`, migration 022) and removing them
 * after their notice period.
 *
 * deprecate(item, until, alternative?, reason, actor)
 *   - refused unless the actor is an admin or catalogue admin, the item is in the current catalogue
 *     and not already deprecated, `until` is in the future (by the injected clock) and the
 *     alternative is another offered item;
 *   - in one transaction: the deprecation row, the notices and the audit entry. From then on the
 *     item is hidden from intake (see intake.ts);
 *   - told in chat (outbox, key `deprecation:<id>:notice:<e-mail>`, so each person gets one notice):
 *     the item's owner (owner.contact), everyone who requested it in the last 90 days and every
 *     approver of those requests (stakeholders) who is still active, with the date and the alternative.
 *
 * removeDue() (the LIFECYCLE_JOB, hourly): every active deprecation whose `until` has passed gets
 * a NEW catalogue version without the item and without its intents (author "system", reason
 * "deprecation #<id> of <item>: ..."), created with store.createDraft and made current by
 * applyDraft (the single publish / change-control call site). Where change control is on, the
 * draft gets a change request (approved in chat like any other catalogue change); the deprecation
 * remembers the draft (`removal_draft`) and is marked removed on the first run after a current
 * version no longer has the item. A removal whose change request was denied or cancelled is not
 * tried again by itself (`remove-due --retry` does); a draft that went stale is rebuilt. A removal that does not validate (another item still refers to it) is not
 * published: the error is kept (`last_error`), audited, and the owner is told once per version.
 * The trained model file is not changed by this: see intake.ts for how its answers for the
 * removed intent are mapped, and run `errand train` to drop the intent from the model.
 */
import { audit } from '../../audit/audit.repository.js';
import type { Database, Queryable } from '../../db/database.js';
import { findPerson, normEmail } from '../../directory/directory.repository.js';
import type { Logger } from '../../log.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { OutMessage } from '../../conversation/messages.js';
import { OPEN_STATUSES } from '../../requests/request.repository.js';
import type { Catalogue } from '../loader.js';
import type { CatalogueItem } from '../schema.js';
import { formatCatalogueErrors } from '../loader.js';
import type { CatalogueSnapshot } from '../versions/snapshot.js';
import type { CatalogueVersionStore } from '../versions/store.js';
import type { ValidationResult } from '../versions/validate.js';
import { applyDraft, type ApplyOutcome, type ChangeRequester } from './apply.js';
import { removeItem } from './edit.js';
import { actorWithRole, CHANGERS, LifecycleError } from './errors.js';
import { databaseGate, day, isOffered } from './intake.js';

/** Recent requesters and approvers are those of requests created in this many days before now. */
export const RECENT_DAYS = 90;

export interface Deprecation {
  id: number;
  itemId: string;
  itemTitle: string;
  until: Date;
  alternative: string | null;
  reason: string;
  status: 'active' | 'removed' | 'cancelled';
  createdBy: string;
  createdAt: Date;
  deprecatedIn: number | null;
  notified: string[];
  removalDraft: number | null;
  removedVersion: number | null;
  removedAt: Date | null;
  endedBy: string | null;
  endedReason: string | null;
  lastError: string | null;
}

const toDeprecation = (r: Record<string, unknown>): Deprecation => ({
  id: Number(r.id), itemId: r.item_id as string, itemTitle: r.item_title as string, until: r.until as Date, alternative: (r.alternative as string | null) ?? null,
  reason: r.reason as string, status: r.status as Deprecation['status'], createdBy: r.created_by as string, createdAt: r.created_at as Date,
  deprecatedIn: (r.deprecated_in as number | null) ?? null, notified: (r.notified as string[]) ?? [], removalDraft: (r.removal_draft as number | null) ?? null,
  removedVersion: (r.removed_version as number | null) ?? null, removedAt: (r.removed_at as Date | null) ?? null, endedBy: (r.ended_by as string | null) ?? null,
  endedReason: (r.ended_reason as string | null) ?? null, lastError: (r.last_error as string | null) ?? null,
});

export interface LifecycleDeps {
  db: Database;
  store: CatalogueVersionStore;
  /** The current catalogue (the live one in the service; the current version in the CLI). */
  catalogue: () => Catalogue;
  now: () => Date;
  /** Validates a snapshot as the service would load it (connectors, pre-validation references). */
  validate: (s: CatalogueSnapshot) => Promise<ValidationResult>;
  log?: Logger;
  /** Connector operations besides the version's _connectors.yaml (Slack, tests), for change-request dry runs. */
  extraOperations?: () => Iterable<string>;
  /** Change requests for drafts where change control refuses a direct publish (default: src/catalogue/change). */
  changes?: ChangeRequester;
}

export interface DeprecateInput { item: string; until: Date; alternative?: string | null; reason: string; actor: string }

export type RemovalOutcome =
  | { id: number; item: string; outcome: 'removed'; version: number }
  | { id: number; item: string; outcome: 'already-removed'; version: number }
  | { id: number; item: string; outcome: 'awaiting-change-control'; draft: number; ref: string; message: string }
  /** Publishing the removal draft was refused (freeze window, nobody to approve, ...): tried again on the next run. */
  | { id: number; item: string; outcome: 'refused'; draft: number; message: string }
  | { id: number; item: string; outcome: 'failed'; message: string };

const subject = (item: string) => `catalogue-item:${item}`;

export class DeprecationService {
  constructor(private readonly d: LifecycleDeps) {}

  async list(o: { statuses?: Deprecation['status'][] } = {}): Promise<Deprecation[]> {
    const r = await this.d.db.query(`SELECT * FROM catalogue_deprecations WHERE ($1::text[] IS NULL OR status = ANY($1)) ORDER BY id DESC`, [o.statuses ?? null]);
    return r.rows.map(toDeprecation);
  }

  async get(id: number): Promise<Deprecation | undefined> {
    const r = await this.d.db.query('SELECT * FROM catalogue_deprecations WHERE id = $1', [id]);
    return r.rows[0] ? toDeprecation(r.rows[0]) : undefined;
  }

  /** Refusals are audited (`catalogue.deprecate-refused`) and thrown as LifecycleError. */
  async deprecate(input: DeprecateInput): Promise<{ deprecation: Deprecation; notified: { email: string; as: string }[]; openRequests: number }> {
    try {
      return await this.doDeprecate(input);
    } catch (e) {
      if (e instanceof LifecycleError) await audit(this.d.db, { actor: input.actor || 'unknown', action: 'catalogue.deprecate-refused', subject: subject(input.item), detail: { code: e.code, message: e.message } });
      throw e;
    }
  }

  private async doDeprecate(input: DeprecateInput): Promise<{ deprecation: Deprecation; notified: { email: string; as: string }[]; openRequests: number }> {
    const actor = await actorWithRole(this.d.db, input.actor, CHANGERS);
    const catalogue = this.d.catalogue();
    const item = catalogue.get(input.item);
    if (!item) throw new LifecycleError('NOT_FOUND', `there is no catalogue item "${input.item}" in the current version`);
    const now = this.d.now();
    if (!input.reason?.trim()) throw new LifecycleError('INVALID', 'a reason is needed');
    if (Number.isNaN(input.until.getTime()) || input.until <= now) throw new LifecycleError('INVALID', `--until must be a date after now (${now.toISOString().slice(0, 16)} UTC)`);
    const retirements = await databaseGate(this.d.db).retirements();
    const altId = input.alternative?.trim() || null;
    let alt: CatalogueItem | undefined;
    if (altId) {
      if (altId === item.id) throw new LifecycleError('INVALID', 'an item cannot be its own alternative');
      if (!catalogue.get(altId)) throw new LifecycleError('INVALID', `the alternative "${altId}" is not in the current catalogue`);
      if (!isOffered(retirements, catalogue, altId)) throw new LifecycleError('INVALID', `the alternative "${altId}" is deprecated itself`);
      alt = catalogue.get(altId)!;
    }
    const existing = retirements.get(item.id);
    if (existing?.status === 'active') throw new LifecycleError('CONFLICT', `${item.id} is already deprecated (#${existing.deprecationId}, until ${day(existing.until)})`);
    const since = new Date(now.getTime() - RECENT_DAYS * 86_400_000);
    const version = (await this.d.store.currentSummary())?.number ?? null;

    const out = await this.d.db.transaction(async (tx) => {
      let row;
      try {
        row = (await tx.query(
          `INSERT INTO catalogue_deprecations (item_id, item_title, until, alternative, reason, created_by, created_at, deprecated_in) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
          [item.id, item.title, input.until, alt?.id ?? null, input.reason.trim(), actor.email, now, version])).rows[0]!;
      } catch (e) {
        if ((e as { code?: string }).code === '23505') throw new LifecycleError('CONFLICT', `${item.id} is already deprecated`);
        throw e;
      }
      const dep = toDeprecation(row);
      const recipients = await this.recipients(tx, item.id, normEmail(item.owner.contact), since);
      const open = (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM requests WHERE item_id = $1 AND status = ANY($2) AND completed_at IS NULL`, [item.id, OPEN_STATUSES])).rows[0]!.n;
      const altText = alt ? `Please use "${alt.title}" instead.` : 'There is no direct replacement; the service desk can help with what you need.';
      const notified: { email: string; as: string }[] = [];
      for (const [email, as] of recipients) {
        const text = as === 'owner'
          ? `Catalogue change: "${item.title}" (${item.id}), which your team owns, was deprecated by ${actor.name}. It is hidden from new requests from now on and will be removed from the catalogue on ${day(dep.until)}. ${alt ? `Requests are sent to "${alt.title}" (${alt.id}) instead.` : 'Requests for it go to the service desk.'} Reason: ${dep.reason}. ${open} open request(s) finish normally.`
          : `"${item.title}" is being retired: it can no longer be requested and will be removed from the catalogue on ${day(dep.until)}. ${altText}${as === 'approver' ? ' Approvals already waiting for you still need your decision.' : ' Requests already submitted finish normally.'}`;
        const body: OutMessage = { kind: 'info', text, ...(alt && as === 'requester' ? { buttons: [{ id: `start:${alt.id}`, label: `Start ${alt.title}` }] } : {}) };
        if (await postMessage(tx, email, body, { key: `deprecation:${dep.id}:notice:${email}` }) !== undefined) notified.push({ email, as });
      }
      const upd = (await tx.query('UPDATE catalogue_deprecations SET notified = $2 WHERE id = $1 RETURNING *', [dep.id, notified.map((n) => n.email)])).rows[0]!;
      await audit(tx, { actor: actor.email, action: 'catalogue.deprecated', subject: subject(item.id), detail: {
        deprecation: dep.id, until: dep.until.toISOString(), alternative: dep.alternative, reason: dep.reason, catalogueVersion: version, openRequests: open,
        notified: { owner: notified.filter((n) => n.as === 'owner').length, requesters: notified.filter((n) => n.as === 'requester').length, approvers: notified.filter((n) => n.as === 'approver').length },
      } });
      return { deprecation: toDeprecation(upd), notified, openRequests: open };
    });
    this.d.log?.info({ item: item.id, until: out.deprecation.until, alternative: out.deprecation.alternative, notified: out.notified.length }, `catalogue item ${item.id} deprecated`);
    return out;
  }

  /** Owner, recent requesters and approvers of recent requests (active people; the owner contact always), each once. */
  private async recipients(q: Queryable, itemId: string, owner: string, since: Date): Promise<Map<string, 'owner' | 'approver' | 'requester'>> {
    const out = new Map<string, 'owner' | 'approver' | 'requester'>([[owner, 'owner']]);
    const approvers = (await q.query<{ email: string }>(
      `SELECT DISTINCT x.email FROM requests r JOIN approvals a ON a.request_id = r.id
       CROSS JOIN LATERAL unnest(a.approvers || CASE WHEN a.decided_by IS NULL THEN '{}'::text[] ELSE ARRAY[a.decided_by] END) AS x(email)
       JOIN people p ON p.email = x.email AND p.active
       WHERE r.item_id = $1 AND r.created_at >= $2 AND r.status <> 'draft' ORDER BY 1`, [itemId, since])).rows;
    for (const a of approvers) if (!out.has(a.email)) out.set(a.email, 'approver');
    const requesters = (await q.query<{ email: string }>(
      `SELECT DISTINCT r.requester_email AS email FROM requests r JOIN people p ON p.email = r.requester_email AND p.active
       WHERE r.item_id = $1 AND r.created_at >= $2 AND r.status <> 'draft' ORDER BY 1`, [itemId, since])).rows;
    for (const r of requesters) if (!out.has(r.email)) out.set(r.email, 'requester');
    return out;
  }

  /** Withdraws an active deprecation: the item is offered again (its removal draft, if any, discarded). */
  async cancel(o: { id?: number; item?: string; actor: string; reason: string }): Promise<Deprecation> {
    const actor = await actorWithRole(this.d.db, o.actor, CHANGERS);
    if (!o.reason?.trim()) throw new LifecycleError('INVALID', 'a reason is needed');
    const dep = await this.d.db.transaction(async (tx) => {
      const r = await tx.query(
        `UPDATE catalogue_deprecations SET status = 'cancelled', ended_by = $3, ended_reason = $4, ended_at = $5
         WHERE status = 'active' AND (id = $1 OR ($1::bigint IS NULL AND item_id = $2)) RETURNING *`, [o.id ?? null, o.item ?? null, actor.email, o.reason.trim(), this.d.now()]);
      if (!r.rows[0]) throw new LifecycleError('NOT_FOUND', `no active deprecation ${o.id !== undefined ? `#${o.id}` : `of ${o.item}`}`);
      const x = toDeprecation(r.rows[0]);
      await audit(tx, { actor: actor.email, action: 'catalogue.deprecation-cancelled', subject: subject(x.itemId), detail: { deprecation: x.id, reason: x.endedReason } });
      return x;
    });
    if (dep.removalDraft) await this.d.store.discard(dep.removalDraft, { author: actor.email, reason: `deprecation #${dep.id} cancelled` }).catch(() => undefined);
    return dep;
  }

  /**
   * One pass of the lifecycle job: removes the items whose notice period has passed. A removal
   * whose change request was denied or cancelled is not tried again unless `retry`.
   */
  async removeDue(o: { retry?: boolean } = {}): Promise<RemovalOutcome[]> {
    const now = this.d.now();
    const due = (await this.d.db.query(`SELECT * FROM catalogue_deprecations WHERE status = 'active' AND until <= $1 ORDER BY until, id`, [now])).rows.map(toDeprecation);
    const out: RemovalOutcome[] = [];
    for (const dep of due) {
      try {
        out.push(await this.removeOne(dep, o.retry ?? false));
      } catch (e) {
        this.d.log?.error({ deprecation: dep.id, item: dep.itemId, err: (e as Error).message }, 'removing a deprecated catalogue item failed');
        out.push({ id: dep.id, item: dep.itemId, outcome: 'failed', message: (e as Error).message });
      }
    }
    return out;
  }

  private async removeOne(dep: Deprecation, retry: boolean): Promise<RemovalOutcome> {
    const reason = `deprecation #${dep.id} of ${dep.itemId}: removed after its notice period (until ${day(dep.until)}${dep.alternative ? `, alternative ${dep.alternative}` : ''}): ${dep.reason}`;
    const meta = { author: 'system', reason, system: true };
    for (let attempt = 0; attempt < 3; attempt++) {
      const cur = await this.d.store.current();
      if (!cur) return { id: dep.id, item: dep.itemId, outcome: 'failed', message: 'there is no current catalogue version' };
      if (!cur.documents.items.some((i) => i.id === dep.itemId)) {
        await this.markRemoved(dep, cur.number, undefined); // its change request was published, or another version removed it
        return { id: dep.id, item: dep.itemId, outcome: 'already-removed', version: cur.number };
      }
      const { files, removed } = removeItem(cur.files, dep.itemId);
      if (dep.removalDraft) {
        const draft = await this.d.store.get(dep.removalDraft);
        const change = await this.d.changes?.ofDraft(dep.removalDraft).catch(() => undefined);
        const closed = change && ['denied', 'cancelled', 'dry-run-failed'].includes(change.status);
        if (closed && !retry) {
          return { id: dep.id, item: dep.itemId, outcome: 'failed', message: `the removal's change request ${change.ref} was ${change.status}${change.closedReason ? ` (${change.closedReason})` : ''}: cancel the deprecation, or try again with remove-due --retry` };
        }
        if (draft?.status === 'draft' && draft.basedOn === cur.number && !closed) {
          if (change && ['pending-approval', 'approved'].includes(change.status)) return { id: dep.id, item: dep.itemId, outcome: 'awaiting-change-control', draft: draft.number, ref: change.ref, message: `${change.ref} (publish draft v${draft.number}) is ${change.status}` };
          // refused before (a freeze window, nobody to approve, ...): try the same draft again
          const again = await this.afterApply(dep, await applyDraft(this.d.store, draft, meta, this.d.changes), removed);
          if (again) return again;
          continue;
        }
        if (draft?.status === 'draft') await this.d.store.discard(draft.number, { author: 'system', reason: `removal of ${dep.itemId} rebuilt on v${cur.number}` }).catch(() => undefined);
      }
      const snapshot = { files, model: cur.model };
      const checked = await this.d.validate(snapshot);
      if (!checked.documents) {
        const message = `the catalogue without ${dep.itemId} is not valid:\n${formatCatalogueErrors(checked.errors)}`;
        await this.d.db.transaction(async (tx) => {
          await tx.query('UPDATE catalogue_deprecations SET last_error = $2 WHERE id = $1', [dep.id, message]);
          const owner = cur.documents.items.find((i) => i.id === dep.itemId)?.owner.contact ?? dep.createdBy;
          const first = await postMessage(tx, normEmail(owner), { kind: 'error', text: `Removing "${dep.itemTitle}" (${dep.itemId}) after its deprecation failed: ${message}\nFix the catalogue (or cancel the deprecation); the removal is tried again every hour.` }, { key: `deprecation:${dep.id}:removal-failed:v${cur.number}` });
          if (first !== undefined) await audit(tx, { actor: 'system', action: 'catalogue.removal-failed', subject: subject(dep.itemId), detail: { deprecation: dep.id, version: cur.number, errors: checked.errors.slice(0, 20) } });
        });
        return { id: dep.id, item: dep.itemId, outcome: 'failed', message };
      }
      const draft = await this.d.store.createDraft(snapshot, checked.documents, { author: 'system', reason });
      const done = await this.afterApply(dep, await applyDraft(this.d.store, draft, meta, this.d.changes), removed);
      if (done) return done;
    }
    return { id: dep.id, item: dep.itemId, outcome: 'failed', message: 'the current catalogue version kept changing; tried again on the next run' };
  }

  /** Records what applyDraft did with a removal draft; undefined when it was stale (rebuild). */
  private async afterApply(dep: Deprecation, applied: ApplyOutcome, removed: string[]): Promise<RemovalOutcome | undefined> {
    if (applied.kind === 'stale') return undefined;
    if (applied.kind === 'published') {
      await this.markRemoved(dep, applied.result.version.number, removed);
      return { id: dep.id, item: dep.itemId, outcome: 'removed', version: applied.result.version.number };
    }
    const message = applied.kind === 'change-request' ? applied.message : `draft v${applied.draft} was not published: ${applied.message}`;
    await this.d.db.transaction(async (tx) => {
      await tx.query('UPDATE catalogue_deprecations SET removal_draft = $2, last_error = $3 WHERE id = $1', [dep.id, applied.draft, applied.kind === 'change-request' ? null : message]);
      if (applied.kind === 'change-request') {
        await audit(tx, { actor: 'system', action: 'catalogue.removal-change-requested', subject: subject(dep.itemId), detail: { deprecation: dep.id, draft: applied.draft, change: applied.ref, status: applied.status } });
      } else if (dep.lastError !== message) {
        await audit(tx, { actor: 'system', action: 'catalogue.removal-refused', subject: subject(dep.itemId), detail: { deprecation: dep.id, draft: applied.draft, message, code: applied.code ?? null } });
      }
    });
    dep.removalDraft = applied.draft;
    dep.lastError = applied.kind === 'change-request' ? null : message;
    return applied.kind === 'change-request'
      ? { id: dep.id, item: dep.itemId, outcome: 'awaiting-change-control', draft: applied.draft, ref: applied.ref, message }
      : { id: dep.id, item: dep.itemId, outcome: 'refused', draft: applied.draft, message };
  }

  /** Marks the deprecation removed (once), audits it and tells the owner. */
  private async markRemoved(dep: Deprecation, version: number, files: string[] | undefined): Promise<boolean> {
    const owner = await this.d.store.get(dep.deprecatedIn ?? version).then((v) => v?.documents.items.find((i) => i.id === dep.itemId)?.owner.contact ?? null);
    return this.d.db.transaction(async (tx) => {
      const r = await tx.query(`UPDATE catalogue_deprecations SET status = 'removed', removed_version = $2, removed_at = $3, last_error = NULL WHERE id = $1 AND status = 'active' RETURNING id`, [dep.id, version, this.d.now()]);
      if (!r.rows[0]) return false;
      await audit(tx, { actor: 'system', action: 'catalogue.item-removed', subject: subject(dep.itemId), detail: { deprecation: dep.id, version, files: files ?? null } });
      const by = (await findPerson(tx, dep.createdBy))?.email ?? dep.createdBy;
      for (const to of [...new Set([owner ? normEmail(owner) : null, by].filter((x): x is string => Boolean(x)))]) {
        await postMessage(tx, to, { kind: 'info', text: `"${dep.itemTitle}" (${dep.itemId}) was removed from the catalogue in version ${version} (deprecation #${dep.id}). Its intent examples went with it; run \`errand train\` so the intent model stops knowing it (until then its messages are sent ${dep.alternative ? `to ${dep.alternative}` : 'to triage'}).` }, { key: `deprecation:${dep.id}:removed:${to}` });
      }
      return true;
    });
  }
}
