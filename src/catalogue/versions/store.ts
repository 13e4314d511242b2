/**
 * The catalogue version store (table `catalogue_versions`, migration 018): immutable, numbered
 * versions of the whole catalogue, exactly one of them `published` (current).
 *
 * Lifecycle:
 *
 *   createDraft ──► draft ──publish──► published ──(another publish)──► superseded
 *                     │                    └──────(rollback)─────────► rolled-back
 *                     └──discard──► discarded
 *   rollback(n) inserts a NEW version with n's content, published at once (history is never rewritten).
 *
 * Concurrency: publish, rollback and initial import take one transaction-scoped advisory lock and
 * move the current pointer with conditional UPDATEs; a unique partial index allows at most one
 * `published` row. Callers that decided on the basis of a particular current version (a change
 * request approved against v7) pass `expectedCurrent: 7` and get CONFLICT if it moved meanwhile.
 * Every change is audited (`catalogue.*`, subject `catalogue:v<n>`) in the same transaction.
 *
 * The database refuses UPDATEs of content columns and DELETEs (trigger), so nothing here can
 * change a version's content after it was created.
 */
import { audit } from '../../audit/audit.repository.js';
import type { Database, Queryable } from '../../db/database.js';
import { diffCatalogues, type CatalogueDiff } from './diff.js';
import { contentHash, sortedFiles, type CatalogueSnapshot, type ModelRef, CONNECTORS_PATH, GOVERNANCE_PATH, ALERTS_PATH } from './snapshot.js';
import type { CatalogueDocuments } from './validate.js';

export type VersionStatus = 'draft' | 'published' | 'superseded' | 'rolled-back' | 'discarded';

/** A version without its content (cheap to list). */
export interface VersionSummary {
  number: number;
  status: VersionStatus;
  contentHash: string;
  itemCount: number;
  author: string;
  reason: string;
  createdAt: Date;
  /** The version that was current when this one was created (its diff base). */
  basedOn: number | null;
  /** Set on versions made by a rollback: whose content they republish. */
  rollbackOf: number | null;
  publishedAt: Date | null;
  publishedBy: string | null;
  publishReason: string | null;
  /** When it stopped being current (superseded, rolled back) or was discarded, by whom and why. */
  endedAt: Date | null;
  endedBy: string | null;
  endedReason: string | null;
  /** The version that replaced it as current. */
  successor: number | null;
}

/** A version with its content. */
export interface CatalogueVersion extends VersionSummary {
  files: Record<string, string>;
  documents: CatalogueDocuments;
  model: ModelRef | null;
}

/** What changed with a publish or rollback. */
export interface PublishResult {
  version: VersionSummary;
  previous: VersionSummary | undefined;
  /** previous → version, per item (undefined for the very first version). */
  diff: CatalogueDiff | undefined;
  /**
   * Parts that the running service reads only at start-up: connectors, governance policy, alert
   * rules and the intent model. Items switch at once on every instance; these need a restart.
   */
  restartNeeded: ('connectors' | 'governance' | 'alerts' | 'model')[];
}

/** CHANGE_CONTROL: refused by change control (no approved change request, a freeze window, ...: src/catalogue/change). */
export type VersionErrorCode = 'NOT_FOUND' | 'NOT_DRAFT' | 'NEVER_PUBLISHED' | 'ALREADY_CURRENT' | 'CONFLICT' | 'NO_CURRENT' | 'INVALID' | 'CHANGE_CONTROL';

export class CatalogueVersionError extends Error {
  constructor(readonly code: VersionErrorCode, message: string) { super(message); this.name = 'CatalogueVersionError'; }
}

/** A change of the current version about to happen (see StoreOptions.beforeChange). */
export interface PendingChange {
  action: 'publish' | 'rollback' | 'publish-snapshot';
  /** The version that is to become current (for a rollback: the new number). */
  version: number;
  /** For a rollback: the version whose content is republished. */
  rollbackOf?: number;
  /** The current version now (undefined before the first one). */
  current: number | undefined;
  author: string;
  reason: string;
}

export interface StoreOptions {
  /** Called after a publish or rollback has committed (the app refreshes its live catalogue). */
  onChange?: (current: VersionSummary) => void | Promise<void>;
  /**
   * Change control: called inside the transaction, under the publish lock, before the current
   * version moves; throw (e.g. a CatalogueVersionError 'CONFLICT' or your own error) to refuse. The
   * place for "an approved change request exists", freeze windows and the like, so every path
   * (CLI, admin API, start-up in folder mode) goes through it. Not called for the initial import.
   * Omitted: the change control of src/catalogue/change (guard.ts, with the real clock), which does
   * nothing on a database where the service has not turned change control on.
   */
  beforeChange?: (tx: Queryable, change: PendingChange) => Promise<void>;
}

