/** Cases: work for people (fulfillers, the service desk), idempotent by key. */
import type { Queryable } from '../db/database.js';

export interface NewCase {
  /** Opening the same key again returns the existing case (and reopens it with `reopen`). */
  key: string;
  requestId?: string | null;
  title: string;
  description?: string | null;
  queue?: string;
  priority?: string;
  person?: string | null;
  reopen?: boolean;
}

/** Opens a case (or finds the one with the same key); returns its reference and whether it is new. */
export async function openCase(q: Queryable, c: NewCase): Promise<{ ref: string; created: boolean }> {
  const r = await q.query<{ ref: string; created: boolean }>(
    `INSERT INTO cases (ref, idempotency_key, request_id, title, description, queue, priority, person_email)
     VALUES ('CASE-' || lpad(nextval('case_ref_seq')::text, 6, '0'), $1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (idempotency_key) DO ${c.reopen ? "UPDATE SET status = 'open'" : 'NOTHING'} RETURNING ref, (xmax = 0) AS created`,
    [c.key, c.requestId ?? null, c.title, c.description ?? null, c.queue || 'service-desk', c.priority || 'normal', c.person || null]);
  if (r.rows[0]) return { ref: r.rows[0].ref, created: r.rows[0].created };
  const existing = await q.query<{ ref: string }>('SELECT ref FROM cases WHERE idempotency_key = $1', [c.key]);
  return { ref: existing.rows[0]!.ref, created: false };
}
