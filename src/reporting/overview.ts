/**
 * The dashboard's front page, as of `now`: today's volume (UTC day), open requests by status, open
 * requests at risk of missing their response-time target (at least `riskAt` of it used, breached
 * ones first), the triage queue and open manual work.
 */
import type { Queryable } from '../db/database.js';
import { OPEN_STATUSES } from '../requests/request.repository.js';
import { dayOf, hours, startOfDay, targetSecondsSql } from './period.js';

export interface SlaRisk {
  ref: string; item: string; title: string; status: string; requester: string; createdAt: Date;
  ageHours: number; targetHours: number; dueAt: Date; usedPct: number; breached: boolean;
}

export interface Overview {
  generatedAt: string;
  today: { date: string; submitted: number; fulfilled: number; failed: number };
  open: { total: number; byStatus: Record<string, number> };
  slaRisk: SlaRisk[];
  triage: { open: number; oldestAt: Date | null; oldestAgeHours: number | null };
  manualTasks: { open: number; oldestAt: Date | null; oldestAgeHours: number | null };
}

/** The overview for `items` (null = all), as of `now`. `riskAt` is the share of the target used (default 0.75). */
export async function overview(q: Queryable, o: { now: Date; items: string[] | null; riskAt?: number; limit?: number }): Promise<Overview> {
  const day = startOfDay(o.now);
  const today = (await q.query<{ submitted: number; fulfilled: number; failed: number }>(
    `SELECT count(*) FILTER (WHERE created_at >= $1 AND created_at < $2)::int AS submitted,
       count(*) FILTER (WHERE status = 'fulfilled' AND completed_at >= $1 AND completed_at < $2)::int AS fulfilled,
       count(*) FILTER (WHERE status = 'failed' AND completed_at >= $1 AND completed_at < $2)::int AS failed
     FROM requests WHERE ((created_at >= $1 AND created_at < $2) OR (completed_at >= $1 AND completed_at < $2)) AND ($3::text[] IS NULL OR item_id = ANY($3))`,
    [day, o.now, o.items])).rows[0]!;
  const open = (await q.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM requests WHERE status = ANY($1) AND ($2::text[] IS NULL OR item_id = ANY($2)) GROUP BY status`, [OPEN_STATUSES, o.items])).rows;
  const risk = (await q.query<{ ref: string; item_id: string; title: string | null; status: string; requester_email: string; created_at: Date; age: number; target: number }>(
    `SELECT * FROM (
       SELECT r.ref, r.item_id, r.item_snapshot->>'title' AS title, r.status, r.requester_email, r.created_at,
         EXTRACT(EPOCH FROM ($1::timestamptz - r.created_at))::float8 AS age, ${targetSecondsSql(`(r.item_snapshot->>'responseTime')`)} AS target
       FROM requests r WHERE r.status = ANY($2) AND ($3::text[] IS NULL OR r.item_id = ANY($3))) x
     WHERE target IS NOT NULL AND age >= $4::float8 * target ORDER BY age / target DESC, ref LIMIT $5`,
    [o.now, OPEN_STATUSES, o.items, o.riskAt ?? 0.75, o.limit ?? 50])).rows;
  const triage = (await q.query<{ n: number; oldest: Date | null }>(`SELECT count(*)::int AS n, min(created_at) AS oldest FROM triage_items WHERE status = 'open'`)).rows[0]!;
  const manual = (await q.query<{ n: number; oldest: Date | null }>(
    `SELECT count(*)::int AS n, min(c.created_at) AS oldest FROM cases c JOIN requests r ON r.id = c.request_id WHERE c.status <> 'closed' AND ($1::text[] IS NULL OR r.item_id = ANY($1))`, [o.items])).rows[0]!;
  const age = (d: Date | null) => (d ? hours((o.now.getTime() - new Date(d).getTime()) / 1000) : null);
  return {
    generatedAt: o.now.toISOString(),
    today: { date: dayOf(day), ...today },
    open: { total: open.reduce((a, x) => a + x.n, 0), byStatus: Object.fromEntries(OPEN_STATUSES.map((s) => [s, open.find((x) => x.status === s)?.n ?? 0])) },
    slaRisk: risk.map((x) => ({
      ref: x.ref, item: x.item_id, title: x.title ?? x.item_id, status: x.status, requester: x.requester_email, createdAt: x.created_at,
      ageHours: hours(x.age)!, targetHours: hours(x.target)!, dueAt: new Date(new Date(x.created_at).getTime() + x.target * 1000),
      usedPct: Math.round((x.age / x.target) * 1000) / 10, breached: x.age > x.target,
    })),
    triage: { open: triage.n, oldestAt: triage.oldest, oldestAgeHours: age(triage.oldest) },
    manualTasks: { open: manual.n, oldestAt: manual.oldest, oldestAgeHours: age(manual.oldest) },
  };
}
