/**
 * Fulfilment failures over a period [from, to): counts by root-cause category and outcome, the same
 * error grouped by item, step, category and error signature (the message with numbers, ids, uuids,
 * e-mails and quoted values stripped, see rca.ts), most frequent first, and the latest failures with
 * their ids (for changing a category).
 */
import type { Queryable } from '../db/database.js';
import type { Period } from './period.js';
import type { RcaCategory } from './rca.js';

export interface RecurringError {
  item: string;
  step: string | null;
  category: RcaCategory;
  signature: string;
  /** Failures with this signature. */
  count: number;
  /** Distinct requests they hit. */
  requests: number;
  firstAt: Date;
  lastAt: Date;
  /** The latest message in full. */
  example: string;
  errorClass: string;
  statusCode: number | null;
}

export interface FailureRow {
  id: number; ref: string; item: string; step: string | null; outcome: 'failed' | 'manual' | 'refused'; category: RcaCategory; reason: string;
  source: 'auto' | 'fulfiller'; autoCategory: RcaCategory; categorisedBy: string | null; error: string; signature: string; occurredAt: Date;
}

export interface FailureReport {
  from: string;
  to: string;
  total: number;
  byCategory: Record<RcaCategory, number>;
  byOutcome: Record<'failed' | 'manual' | 'refused', number>;
  recurring: RecurringError[];
  recent: FailureRow[];
}

export interface FailureQuery extends Period { items?: string[]; category?: RcaCategory; limit?: number }

const WHERE = `f.occurred_at >= $1 AND f.occurred_at < $2 AND ($3::text[] IS NULL OR f.item_id = ANY($3)) AND ($4::text IS NULL OR f.category = $4)`;

/** Recurring errors grouped by item, step, category and signature (most frequent first). */
export async function recurringErrors(q: Queryable, o: FailureQuery): Promise<RecurringError[]> {
  const r = await q.query<{ item_id: string; step_id: string | null; category: RcaCategory; signature: string; n: number; requests: number; first_at: Date; last_at: Date; example: string; error_class: string; status_code: number | null }>(
    `SELECT f.item_id, f.step_id, f.category, f.signature, count(*)::int AS n, count(DISTINCT f.request_id)::int AS requests,
       min(f.occurred_at) AS first_at, max(f.occurred_at) AS last_at,
       (array_agg(f.error ORDER BY f.occurred_at DESC, f.id DESC))[1] AS example,
       (array_agg(f.error_class ORDER BY f.occurred_at DESC, f.id DESC))[1] AS error_class,
       (array_agg(f.status_code ORDER BY f.occurred_at DESC, f.id DESC))[1] AS status_code
     FROM fulfilment_failures f WHERE ${WHERE}
     GROUP BY f.item_id, f.step_id, f.category, f.signature
     ORDER BY n DESC, last_at DESC, f.item_id, f.step_id NULLS FIRST LIMIT $5`,
    [o.from, o.to, o.items ?? null, o.category ?? null, o.limit ?? 100]);
  return r.rows.map((x) => ({
    item: x.item_id, step: x.step_id, category: x.category, signature: x.signature, count: x.n, requests: x.requests,
    firstAt: x.first_at, lastAt: x.last_at, example: x.example, errorClass: x.error_class, statusCode: x.status_code,
  }));
}

/** Counts, recurring errors and the latest failures of a period. */
export async function failureReport(q: Queryable, o: FailureQuery): Promise<FailureReport> {
  const params = [o.from, o.to, o.items ?? null, o.category ?? null];
  const counts = (await q.query<{ category: RcaCategory; outcome: 'failed' | 'manual' | 'refused'; n: number }>(
    `SELECT f.category, f.outcome, count(*)::int AS n FROM fulfilment_failures f WHERE ${WHERE} GROUP BY f.category, f.outcome`, params)).rows;
  const recent = (await q.query(
    `SELECT f.*, r.ref FROM fulfilment_failures f JOIN requests r ON r.id = f.request_id WHERE ${WHERE} ORDER BY f.occurred_at DESC, f.id DESC LIMIT 50`, params)).rows;
  const byCategory: Record<RcaCategory, number> = { process: 0, system: 0, user: 0 };
  const byOutcome = { failed: 0, manual: 0, refused: 0 };
  for (const c of counts) { byCategory[c.category] += c.n; byOutcome[c.outcome] += c.n; }
  return {
    from: o.from.toISOString(), to: o.to.toISOString(), total: counts.reduce((a, c) => a + c.n, 0), byCategory, byOutcome,
    recurring: await recurringErrors(q, o),
    recent: recent.map((x) => ({
      id: Number(x.id), ref: x.ref as string, item: x.item_id as string, step: x.step_id as string | null, outcome: x.outcome, category: x.category, reason: x.category_reason as string,
      source: x.category_source, autoCategory: x.auto_category, categorisedBy: x.categorised_by as string | null, error: x.error as string, signature: x.signature as string, occurredAt: x.occurred_at as Date,
    })),
  };
}
