/** Approval steps of requests. A decision is one conditional UPDATE: only the first click wins. */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'cancelled';

export interface ApprovalRow {
  id: string; requestId: string; stepIndex: number; stepId: string; label: string; approvers: string[];
  status: ApprovalStatus; decidedBy: string | null; decidedAt: Date | null; reason: string | null; createdAt: Date;
  mode: 'any' | 'all'; approvedBy: string[];
}

const toRow = (r: Record<string, unknown>): ApprovalRow => ({
  id: r.id as string, requestId: r.request_id as string, stepIndex: r.step_index as number, stepId: r.step_id as string,
  label: r.label as string, approvers: r.approvers as string[], status: r.status as ApprovalStatus, decidedBy: r.decided_by as string | null,
  decidedAt: r.decided_at as Date | null, reason: r.reason as string | null, createdAt: r.created_at as Date,
  mode: (r.mode as 'any' | 'all') ?? 'any', approvedBy: (r.approved_by as string[]) ?? [],
});

/** Creates the pending approval of a step (idempotent per request and step). */
export async function createApproval(q: Queryable, a: { requestId: string; stepIndex: number; stepId: string; label: string; approvers: string[]; mode?: 'any' | 'all' }): Promise<ApprovalRow | undefined> {
  const r = await q.query(
    `INSERT INTO approvals (id, request_id, step_index, step_id, label, approvers, status, mode) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)
     ON CONFLICT (request_id, step_id) DO NOTHING RETURNING *`,
    [randomUUID(), a.requestId, a.stepIndex, a.stepId, a.label, a.approvers, a.mode ?? 'any'],
  );
  return r.rows[0] ? toRow(r.rows[0]) : undefined;
}

export async function getApproval(q: Queryable, id: string): Promise<ApprovalRow | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const r = await q.query('SELECT * FROM approvals WHERE id = $1', [id]);
  return r.rows[0] ? toRow(r.rows[0]) : undefined;
}

/** Decides a pending approval; undefined when it was no longer pending (someone else decided). */
export async function decide(q: Queryable, id: string, status: 'approved' | 'denied', by: string, reason: string | null): Promise<ApprovalRow | undefined> {
  const r = await q.query(
    `UPDATE approvals SET status = $2, decided_by = $3, decided_at = now(), reason = $4 WHERE id = $1 AND status = 'pending' RETURNING *`,
    [id, status, by, reason],
  );
  return r.rows[0] ? toRow(r.rows[0]) : undefined;
}

export async function approvalsOf(q: Queryable, requestId: string): Promise<ApprovalRow[]> {
  return (await q.query('SELECT * FROM approvals WHERE request_id = $1 ORDER BY step_index', [requestId])).rows.map(toRow);
}

export async function pendingApprovalsFor(q: Queryable, email: string): Promise<ApprovalRow[]> {
  return (await q.query(`SELECT * FROM approvals WHERE status = 'pending' AND $1 = ANY(approvers) ORDER BY created_at`, [email])).rows.map(toRow);
}

export async function cancelPendingApprovals(q: Queryable, requestId: string): Promise<ApprovalRow[]> {
  return (await q.query(`UPDATE approvals SET status = 'cancelled', decided_at = now() WHERE request_id = $1 AND status = 'pending' RETURNING *`, [requestId])).rows.map(toRow);
}

/** Records one approver's vote on an "all of" approval; returns the votes so far, or undefined if not counted. */
export async function vote(q: Queryable, id: string, by: string): Promise<{ approvedBy: string[]; approvers: string[] } | undefined> {
  const r = await q.query<{ approved_by: string[]; approvers: string[] }>(
    `UPDATE approvals SET approved_by = array_append(approved_by, $2) WHERE id = $1 AND status = 'pending' AND NOT ($2 = ANY(approved_by)) RETURNING approved_by, approvers`, [id, by]);
  return r.rows[0] ? { approvedBy: r.rows[0].approved_by, approvers: r.rows[0].approvers } : undefined;
}

export async function pendingCount(q: Queryable, requestId: string): Promise<number> {
  return (await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM approvals WHERE request_id = $1 AND status = 'pending'`, [requestId])).rows[0]!.n;
}

export async function lastStepIndex(q: Queryable, requestId: string): Promise<number> {
  return (await q.query<{ n: number | null }>('SELECT max(step_index) AS n FROM approvals WHERE request_id = $1', [requestId])).rows[0]!.n ?? -1;
}
