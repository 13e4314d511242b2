/**
 * Storage of change requests, their approvals, freeze windows and the change-control switch
 * (migration 021). Every status move is a conditional UPDATE that returns nothing when another
 * decision came first.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../db/database.js';
import { toApproval, toChange, toFreeze, type ChangeApproval, type ChangeApprovalStatus, type ChangeKind, type ChangeRequest, type ChangeStatus, type Freeze } from './model.js';

/** Turns change control on for this database (idempotent). */
export async function armChangeControl(q: Queryable, by: string): Promise<void> {
  await q.query('INSERT INTO change_control (id, enforced_by) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [by]);
}

/** Whether change control is on for this database. */
export async function isArmed(q: Queryable): Promise<boolean> {
  return (await q.query('SELECT 1 FROM change_control WHERE id = 1')).rows.length > 0;
}

export interface NewChange {
  kind: ChangeKind;
  draftVersion?: number | null;
  targetVersion?: number | null;
  baseVersion: number | null;
  author: string;
  reason: string;
  emergency: boolean;
  scheduledAt: Date | null;
  status: ChangeStatus;
  diff: unknown;
  diffText: string;
  impact: unknown;
  dryRun: unknown;
  autoApproved?: string | null;
  createdAt: Date;
  publishedVersion?: number | null;
  publishedAt?: Date | null;
  publishedBy?: string | null;
}

export async function insertChange(q: Queryable, n: NewChange): Promise<ChangeRequest> {
  const r = await q.query(
    `INSERT INTO change_requests (id, ref, kind, draft_version, target_version, base_version, author, reason, emergency, scheduled_at, status, diff, diff_text, impact, dry_run,
       auto_approved, created_at, approved_at, published_version, published_at, published_by)
     VALUES ($1, 'CHG-' || lpad(nextval('change_request_ref_seq')::text, 6, '0'), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
       CASE WHEN $10 = 'published' THEN $16::timestamptz END, $17, $18, $19)
     RETURNING *`,
    [randomUUID(), n.kind, n.draftVersion ?? null, n.targetVersion ?? null, n.baseVersion, n.author, n.reason, n.emergency, n.scheduledAt, n.status,
      JSON.stringify(n.diff), n.diffText, JSON.stringify(n.impact), JSON.stringify(n.dryRun), n.autoApproved ?? null, n.createdAt,
      n.publishedVersion ?? null, n.publishedAt ?? null, n.publishedBy ?? null],
  );
  return toChange(r.rows[0]!);
}

/** A change by ref (`CHG-000012`), number (`12`) or id. */
export async function getChange(q: Queryable, key: string, lock = false): Promise<ChangeRequest | undefined> {
  const k = key.trim();
  const ref = /^\d+$/.test(k) ? `CHG-${k.padStart(6, '0')}` : /^chg-\d+$/i.test(k) ? `CHG-${k.slice(4).padStart(6, '0')}` : undefined;
  const byId = /^[0-9a-f-]{36}$/i.test(k);
  if (!ref && !byId) return undefined;
  const r = await q.query(`SELECT * FROM change_requests WHERE ${byId ? 'id = $1' : 'ref = $1'}${lock ? ' FOR UPDATE' : ''}`, [byId ? k : ref]);
  return r.rows[0] ? toChange(r.rows[0]) : undefined;
}

export async function listChanges(q: Queryable, o: { statuses?: ChangeStatus[]; limit?: number } = {}): Promise<ChangeRequest[]> {
  const r = o.statuses
    ? await q.query('SELECT * FROM change_requests WHERE status = ANY($1) ORDER BY created_at DESC, ref DESC LIMIT $2', [o.statuses, o.limit ?? 100])
    : await q.query('SELECT * FROM change_requests ORDER BY created_at DESC, ref DESC LIMIT $1', [o.limit ?? 100]);
  return r.rows.map(toChange);
}

/** Changes of a draft / of a rollback (target, base), newest first, locked for the caller's transaction. */
export async function changesFor(q: Queryable, w: { kind: 'publish'; draft: number } | { kind: 'rollback'; target: number; base: number }): Promise<ChangeRequest[]> {
  const r = w.kind === 'publish'
    ? await q.query(`SELECT * FROM change_requests WHERE kind = 'publish' AND draft_version = $1 ORDER BY created_at DESC, ref DESC FOR UPDATE`, [w.draft])
    : await q.query(`SELECT * FROM change_requests WHERE kind = 'rollback' AND target_version = $1 AND base_version = $2 ORDER BY created_at DESC, ref DESC FOR UPDATE`, [w.target, w.base]);
  return r.rows.map(toChange);
}

/** Moves a change from one of `from` to `to`; undefined when it was not in `from`. */
export async function moveChange(q: Queryable, id: string, from: ChangeStatus[], to: ChangeStatus, set: { at: Date; by?: string; reason?: string | null; publishedVersion?: number }): Promise<ChangeRequest | undefined> {
  const r = await q.query(
    `UPDATE change_requests SET status = $3,
       approved_at = CASE WHEN $3 = 'approved' THEN $4 ELSE approved_at END,
       published_at = CASE WHEN $3 = 'published' THEN $4 ELSE published_at END,
       published_by = CASE WHEN $3 = 'published' THEN $5 ELSE published_by END,
       published_version = CASE WHEN $3 = 'published' THEN $7 ELSE published_version END,
       closed_at = CASE WHEN $3 IN ('denied', 'failed', 'cancelled') THEN $4 ELSE closed_at END,
       closed_by = CASE WHEN $3 IN ('denied', 'failed', 'cancelled') THEN $5 ELSE closed_by END,
       closed_reason = CASE WHEN $3 IN ('denied', 'failed', 'cancelled') THEN $6 ELSE closed_reason END
     WHERE id = $1 AND status = ANY($2) RETURNING *`,
    [id, from, to, set.at, set.by ?? null, set.reason ?? null, set.publishedVersion ?? null]);
  return r.rows[0] ? toChange(r.rows[0]) : undefined;
}

export async function insertApproval(q: Queryable, a: { changeId: string; stepIndex: number; stepId: string; label: string; why: string; approvers: string[]; fallback?: string; at: Date }): Promise<ChangeApproval> {
  const r = await q.query(
    `INSERT INTO change_approvals (id, change_id, step_index, step_id, label, why, approvers, fallback, status, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9) RETURNING *`,
    [randomUUID(), a.changeId, a.stepIndex, a.stepId, a.label, a.why, a.approvers, a.fallback ?? null, a.at]);
  return toApproval(r.rows[0]!);
}

export async function approvalsOf(q: Queryable, changeId: string): Promise<ChangeApproval[]> {
  return (await q.query('SELECT * FROM change_approvals WHERE change_id = $1 ORDER BY step_index', [changeId])).rows.map(toApproval);
}

export async function getApproval(q: Queryable, id: string): Promise<ChangeApproval | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const r = await q.query('SELECT * FROM change_approvals WHERE id = $1', [id]);
  return r.rows[0] ? toApproval(r.rows[0]) : undefined;
}

