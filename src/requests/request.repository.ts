/**
 * Requests and their history. Every status change is a conditional UPDATE (`WHERE status IN
 * (...)`) recorded in request_events with who, when and why; a change that lost a race returns
 * undefined and the caller does nothing.
 */
import { randomUUID } from 'node:crypto';
import type { CatalogueItem } from '../catalogue/schema.js';
import type { Queryable } from '../db/database.js';

export type RequestStatus = 'draft' | 'submitted' | 'waitlisted' | 'awaiting-approval' | 'approved' | 'denied' | 'in-fulfilment' | 'fulfilled' | 'failed' | 'cancelled';
/** Requests still in progress ('waitlisted': stored, waiting for a licence seat before approval). */
export const OPEN_STATUSES: RequestStatus[] = ['submitted', 'waitlisted', 'awaiting-approval', 'approved', 'in-fulfilment'];

export interface RequestRow {
  id: string;
  ref: string;
  itemId: string;
  item: CatalogueItem;
  requesterEmail: string;
  channel: string;
  conversationId: string | null;
  status: RequestStatus;
  fields: Record<string, unknown>;
  originalText: string | null;
  intentConfidence: number | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

const toRow = (r: Record<string, unknown>): RequestRow => ({
  id: r.id as string, ref: r.ref as string, itemId: r.item_id as string, item: r.item_snapshot as CatalogueItem,
  requesterEmail: r.requester_email as string, channel: r.channel as string, conversationId: r.conversation_id as string | null,
  status: r.status as RequestStatus, fields: r.fields as Record<string, unknown>, originalText: r.original_text as string | null,
  intentConfidence: r.intent_confidence as number | null, createdAt: r.created_at as Date, updatedAt: r.updated_at as Date,
  completedAt: r.completed_at as Date | null,
});

export interface NewRequest {
  item: CatalogueItem; requesterEmail: string; channel: string; conversationId?: string | null; fields: Record<string, unknown>;
  originalText?: string | null; confidence?: number | null; submissionKey?: string | null; actor: string;
}

/** Inserts a submitted request; with a submissionKey already used, returns the existing one (`created: false`). */
export async function insertRequest(q: Queryable, n: NewRequest): Promise<{ request: RequestRow; created: boolean }> {
  const id = randomUUID();
  const r = await q.query(
    `INSERT INTO requests (id, ref, item_id, item_snapshot, requester_email, channel, conversation_id, status, fields, original_text, intent_confidence, submission_key)
     VALUES ($1, 'REQ-' || lpad(nextval('request_ref_seq')::text, 6, '0'), $2, $3, $4, $5, $6, 'submitted', $7, $8, $9, $10)
     ON CONFLICT (submission_key) DO NOTHING RETURNING *`,
    [id, n.item.id, JSON.stringify(n.item), n.requesterEmail, n.channel, n.conversationId ?? null, JSON.stringify(n.fields), n.originalText ?? null, n.confidence ?? null, n.submissionKey ?? null],
  );
  if (!r.rows[0]) {
    const existing = await q.query('SELECT * FROM requests WHERE submission_key = $1', [n.submissionKey]);
    return { request: toRow(existing.rows[0]!), created: false };
  }
  await recordEvent(q, id, { actor: n.actor, kind: 'status', from: null, to: 'submitted' });
  return { request: toRow(r.rows[0]), created: true };
}

export async function recordEvent(q: Queryable, requestId: string, e: { actor: string; kind: string; from?: string | null; to?: string | null; reason?: string | null; detail?: Record<string, unknown> }): Promise<void> {
  await q.query('INSERT INTO request_events (request_id, actor, kind, from_status, to_status, reason, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [requestId, e.actor, e.kind, e.from ?? null, e.to ?? null, e.reason ?? null, JSON.stringify(e.detail ?? {})]);
}

/** Moves a request from one of `from` to `to`; returns the updated row, or undefined if it was not in `from`. */
export async function transition(q: Queryable, requestId: string, from: RequestStatus[], to: RequestStatus, actor: string, reason?: string): Promise<RequestRow | undefined> {
  const done = to === 'fulfilled' || to === 'failed' || to === 'denied' || to === 'cancelled';
  const r = await q.query(
    `UPDATE requests SET status = $3, updated_at = now(), completed_at = CASE WHEN $4 THEN now() ELSE completed_at END
     WHERE id = $1 AND status = ANY($2) RETURNING *, (SELECT status FROM requests WHERE id = $1) AS previous`,
    [requestId, from, to, done],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  await recordEvent(q, requestId, { actor, kind: 'status', from: row.previous as string, to, reason: reason ?? null });
  return toRow(row);
}

export async function getRequest(q: Queryable, id: string): Promise<RequestRow | undefined> {
  const r = await q.query('SELECT * FROM requests WHERE id = $1', [id]);
  return r.rows[0] ? toRow(r.rows[0]) : undefined;
}

export async function getRequestByRef(q: Queryable, ref: string): Promise<RequestRow | undefined> {
  const r = await q.query('SELECT * FROM requests WHERE ref = $1', [ref.toUpperCase()]);
  return r.rows[0] ? toRow(r.rows[0]) : undefined;
}

export async function requestsOf(q: Queryable, email: string, statuses?: RequestStatus[]): Promise<RequestRow[]> {
  const r = statuses
    ? await q.query('SELECT * FROM requests WHERE requester_email = $1 AND status = ANY($2) ORDER BY created_at DESC', [email, statuses])
    : await q.query('SELECT * FROM requests WHERE requester_email = $1 ORDER BY created_at DESC LIMIT 50', [email]);
  return r.rows.map(toRow);
}

export interface RequestEvent { at: Date; actor: string; kind: string; from: string | null; to: string | null; reason: string | null; detail: Record<string, unknown> }

export async function requestEvents(q: Queryable, requestId: string): Promise<RequestEvent[]> {
  const r = await q.query('SELECT * FROM request_events WHERE request_id = $1 ORDER BY id', [requestId]);
  return r.rows.map((x) => ({ at: x.at, actor: x.actor, kind: x.kind, from: x.from_status, to: x.to_status, reason: x.reason, detail: x.detail }));
}

/** Requests that should be fulfilling but have no live lease (lost job, crashed worker). */
export async function strandedRequests(q: Queryable, olderThanSeconds: number): Promise<string[]> {
  const r = await q.query(
    `SELECT id FROM requests WHERE status IN ('approved', 'in-fulfilment') AND (lease_until IS NULL OR lease_until < now())
     AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT 100`, [olderThanSeconds]);
  return r.rows.map((x) => x.id as string);
}
