/** Crafted history for the report tests: people, requests with exact timestamps, and what happened to them. */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../src/db/database.js';
import { upsertPerson, type NewPerson } from '../../src/directory/directory.repository.js';

export const HOUR = 3_600_000;
export const at = (base: Date, hours: number): Date => new Date(base.getTime() + hours * HOUR);

export const PEOPLE: NewPerson[] = [
  { email: 'ann@example.com', name: 'Ann', department: 'Finance', location: 'London', roles: ['employee'] },
  { email: 'bob@example.com', name: 'Bob', department: 'IT', location: 'Berlin', roles: ['employee', 'fulfiller'], groups: ['it-desk'] },
  { email: 'cat@example.com', name: 'Cat', department: 'Finance', location: 'Berlin', roles: ['employee', 'manager'] },
  { email: 'fred@example.com', name: 'Fred', department: 'IT', location: 'Berlin', roles: ['employee', 'fulfiller'] },
  { email: 'ada@example.com', name: 'Ada', department: 'IT', location: 'Berlin', roles: ['employee', 'admin'] },
];

/** The crafted people, and `triage` held by `bob` through the `it-desk` group. */
export async function seedPeople(q: Queryable): Promise<void> {
  for (const p of PEOPLE) await upsertPerson(q, p);
  await q.query(`INSERT INTO role_groups (role, group_name) VALUES ('triage', 'it-desk') ON CONFLICT DO NOTHING`);
}

export interface Crafted { id: string; ref: string }

/** A request with exact timestamps; status events for `approved`/`in-fulfilment` when given. */
export async function craftRequest(q: Queryable, o: {
  item: string; requester: string; createdAt: Date; status: string; completedAt?: Date; responseTime?: string | null; title?: string;
  approvedAt?: Date; startedAt?: Date; confidence?: number; originalText?: string;
}): Promise<Crafted> {
  const id = randomUUID();
  const snapshot = { id: o.item, title: o.title ?? `Title of ${o.item}`, ...(o.responseTime === null ? {} : { responseTime: o.responseTime ?? '8h' }) };
  const r = await q.query<{ ref: string }>(
    `INSERT INTO requests (id, ref, item_id, item_snapshot, requester_email, channel, status, fields, created_at, updated_at, completed_at, intent_confidence, original_text)
     VALUES ($1, 'REQ-' || lpad(nextval('request_ref_seq')::text, 6, '0'), $2, $3, $4, 'test', $5, '{}', $6, $6, $7, $8, $9) RETURNING ref`,
    [id, o.item, JSON.stringify(snapshot), o.requester, o.status, o.createdAt, o.completedAt ?? null, o.confidence ?? null, o.originalText ?? null]);
  await q.query(`INSERT INTO request_events (request_id, at, actor, kind, to_status) VALUES ($1, $2, 'test', 'status', 'submitted')`, [id, o.createdAt]);
  if (o.approvedAt) await q.query(`INSERT INTO request_events (request_id, at, actor, kind, from_status, to_status) VALUES ($1, $2, 'system', 'status', 'submitted', 'approved')`, [id, o.approvedAt]);
  if (o.startedAt) await q.query(`INSERT INTO request_events (request_id, at, actor, kind, from_status, to_status) VALUES ($1, $2, 'system', 'status', 'approved', 'in-fulfilment')`, [id, o.startedAt]);
  return { id, ref: r.rows[0]!.ref };
}

export async function craftApproval(q: Queryable, requestId: string, step: string, createdAt: Date, decidedAt: Date): Promise<void> {
  await q.query(
    `INSERT INTO approvals (id, request_id, step_index, step_id, label, approvers, status, decided_by, decided_at, created_at) VALUES ($1, $2, 0, $3, $3, '{cat@example.com}', 'approved', 'cat@example.com', $4, $5)`,
    [randomUUID(), requestId, step, decidedAt, createdAt]);
}

export async function craftStep(q: Queryable, requestId: string, step: string, o: { index?: number; status?: string; startedAt?: Date; finishedAt?: Date; manualCase?: string; output?: Record<string, unknown> }): Promise<void> {
  await q.query(
    `INSERT INTO fulfilment_steps (request_id, step_id, step_index, action, idempotency_key, status, attempts, started_at, finished_at, manual_case, output)
     VALUES ($1, $2, $3, 'test.action', $9, $4, 1, $5, $6, $7, $8)`,
    [requestId, step, o.index ?? 0, o.status ?? 'done', o.startedAt ?? null, o.finishedAt ?? null, o.manualCase ?? null, o.output ? JSON.stringify(o.output) : null, `${requestId}:${step}`]);
}

/** A case for a request (a manual task when `key` ends in `:manual`); returns its ref. */
export async function craftCase(q: Queryable, requestId: string | null, createdAt: Date, closedAt: Date | null, key = `${randomUUID()}:manual`): Promise<string> {
  const r = await q.query<{ ref: string }>(
    `INSERT INTO cases (ref, idempotency_key, request_id, title, queue, status, created_at, closed_at) VALUES ('CASE-' || lpad(nextval('case_ref_seq')::text, 6, '0'), $1, $2, 'task', 'fulfilment', $3, $4, $5) RETURNING ref`,
    [key, requestId, closedAt ? 'closed' : 'open', createdAt, closedAt]);
  return r.rows[0]!.ref;
}

export async function craftRetry(q: Queryable, requestId: string, step: string, at: Date, delayMs: number, reason: string): Promise<void> {
  await q.query(`INSERT INTO request_events (request_id, at, actor, kind, reason, detail) VALUES ($1, $2, 'system', 'step.retry', $3, $4)`, [requestId, at, reason, JSON.stringify({ step, attempt: 1, delayMs })]);
}

export async function craftTriage(q: Queryable, o: { requester: string; createdAt: Date; decidedAt?: Date; assigned?: string; topSuggestion?: string; status?: string }): Promise<void> {
  await q.query(
    `INSERT INTO triage_items (id, text, requester_email, channel, conversation_id, suggestions, status, assigned_item, decided_by, decided_at, created_at)
     VALUES ($1, 'something', $2, 'web', 'web:x', $3, $4, $5, $6, $7, $8)`,
    [randomUUID(), o.requester, JSON.stringify(o.topSuggestion ? [{ intent: o.topSuggestion, confidence: 0.4 }] : []), o.status ?? (o.assigned ? 'assigned' : 'open'),
      o.assigned ?? null, o.decidedAt ? 'bob@example.com' : null, o.decidedAt ?? null, o.createdAt]);
}

/** PostgreSQL's percentile_cont: linear interpolation between the nearest ranks. */
export function percentileCont(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * p;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}