/** Change control for stores built without their own beforeChange (loaded on first use). */
async function defaultBeforeChange(tx: Queryable, change: PendingChange): Promise<void> {
  const { defaultChangeControl } = await import('../change/guard.js');
  await defaultChangeControl(tx, change);
}

export interface VersionMeta { author: string; reason: string }

const LOCK = 7_316_222; // arbitrary, constant: "errand catalogue versions"
const SUMMARY_COLUMNS = 'number, status, content_hash, item_count, author, reason, created_at, based_on, rollback_of, published_at, published_by, publish_reason, ended_at, ended_by, ended_reason, successor';

const toSummary = (r: Record<string, unknown>): VersionSummary => ({
  number: r.number as number, status: r.status as VersionStatus, contentHash: r.content_hash as string, itemCount: r.item_count as number,
  author: r.author as string, reason: r.reason as string, createdAt: r.created_at as Date, basedOn: (r.based_on as number | null) ?? null,
  rollbackOf: (r.rollback_of as number | null) ?? null, publishedAt: (r.published_at as Date | null) ?? null, publishedBy: (r.published_by as string | null) ?? null,
  publishReason: (r.publish_reason as string | null) ?? null, endedAt: (r.ended_at as Date | null) ?? null, endedBy: (r.ended_by as string | null) ?? null,
  endedReason: (r.ended_reason as string | null) ?? null, successor: (r.successor as number | null) ?? null,
});

const toVersion = (r: Record<string, unknown>): CatalogueVersion => ({
  ...toSummary(r), files: r.files as Record<string, string>, documents: r.documents as CatalogueDocuments, model: (r.model as ModelRef | null) ?? null,
});

const subject = (n: number) => `catalogue:v${n}`;

function checkMeta(m: VersionMeta): void {
  if (!m.author?.trim()) throw new CatalogueVersionError('INVALID', 'an author is needed');
  if (!m.reason?.trim()) throw new CatalogueVersionError('INVALID', 'a reason is needed');
}

/** Which start-up-only parts differ between two versions' files/model. */
export function restartNeededBetween(a: Pick<CatalogueVersion, 'files' | 'model'> | undefined, b: Pick<CatalogueVersion, 'files' | 'model'>): PublishResult['restartNeeded'] {
  if (!a) return [];
  const out: PublishResult['restartNeeded'] = [];
  if (a.files[CONNECTORS_PATH] !== b.files[CONNECTORS_PATH]) out.push('connectors');
  if (a.files[GOVERNANCE_PATH] !== b.files[GOVERNANCE_PATH]) out.push('governance');
  if (a.files[ALERTS_PATH] !== b.files[ALERTS_PATH]) out.push('alerts');
  if ((a.model?.sha256 ?? null) !== (b.model?.sha256 ?? null)) out.push('model');
  return out;
}

export class CatalogueVersionStore {
  private guard: (tx: Queryable, change: PendingChange) => Promise<void>;

  constructor(private readonly db: Database, private readonly o: StoreOptions = {}) {
    this.guard = o.beforeChange ?? defaultBeforeChange;
  }

  /** Replaces the beforeChange hook (the app installs change control with its own clock). */
  useBeforeChange(hook: (tx: Queryable, change: PendingChange) => Promise<void>): void {
    this.guard = hook;
  }

  /** Versions, newest first (`statuses` narrows; `limit` default 100). */
  async list(o: { statuses?: VersionStatus[]; limit?: number } = {}): Promise<VersionSummary[]> {
    const r = o.statuses
      ? await this.db.query(`SELECT ${SUMMARY_COLUMNS} FROM catalogue_versions WHERE status = ANY($1) ORDER BY number DESC LIMIT $2`, [o.statuses, o.limit ?? 100])
      : await this.db.query(`SELECT ${SUMMARY_COLUMNS} FROM catalogue_versions ORDER BY number DESC LIMIT $1`, [o.limit ?? 100]);
    return r.rows.map(toSummary);
  }

  /** One version with its content. */
  async get(n: number, q: Queryable = this.db): Promise<CatalogueVersion | undefined> {
    if (!Number.isSafeInteger(n) || n < 1) return undefined;
    const r = await q.query('SELECT * FROM catalogue_versions WHERE number = $1', [n]);
    return r.rows[0] ? toVersion(r.rows[0]) : undefined;
  }