/** One decision: only the first one counts (undefined when the step was no longer pending). */
export async function decideApproval(q: Queryable, id: string, status: 'approved' | 'denied', by: string, reason: string | null, at: Date): Promise<ChangeApproval | undefined> {
  const r = await q.query(
    `UPDATE change_approvals SET status = $2, decided_by = $3, decided_at = $5, reason = $4 WHERE id = $1 AND status = 'pending' RETURNING *`,
    [id, status, by, reason, at]);
  return r.rows[0] ? toApproval(r.rows[0]) : undefined;
}

export async function cancelPendingApprovals(q: Queryable, changeId: string, at: Date): Promise<ChangeApproval[]> {
  return (await q.query(`UPDATE change_approvals SET status = 'cancelled', decided_at = $2 WHERE change_id = $1 AND status = 'pending' RETURNING *`, [changeId, at])).rows.map(toApproval);
}

export async function pendingApprovalsCount(q: Queryable, changeId: string): Promise<number> {
  return (await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM change_approvals WHERE change_id = $1 AND status = 'pending'`, [changeId])).rows[0]!.n;
}

// freezes

export async function insertFreeze(q: Queryable, f: { from: Date; to: Date; reason: string; by: string }): Promise<Freeze> {
  const r = await q.query('INSERT INTO change_freezes (starts_at, ends_at, reason, created_by) VALUES ($1, $2, $3, $4) RETURNING *', [f.from, f.to, f.reason.trim(), f.by]);
  return toFreeze(r.rows[0]!);
}

/** Freezes not removed; `after`: only those still running or to come at that time. */
export async function listFreezes(q: Queryable, o: { after?: Date; includeRemoved?: boolean } = {}): Promise<Freeze[]> {
  const r = await q.query(
    `SELECT * FROM change_freezes WHERE ($1::boolean OR removed_at IS NULL) AND ($2::timestamptz IS NULL OR ends_at > $2) ORDER BY starts_at, id`,
    [o.includeRemoved ?? false, o.after ?? null]);
  return r.rows.map(toFreeze);
}

export async function freezeAt(q: Queryable, t: Date): Promise<Freeze | undefined> {
  const r = await q.query('SELECT * FROM change_freezes WHERE removed_at IS NULL AND starts_at <= $1 AND ends_at > $1 ORDER BY ends_at DESC LIMIT 1', [t]);
  return r.rows[0] ? toFreeze(r.rows[0]) : undefined;
}

export async function removeFreeze(q: Queryable, id: number, by: string, reason: string | null, at: Date): Promise<Freeze | undefined> {
  const r = await q.query('UPDATE change_freezes SET removed_at = $2, removed_by = $3, removed_reason = $4 WHERE id = $1 AND removed_at IS NULL RETURNING *', [id, at, by, reason]);
  return r.rows[0] ? toFreeze(r.rows[0]) : undefined;
}

export async function getFreeze(q: Queryable, id: number): Promise<Freeze | undefined> {
  const r = await q.query('SELECT * FROM change_freezes WHERE id = $1', [id]);
  return r.rows[0] ? toFreeze(r.rows[0]) : undefined;
}

export type { ChangeApprovalStatus };