  /** The current (published) version with its content; undefined before the first import. */
  async current(q: Queryable = this.db): Promise<CatalogueVersion | undefined> {
    const r = await q.query(`SELECT * FROM catalogue_versions WHERE status = 'published'`);
    return r.rows[0] ? toVersion(r.rows[0]) : undefined;
  }

  /** The current version's number and hash only (what instances poll). */
  async currentSummary(q: Queryable = this.db): Promise<VersionSummary | undefined> {
    const r = await q.query(`SELECT ${SUMMARY_COLUMNS} FROM catalogue_versions WHERE status = 'published'`);
    return r.rows[0] ? toSummary(r.rows[0]) : undefined;
  }

  private async insert(tx: Queryable, number: number, s: CatalogueSnapshot, documents: CatalogueDocuments, m: VersionMeta, status: 'draft' | 'published', extra: { basedOn: number | null; rollbackOf?: number | null; hash?: string }): Promise<VersionSummary> {
    const r = await tx.query(
      `INSERT INTO catalogue_versions (number, status, content_hash, files, documents, model, item_count, author, reason, based_on, rollback_of, published_at, published_by, publish_reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $2 = 'published' THEN now() END, CASE WHEN $2 = 'published' THEN $8 END, CASE WHEN $2 = 'published' THEN $9 END)
       RETURNING ${SUMMARY_COLUMNS}`,
      [number, status, extra.hash ?? contentHash(s), JSON.stringify(sortedFiles(s.files)), JSON.stringify(documents), s.model ? JSON.stringify(s.model) : null,
        documents.items.length, m.author.trim(), m.reason.trim(), extra.basedOn, extra.rollbackOf ?? null],
    );
    return toSummary(r.rows[0]!);
  }

  private async nextNumber(tx: Queryable): Promise<number> {
    return (await tx.query<{ n: number }>('SELECT coalesce(max(number), 0)::int + 1 AS n FROM catalogue_versions')).rows[0]!.n;
  }

  private lock(tx: Queryable): Promise<unknown> {
    return tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK]);
  }

  /**
   * Stores a validated snapshot as a new DRAFT version (based on the current version). The caller
   * validates first (validateSnapshot); `documents` is its result.
   */
  async createDraft(s: CatalogueSnapshot, documents: CatalogueDocuments, m: VersionMeta): Promise<VersionSummary> {
    checkMeta(m);
    return this.db.transaction(async (tx) => {
      await this.lock(tx);
      const cur = await this.currentSummary(tx);
      const v = await this.insert(tx, await this.nextNumber(tx), s, documents, m, 'draft', { basedOn: cur?.number ?? null });
      await audit(tx, { actor: m.author, action: 'catalogue.draft-created', subject: subject(v.number), detail: { version: v.number, basedOn: cur?.number ?? null, reason: m.reason, contentHash: v.contentHash, items: v.itemCount } });
      return v;
    });
  }

  /**
   * Publishes a draft: it becomes current, the previous current version `superseded`. Refused when
   * `n` is not a draft (NOT_DRAFT), or with `expectedCurrent` when the current version is another
   * (CONFLICT). Concurrent publishes are serialised; each one supersedes the one before.
   */
  async publish(n: number, m: VersionMeta & { expectedCurrent?: number | null }): Promise<PublishResult> {
    checkMeta(m);
    const res = await this.db.transaction(async (tx) => {
      await this.lock(tx);
      const draft = await this.get(n, tx);
      if (!draft) throw new CatalogueVersionError('NOT_FOUND', `there is no catalogue version ${n}`);
      if (draft.status !== 'draft') throw new CatalogueVersionError('NOT_DRAFT', `version ${n} is ${draft.status}, not a draft; only drafts can be published (to go back to it, roll back to ${n})`);
      const prev = await this.current(tx);
      if (m.expectedCurrent !== undefined && (prev?.number ?? null) !== m.expectedCurrent) {
        throw new CatalogueVersionError('CONFLICT', `the current version is ${prev ? `v${prev.number}` : 'none'}, not ${m.expectedCurrent === null ? 'none' : `v${m.expectedCurrent}`}: review the change against it again`);
      }
      await this.guard(tx, { action: 'publish', version: n, current: prev?.number, author: m.author, reason: m.reason });
      if (prev) {
        await tx.query(`UPDATE catalogue_versions SET status = 'superseded', ended_at = now(), ended_by = $2, ended_reason = $3, successor = $4 WHERE number = $1 AND status = 'published'`, [prev.number, m.author.trim(), m.reason.trim(), n]);
      }
      const r = await tx.query(
        `UPDATE catalogue_versions SET status = 'published', published_at = now(), published_by = $2, publish_reason = $3 WHERE number = $1 AND status = 'draft' RETURNING ${SUMMARY_COLUMNS}`,
        [n, m.author.trim(), m.reason.trim()]);
      const version = toSummary(r.rows[0]!);
      const diff = prev ? diffCatalogues({ label: `v${prev.number}`, documents: prev.documents, files: prev.files, model: prev.model }, { label: `v${n}`, documents: draft.documents, files: draft.files, model: draft.model }) : undefined;
      const restartNeeded = restartNeededBetween(prev, draft);
      await audit(tx, { actor: m.author, action: 'catalogue.published', subject: subject(n), detail: { version: n, previous: prev?.number ?? null, reason: m.reason, contentHash: version.contentHash, ...(diff ? { summary: diffSummary(diff) } : {}), restartNeeded } });
      return { version, previous: prev ? (await this.summary(tx, prev.number)) : undefined, diff, restartNeeded };
    });
    await this.o.onChange?.(res.version);
    return res;
  }

  /**
   * Republishes the content of an earlier version `target` as a NEW version (the next number),
   * current at once; the version it replaces becomes `rolled-back`. Refused for drafts and
   * discarded versions (NEVER_PUBLISHED), for the current version or the same content
   * (ALREADY_CURRENT), and with `expectedCurrent` when the current version moved (CONFLICT).
   */
  async rollback(target: number, m: VersionMeta & { expectedCurrent?: number | null }): Promise<PublishResult> {
    checkMeta(m);
    const res = await this.db.transaction(async (tx) => {
      await this.lock(tx);
      const t = await this.get(target, tx);
      if (!t) throw new CatalogueVersionError('NOT_FOUND', `there is no catalogue version ${target}`);
      if (t.status === 'draft' || t.status === 'discarded') throw new CatalogueVersionError('NEVER_PUBLISHED', `version ${target} was never published (${t.status}); publish a draft instead`);
      const prev = await this.current(tx);
      if (!prev) throw new CatalogueVersionError('NO_CURRENT', 'there is no current version to roll back from');
      if (m.expectedCurrent !== undefined && prev.number !== m.expectedCurrent) throw new CatalogueVersionError('CONFLICT', `the current version is v${prev.number}, not v${m.expectedCurrent}`);
      if (prev.number === target) throw new CatalogueVersionError('ALREADY_CURRENT', `version ${target} is the current version`);
      if (prev.contentHash === t.contentHash) throw new CatalogueVersionError('ALREADY_CURRENT', `the current version v${prev.number} already has the content of v${target}`);
      const n = await this.nextNumber(tx);
      await this.guard(tx, { action: 'rollback', version: n, rollbackOf: target, current: prev.number, author: m.author, reason: m.reason });
      await tx.query(`UPDATE catalogue_versions SET status = 'rolled-back', ended_at = now(), ended_by = $2, ended_reason = $3, successor = $4 WHERE number = $1 AND status = 'published'`, [prev.number, m.author.trim(), m.reason.trim(), n]);
      const version = await this.insert(tx, n, { files: t.files, model: t.model }, t.documents, m, 'published', { basedOn: prev.number, rollbackOf: target, hash: t.contentHash });
      const diff = diffCatalogues({ label: `v${prev.number}`, documents: prev.documents, files: prev.files, model: prev.model }, { label: `v${n} (= v${target})`, documents: t.documents, files: t.files, model: t.model });
      const restartNeeded = restartNeededBetween(prev, t);
      await audit(tx, { actor: m.author, action: 'catalogue.rolled-back', subject: subject(n), detail: { version: n, rollbackOf: target, previous: prev.number, reason: m.reason, contentHash: version.contentHash, summary: diffSummary(diff), restartNeeded } });
      return { version, previous: await this.summary(tx, prev.number), diff, restartNeeded };
    });
    await this.o.onChange?.(res.version);
    return res;
  }

  /** Abandons a draft (it stays in the history as `discarded`). */
  async discard(n: number, m: VersionMeta): Promise<VersionSummary> {
    checkMeta(m);
    return this.db.transaction(async (tx) => {
      const r = await tx.query(`UPDATE catalogue_versions SET status = 'discarded', ended_at = now(), ended_by = $2, ended_reason = $3 WHERE number = $1 AND status = 'draft' RETURNING ${SUMMARY_COLUMNS}`, [n, m.author.trim(), m.reason.trim()]);
      if (!r.rows[0]) {
        const v = await this.summary(tx, n);
        throw v ? new CatalogueVersionError('NOT_DRAFT', `version ${n} is ${v.status}, not a draft`) : new CatalogueVersionError('NOT_FOUND', `there is no catalogue version ${n}`);
      }
      await audit(tx, { actor: m.author, action: 'catalogue.discarded', subject: subject(n), detail: { version: n, reason: m.reason } });
      return toSummary(r.rows[0]);
    });
  }

  /**
   * Stores and publishes a snapshot in one step (start-up: the initial import, or
   * CATALOGUE_SOURCE=folder). With `onlyIfEmpty`, does nothing when any version exists (another
   * instance imported first) and returns the current version with `created: false`.
   */
  async publishSnapshot(s: CatalogueSnapshot, documents: CatalogueDocuments, m: VersionMeta & { onlyIfEmpty?: boolean }): Promise<{ version: VersionSummary; created: boolean; previous: VersionSummary | undefined }> {
    checkMeta(m);
    const res = await this.db.transaction(async (tx) => {
      await this.lock(tx);
      const prev = await this.currentSummary(tx);
      const any = (await tx.query('SELECT 1 FROM catalogue_versions LIMIT 1')).rows.length > 0;
      if (m.onlyIfEmpty && any) {
        if (!prev) throw new CatalogueVersionError('NO_CURRENT', 'catalogue versions exist but none is published: publish one with errand catalogue publish <n>');
        return { version: prev, created: false, previous: undefined };
      }
      const hash = contentHash(s);
      if (prev && prev.contentHash === hash) return { version: prev, created: false, previous: undefined };
      const n = await this.nextNumber(tx);
      if (prev) await this.guard(tx, { action: 'publish-snapshot', version: n, current: prev.number, author: m.author, reason: m.reason });
      if (prev) await tx.query(`UPDATE catalogue_versions SET status = 'superseded', ended_at = now(), ended_by = $2, ended_reason = $3, successor = $4 WHERE number = $1 AND status = 'published'`, [prev.number, m.author.trim(), m.reason.trim(), n]);
      const version = await this.insert(tx, n, s, documents, m, 'published', { basedOn: prev?.number ?? null, hash });
      await audit(tx, { actor: m.author, action: 'catalogue.published', subject: subject(n), detail: { version: n, previous: prev?.number ?? null, reason: m.reason, contentHash: hash, items: version.itemCount, direct: true } });
      return { version, created: true, previous: prev };
    });
    if (res.created) await this.o.onChange?.(res.version);
    return res;
  }

  /**
   * Requests that are still open, per catalogue version and item (for impact assessment and
   * decommissioning: who is still running on the version or item that is about to change).
   * Requests older than versions have `version: null`.
   */
  async openRequestsByVersion(q: Queryable = this.db): Promise<{ version: number | null; itemId: string; status: string; count: number }[]> {
    const r = await q.query<{ version: number | null; item_id: string; status: string; n: number }>(
      `SELECT catalogue_version AS version, item_id, status, count(*)::int AS n FROM requests
       WHERE completed_at IS NULL AND status NOT IN ('fulfilled', 'failed', 'denied', 'cancelled', 'draft')
       GROUP BY 1, 2, 3 ORDER BY 1 NULLS FIRST, 2, 3`);
    return r.rows.map((x) => ({ version: x.version, itemId: x.item_id, status: x.status, count: x.n }));
  }

  private async summary(q: Queryable, n: number): Promise<VersionSummary | undefined> {
    const r = await q.query(`SELECT ${SUMMARY_COLUMNS} FROM catalogue_versions WHERE number = $1`, [n]);
    return r.rows[0] ? toSummary(r.rows[0]) : undefined;
  }
}

/** The counts of a diff, for audit details. */
export function diffSummary(d: CatalogueDiff): Record<string, unknown> {
  return {
    itemsAdded: d.items.added.map((i) => i.id), itemsRemoved: d.items.removed.map((i) => i.id), itemsChanged: d.items.changed.map((i) => i.id),
    weakened: d.weakenedItems, intentsAdded: d.intents.added.length, intentsRemoved: d.intents.removed.length,
    connectors: d.config.connectors.changed, governance: d.config.governance.changed, alerts: d.config.alerts.changed, model: d.config.model.changed,
  };
}
